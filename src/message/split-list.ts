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

/**
 * splitList over s[from..to), without slicing: pushes a [start, end) pair per element into `out`
 * (LWS trimmed; empty elements kept).
 */
export function splitRanges(s: string, from: number, to: number, out: number[]): void {
  let start = from;
  let inQuote = false;
  let inAngle = false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (inQuote) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inQuote = false;
    } else if (c === 34) inQuote = true;
    else if (c === 60 /* < */) inAngle = true;
    else if (c === 62 /* > */) inAngle = false;
    else if (c === 44 /* , */ && !inAngle) {
      pushTrimmed(s, start, i, out);
      start = i + 1;
    }
  }
  pushTrimmed(s, start, to, out);
}

function pushTrimmed(s: string, from: number, to: number, out: number[]): void {
  while (from < to && (s.charCodeAt(from) === 32 || s.charCodeAt(from) === 9)) from++;
  while (to > from && (s.charCodeAt(to - 1) === 32 || s.charCodeAt(to - 1) === 9)) to--;
  out.push(from, to);
}
