import { SipParseError } from './errors.js';
import { isToken, skipWs, TOKEN } from './chars.js';

export type Params = Map<string, string | null>;

/**
 * Parse `;name[=value]` parameters from `s` starting at `i` (which points at ';' or the end),
 * allowing LWS around ';' and '='. Names are lower-cased (they are case-insensitive); values are
 * tokens, hosts or quoted strings (quotes kept). Stops at `stop` (a char code such as ',' or '?')
 * or the end, and returns the index where it stopped. Empty names are errors (RFC 4475 badinv01).
 */
export function parseParams(s: string, i: number, into: Params, what: string, stop = -1): number {
  const n = s.length;
  for (;;) {
    i = skipWs(s, i);
    if (i >= n) return i;
    const c = s.charCodeAt(i);
    if (c === stop) return i;
    if (c !== 59 /* ; */) throw new SipParseError(`Malformed ${what} parameters`);
    i = skipWs(s, i + 1);
    const nameStart = i;
    while (i < n) {
      const d = s.charCodeAt(i);
      if (d >= 128 || TOKEN[d] === 0) break;
      i++;
    }
    if (i === nameStart) throw new SipParseError(`Empty ${what} parameter`);
    const name = s.slice(nameStart, i).toLowerCase();
    i = skipWs(s, i);
    if (i < n && s.charCodeAt(i) === 61 /* = */) {
      i = skipWs(s, i + 1);
      if (i < n && s.charCodeAt(i) === 34) {
        const end = quotedEnd(s, i);
        if (end < 0) throw new SipParseError(`Unterminated quoted ${what} parameter`);
        into.set(name, s.slice(i, end));
        i = end;
      } else {
        const vStart = i;
        // token, host (IPv6 reference with brackets and colons) — anything up to a delimiter.
        while (i < n) {
          const d = s.charCodeAt(i);
          if (d === 59 || d === 32 || d === 9 || d === stop || d === 44 || d === 62 || d === 60 || d === 34) break;
          i++;
        }
        if (i === vStart) throw new SipParseError(`Empty ${what} parameter value`);
        into.set(name, s.slice(vStart, i));
      }
    } else {
      into.set(name, null);
    }
  }
}

/** Index just past the closing quote of the quoted-string opening at `i`, or -1. */
export function quotedEnd(s: string, i: number): number {
  const n = s.length;
  for (i++; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i + 1;
  }
  return -1;
}

/** The contents of a quoted-string with its quoted-pairs resolved. */
export function unquote(q: string): string {
  if (q.length < 2 || q.charCodeAt(0) !== 34) return q;
  const inner = q.slice(1, -1);
  if (inner.indexOf('\\') === -1) return inner;
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c === '\\' && i + 1 < inner.length) out += inner[++i];
    else out += c;
  }
  return out;
}

export function formatParams(params: Params): string {
  let s = '';
  for (const [k, v] of params) s += v === null ? ';' + k : ';' + k + '=' + v;
  return s;
}

export { isToken };
