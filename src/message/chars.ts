/** Character classes as lookup tables: no regular expressions on untrusted input. */
function table(chars: string, alnum: boolean): Uint8Array {
  const t = new Uint8Array(128);
  if (alnum) {
    for (let c = 48; c <= 57; c++) t[c] = 1;
    for (let c = 65; c <= 90; c++) t[c] = 1;
    for (let c = 97; c <= 122; c++) t[c] = 1;
  }
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

/** RFC 3261 token. */
export const TOKEN = table("-.!%*_+`'~", true);
/** Characters a host name or IPv4/IPv6 literal may hold (brackets handled by the caller). */
export const HOST = table('-._:', true);

/**
 * Tables over all 256 byte values, for the scanners that read bytes (see bytesOf): a byte of 128
 * or more is never a token or host character.
 */
export const TOKEN8 = new Uint8Array(256);
TOKEN8.set(TOKEN);
export const HOST8 = new Uint8Array(256);
HOST8.set(HOST);

/**
 * The scanners read bytes, not chars (typed-array reads are about twice as fast as charCodeAt):
 * they take the text `s` (for slicing) and `b`, `o` with b[o + i] standing for s.charCodeAt(i).
 * parseMessage passes the received bytes when the text maps onto them one char per byte; other
 * callers pass bytesOf(s): one byte per char, 0xFF for every char of 128 or more (no table tells
 * those apart).
 */
export function bytesOf(s: string): Buffer {
  const n = s.length;
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    b[i] = c < 128 ? c : 255;
  }
  return b;
}

/** The buffer scratchBytesOf writes into (grown when a longer string comes). */
// A Buffer, like the received bytes the same scanners read: one kind of array keeps their loads monomorphic.
let SCRATCH: Uint8Array = Buffer.allocUnsafeSlow(512);
const ENCODER = new TextEncoder();

/**
 * bytesOf(s) written into one reused buffer instead of a new one: for the parsers of a single
 * value (parseUri, parseVia, parseNameAddr...), whose scanners read the bytes and keep only
 * offsets into `s`. Valid until the next call; the byte after the string is 0 (it matches nothing
 * a scanner looks for). An ASCII string is copied by TextEncoder (native, and it reads a string
 * sliced from a message without charCodeAt's per-char indirection); any other is copied char by char.
 */
export function scratchBytesOf(s: string): Uint8Array {
  const n = s.length;
  // encodeInto may write up to 3 bytes per char of a non-ASCII string.
  if (3 * n + 1 > SCRATCH.length) SCRATCH = Buffer.allocUnsafeSlow(Math.max(3 * n + 1, SCRATCH.length * 2));
  const b = SCRATCH;
  if (ENCODER.encodeInto(s, b).written !== n) {
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      b[i] = c < 128 ? c : 255;
    }
  }
  b[n] = 0;
  return b;
}

/** `b` unless it is scratchBytesOf's buffer (which the next call overwrites). */
export const stableBytes = (b: Uint8Array): Uint8Array | undefined => (b === SCRATCH ? undefined : b);

/** Whether b[at..] starts with `word` (ASCII), compared in place (no call into the runtime, as startsWith is). */
export function bytesStartWith(b: Uint8Array, at: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (b[at + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** parseUint over bytes b[o + from .. o + to) (see bytesOf). */
export function parseUintB(b: Uint8Array, o: number, max: number, from: number, to: number): number {
  if (from >= to) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = b[o + i]! - 48;
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
    if (v > max) return -1;
  }
  return v;
}

/** 10^0..10^15, exact doubles. */
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * Number() of b[o + from .. o + to) when it is plain decimal digits with at most one '.' (at least
 * one digit, at most 15): the digits as an integer divided by a power of ten, both exact, so the
 * one rounding gives what Number() gives. -1 for any other text (the caller falls back to Number()).
 */
export function decimalB(b: Uint8Array, o: number, from: number, to: number): number {
  let m = 0;
  let digits = 0;
  let dot = -1;
  for (let i = o + from; i < o + to; i++) {
    const c = b[i]!;
    if (c === 46 && dot === -1) dot = digits;
    else {
      const d = c - 48;
      if (!(d >= 0 && d <= 9) || ++digits > 15) return -1;
      m = m * 10 + d;
    }
  }
  if (digits === 0) return -1;
  return dot === -1 ? m : m / POW10[digits - dot]!;
}

export function isToken(s: string, from = 0, to = s.length): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

export const isWs = (c: number): boolean => c === 32 || c === 9;

/**
 * `s` without leading and trailing SP/HT. Not String.prototype.trim, which also strips
 * non-SIP "white space" such as U+FEFF (a UTF-8 BOM) or U+00A0 that belong to a value.
 */
export function trimLws(s: string, from = 0, to = s.length): string {
  while (from < to && (s.charCodeAt(from) === 32 || s.charCodeAt(from) === 9)) from++;
  while (to > from && (s.charCodeAt(to - 1) === 32 || s.charCodeAt(to - 1) === 9)) to--;
  return from === 0 && to === s.length ? s : s.slice(from, to);
}

export function skipWs(s: string, i: number): number {
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

/** Decimal digits only, at most `maxDigits`, value at most `max`; else -1. */
export function parseUint(s: string, max: number, from = 0, to = s.length): number {
  if (from >= to) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    // !(c >= 0): charCodeAt past the end is NaN, which must not count as a digit.
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
    if (v > max) return -1;
  }
  return v;
}

/** Percent-decode once. Invalid escapes are kept literally (RFC 4475 esc02: "%Z%45" style text). */
export function unescapePercent(s: string): string {
  if (s.indexOf('%') === -1) return s;
  const bytes: number[] = [];
  let decoded = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && i + 2 < s.length) {
      const h = hex(s.charCodeAt(i + 1));
      const l = hex(s.charCodeAt(i + 2));
      if (h >= 0 && l >= 0) {
        bytes.push(h * 16 + l);
        i += 2;
        decoded = true;
        continue;
      }
    }
    if (c < 128) bytes.push(c);
    else {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
    }
  }
  return decoded ? Buffer.from(bytes).toString('utf8') : s;
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}
