import { SipParseError } from './errors.js';
import { isToken, TOKEN, TOKEN8 } from './chars.js';
import { paramWord } from './uri-words.js';

export type Params = Map<string, string | null>;

/**
 * Parse `;name[=value]` parameters from `s` starting at `i` (which points at ';' or the end),
 * allowing LWS around ';' and '='. Names are lower-cased (they are case-insensitive); values are
 * tokens, hosts or quoted strings (quotes kept). Stops at `stop` (a char code such as ',' or '?')
 * or `end`, and returns the index where it stopped. Empty names are errors (RFC 4475 badinv01).
 */
/** Characters that end an unquoted parameter value: ';' SP HT ',' '<' '>' '"'. */
const VALUE_END = new Uint8Array(128);
for (const ch of '; \t,<>"') VALUE_END[ch.charCodeAt(0)] = 1;

export function parseParams(s: string, i: number, into: Params, what: string, stop = -1, end = s.length): number {
  const n = end;
  let c = 0;
  for (;;) {
    while (i < n && ((c = s.charCodeAt(i)) === 32 || c === 9)) i++;
    if (i >= n || c === stop) return i;
    if (c !== 59 /* ; */) throw new SipParseError(`Malformed ${what} parameters`);
    i++;
    while (i < n && ((c = s.charCodeAt(i)) === 32 || c === 9)) i++;
    const nameStart = i;
    let upper = false;
    while (i < n) {
      c = s.charCodeAt(i);
      if (c >= 128 || TOKEN[c] === 0) break;
      if (c >= 65 && c <= 90) upper = true;
      i++;
    }
    if (i === nameStart) throw new SipParseError(`Empty ${what} parameter`);
    const name = upper ? s.slice(nameStart, i).toLowerCase() : s.slice(nameStart, i);
    while (i < n && ((c = s.charCodeAt(i)) === 32 || c === 9)) i++;
    if (i < n && c === 61 /* = */) {
      i++;
      while (i < n && ((c = s.charCodeAt(i)) === 32 || c === 9)) i++;
      if (i < n && c === 34) {
        const q = quotedEnd(s, i, n);
        if (q < 0) throw new SipParseError(`Unterminated quoted ${what} parameter`);
        into.set(name, s.slice(i, q));
        i = q;
      } else {
        const vStart = i;
        // token, host (IPv6 reference with brackets and colons) — anything up to a delimiter.
        while (i < n) {
          c = s.charCodeAt(i);
          if ((c < 128 && VALUE_END[c] === 1) || c === stop) break;
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

/**
 * parseParams over bytes (b[o + i] stands for s[i], see bytesOf), for a view whose parameters
 * were checked by scanParams already: the same Map, with runs of token and value bytes taken
 * four a step and quoted values by quotedEndB.
 */
export function parseParamsB(s: string, b: Uint8Array, o: number, i: number, into: Params, what: string, end: number): number {
  const n = o + end;
  let j = o + i;
  let c = 0;
  for (;;) {
    while (j < n && ((c = b[j]!) === 32 || c === 9)) j++;
    if (j >= n) return j - o;
    if (c !== 59 /* ; */) throw new SipParseError(`Malformed ${what} parameters`);
    j++;
    while (j < n && ((c = b[j]!) === 32 || c === 9)) j++;
    const k = j;
    let upper = false;
    while (j + 3 < n && (TOKEN8[b[j]!]! & TOKEN8[b[j + 1]!]! & TOKEN8[b[j + 2]!]! & TOKEN8[b[j + 3]!]!) === 1) {
      upper ||= isUpper(b[j]!) || isUpper(b[j + 1]!) || isUpper(b[j + 2]!) || isUpper(b[j + 3]!);
      j += 4;
    }
    while (j < n && TOKEN8[(c = b[j]!)] === 1) {
      if (isUpper(c)) upper = true;
      j++;
    }
    if (j === k) throw new SipParseError(`Empty ${what} parameter`);
    const name = upper ? s.slice(k - o, j - o).toLowerCase() : (paramWord(b, k, j) ?? s.slice(k - o, j - o));
    while (j < n && ((c = b[j]!) === 32 || c === 9)) j++;
    if (j < n && c === 61 /* = */) {
      j++;
      while (j < n && ((c = b[j]!) === 32 || c === 9)) j++;
      const v = j;
      if (j < n && c === 34) {
        j = quotedEndB(b, 0, j, n);
        if (j < 0) throw new SipParseError(`Unterminated quoted ${what} parameter`);
      } else {
        while (j + 3 < n && (VALUE_END8[b[j]!]! | VALUE_END8[b[j + 1]!]! | VALUE_END8[b[j + 2]!]! | VALUE_END8[b[j + 3]!]!) === 0) j += 4;
        while (j < n && VALUE_END8[b[j]!] === 0) j++;
        if (j === v) throw new SipParseError(`Empty ${what} parameter value`);
      }
      into.set(name, s.slice(v - o, j - o));
    } else into.set(name, null);
  }
}

const isUpper = (c: number): boolean => c >= 65 && c <= 90;

/**
 * Offsets of the parameters a view exposes, filled by scanParams (reused: read them before the
 * next scan). A name's value is [start, end) in the scanned string; start -1 = absent, end -1 =
 * present without a value.
 */
export const CAP = {
  /** Where the last list element read by viaElement / nameAddrElement ended: its `to`, or a ','. */
  end: 0,
  branchS: -1, branchE: -1,
  receivedS: -1, receivedE: -1,
  rportS: -1, rportE: -1,
  tagS: -1, tagE: -1,
  expiresS: -1, expiresE: -1,
  qS: -1, qE: -1,
};

/** VALUE_END over all 256 byte values. */
const VALUE_END8 = new Uint8Array(256);
VALUE_END8.set(VALUE_END);

/** '"' and '\\': the bytes a quoted-string scan stops at. */
const QUOTE8 = new Uint8Array(256);
QUOTE8[34] = QUOTE8[92] = 1;

/** quotedEnd over bytes (see bytesOf): four bytes a step up to a '"' or '\\'. */
export function quotedEndB(b: Uint8Array, o: number, i: number, end: number): number {
  let j = o + i + 1;
  const je = o + end;
  for (;;) {
    while (j + 3 < je && (QUOTE8[b[j]!]! | QUOTE8[b[j + 1]!]! | QUOTE8[b[j + 2]!]! | QUOTE8[b[j + 3]!]!) === 0) j += 4;
    while (j < je && QUOTE8[b[j]!] === 0) j++;
    if (j >= je) return -1;
    if (b[j] === 34) return j + 1 - o;
    j += 2; // a quoted-pair
  }
}

/**
 * Check the syntax of `;name[=value]` parameters exactly as parseParams reads them, without
 * building a Map, reading bytes (b[o + i] stands for s[i], see bytesOf): the values of branch,
 * received, rport, tag, expires and q (names in any case, the last occurrence wins, as in the Map)
 * are left in CAP. Stops at `stop` (a char code) or `end`; returns where it stopped.
 */
export function scanParams(b: Uint8Array, o: number, i: number, what: string, end: number, stop = -1): number {
  CAP.branchS = CAP.receivedS = CAP.rportS = CAP.tagS = CAP.expiresS = CAP.qS = -1;
  // Absolute indices into b (j = o + i): one addition less per byte read.
  const n = o + end;
  let j = o + i;
  let c = 0;
  for (;;) {
    while (j < n && ((c = b[j]!) === 32 || c === 9)) j++;
    if (j >= n || c === stop) return j - o;
    if (c !== 59 /* ; */) throw new SipParseError(`Malformed ${what} parameters`);
    j++;
    while (j < n && ((c = b[j]!) === 32 || c === 9)) j++;
    const k = j; // the name, b[k..k+nl)
    while (j + 3 < n && (TOKEN8[b[j]!]! & TOKEN8[b[j + 1]!]! & TOKEN8[b[j + 2]!]! & TOKEN8[b[j + 3]!]!) === 1) j += 4;
    while (j < n && TOKEN8[b[j]!] === 1) j++;
    if (j === k) throw new SipParseError(`Empty ${what} parameter`);
    const nl = j - k;
    while (j < n && ((c = b[j]!) === 32 || c === 9)) j++;
    let vs = -1;
    let ve = -1;
    if (j < n && c === 61 /* = */) {
      j++;
      while (j < n && ((c = b[j]!) === 32 || c === 9)) j++;
      vs = j - o;
      if (j < n && c === 34) {
        const q = quotedEndB(b, 0, j, n);
        if (q < 0) throw new SipParseError(`Unterminated quoted ${what} parameter`);
        j = q;
      } else {
        const v = j;
        // Four bytes a step while none ends the value, then one at a time.
        while (j + 3 < n && (VALUE_END8[b[j]!]! | VALUE_END8[b[j + 1]!]! | VALUE_END8[b[j + 2]!]! | VALUE_END8[b[j + 3]!]!) === 0) j += 4;
        while (j < n && VALUE_END8[b[j]!] === 0) j++;
        if (j === v) throw new SipParseError(`Empty ${what} parameter value`);
      }
      ve = j - o;
    } else vs = k - o; // present, no value (ve stays -1)
    // The names are compared letter by letter in place (x | 32 folds the case of a letter): a
    // call to a comparison helper per parameter costs more than the comparison itself.
    switch (nl) {
      case 1:
        if ((b[k]! | 32) === 113) (CAP.qS = vs), (CAP.qE = ve);
        break;
      case 3:
        if ((b[k]! | 32) === 116 && (b[k + 1]! | 32) === 97 && (b[k + 2]! | 32) === 103) (CAP.tagS = vs), (CAP.tagE = ve);
        break;
      case 5:
        if (
          (b[k]! | 32) === 114 && (b[k + 1]! | 32) === 112 && (b[k + 2]! | 32) === 111 && (b[k + 3]! | 32) === 114 &&
          (b[k + 4]! | 32) === 116
        ) (CAP.rportS = vs), (CAP.rportE = ve);
        break;
      case 6:
        if (
          (b[k]! | 32) === 98 && (b[k + 1]! | 32) === 114 && (b[k + 2]! | 32) === 97 &&
          (b[k + 3]! | 32) === 110 && (b[k + 4]! | 32) === 99 && (b[k + 5]! | 32) === 104
        ) (CAP.branchS = vs), (CAP.branchE = ve);
        break;
      case 7:
        if (
          (b[k]! | 32) === 101 && (b[k + 1]! | 32) === 120 && (b[k + 2]! | 32) === 112 && (b[k + 3]! | 32) === 105 &&
          (b[k + 4]! | 32) === 114 && (b[k + 5]! | 32) === 101 && (b[k + 6]! | 32) === 115
        ) (CAP.expiresS = vs), (CAP.expiresE = ve);
        break;
      case 8:
        if (
          (b[k]! | 32) === 114 && (b[k + 1]! | 32) === 101 && (b[k + 2]! | 32) === 99 && (b[k + 3]! | 32) === 101 &&
          (b[k + 4]! | 32) === 105 && (b[k + 5]! | 32) === 118 && (b[k + 6]! | 32) === 101 && (b[k + 7]! | 32) === 100
        ) (CAP.receivedS = vs), (CAP.receivedE = ve);
        break;
    }
  }
}

/** The captured value [start, end) of s as a string; undefined when absent or without a value. */
export const capValue = (s: string, start: number, end: number): string | undefined => (start < 0 || end < 0 ? undefined : s.slice(start, end));

/** Index just past the closing quote of the quoted-string opening at `i`, or -1. */
export function quotedEnd(s: string, i: number, end = s.length): number {
  const n = end;
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
