import { trimLws } from './chars.js';

/**
 * Split a header value at the commas that separate list elements (RFC 3261 §7.3.1):
 * commas inside a quoted-string (with its quoted-pairs) or inside <...> do not split.
 * Elements are trimmed of surrounding whitespace; empty elements are kept, so that a
 * malformed list such as ";;,,;" reaches the element parser, which rejects it.
 */
export function splitList(value: string, out: string[]): void {
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inQuote = false;
    } else if (c === 34) inQuote = true;
    else if (c === 60 /* < */) inAngle = true;
    else if (c === 62 /* > */) inAngle = false;
    else if (c === 44 /* , */ && !inAngle) {
      out.push(trimLws(value, start, i));
      start = i + 1;
    }
  }
  out.push(start === 0 ? value : trimLws(value, start));
}
