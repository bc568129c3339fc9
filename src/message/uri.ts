import { SipParseError } from './errors.js';
import { HOST8, parseUintB, scratchBytesOf, unescapePercent } from './chars.js';
import type { Params } from './params.js';

/** A parsed URI. SIP/SIPS fill user..headers; TEL fills `user` (the number) and params; other schemes keep `opaque`. */
export interface SipUri {
  scheme: string;
  user?: string;
  password?: string;
  /** Host name or address; IPv6 without brackets. Empty for non-SIP schemes. */
  host: string;
  port?: number;
  params: Params;
  headers: Map<string, string>;
  /** Everything after "scheme:" for schemes we do not interpret. */
  opaque?: string;
}

const bad = (why: string): SipParseError => new SipParseError(`Malformed URI: ${why}`);

export function parseUri(s: string): SipUri {
  // sip: and sips: (any case) without slicing the scheme.
  const c0 = s.charCodeAt(0) | 32;
  if (c0 === 115 && (s.charCodeAt(1) | 32) === 105 && (s.charCodeAt(2) | 32) === 112) {
    const c3 = s.charCodeAt(3);
    if (c3 === 58) return parseSip(s, 4, 'sip');
    if ((c3 | 32) === 115 && s.charCodeAt(4) === 58) return parseSip(s, 5, 'sips');
  }
  const colon = s.indexOf(':');
  if (colon <= 0) throw bad('no scheme');
  const scheme = s.slice(0, colon).toLowerCase();
  for (let i = 0; i < colon; i++) {
    const c = scheme.charCodeAt(i);
    const ok = (c >= 97 && c <= 122) || (i > 0 && ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46));
    if (!ok) throw bad('bad scheme');
  }
  if (scheme === 'sip' || scheme === 'sips') return parseSip(s, colon + 1, scheme);
  if (scheme === 'tel') {
    const semi = s.indexOf(';', colon + 1);
    const number = s.slice(colon + 1, semi === -1 ? s.length : semi);
    if (number.length === 0) throw bad('empty telephone number');
    const params: Params = new Map();
    if (semi !== -1 && parseUriParams(s, semi, params) < s.length) throw bad('trailing characters');
    return { scheme, user: unescapePercent(number), host: '', params, headers: new Map() };
  }
  return { scheme, host: '', params: new Map(), headers: new Map(), opaque: s.slice(colon + 1) };
}

function parseSip(s: string, start: number, scheme: string): SipUri {
  const n = s.length;
  // The scanners read bytes (see scratchBytesOf): one copy, then typed-array reads.
  const b = scratchBytesOf(s);
  // One pass: whitespace and controls refused, the first '@' and the first ':' noted.
  let at = -1;
  let pw = -1;
  for (let i = start; i < n; i++) {
    const c = b[i]!;
    if (c <= 64) {
      if (c <= 32) throw bad('whitespace or control character');
      if (c === 64) {
        if (at === -1) at = i;
      } else if (c === 58 && pw === -1) pw = i;
    } else if (c === 127) throw bad('whitespace or control character');
  }
  const uri: SipUri = { scheme, host: '', params: new Map(), headers: new Map() };
  let i = start;
  // userinfo ends at the first '@' (user-unreserved allows '?', ';', ':' before it: RFC 4475 intmeth).
  if (at !== -1) {
    if (pw !== -1 && pw < at) {
      uri.user = unescapePercent(s.slice(start, pw));
      uri.password = unescapePercent(s.slice(pw + 1, at));
    } else {
      uri.user = unescapePercent(s.slice(start, at));
    }
    i = at + 1;
  }
  // host
  if (i < n && b[i] === 91 /* [ */) {
    const close = s.indexOf(']', i);
    if (close === -1) throw bad('unterminated IPv6 reference');
    for (let k = i + 1; k < close; k++) {
      const c = b[k]!;
      if (!((c >= 48 && c <= 58) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 46)) throw bad('bad IPv6 reference');
    }
    uri.host = s.slice(i + 1, close);
    i = close + 1;
  } else {
    const hs = i;
    while (i < n) {
      const c = b[i]!;
      if (c === 58 || c === 59 || c === 63) break;
      if (HOST8[c] === 0) throw bad('bad host');
      i++;
    }
    uri.host = s.slice(hs, i);
  }
  if (uri.host.length === 0) throw bad('empty host');
  if (i < n && b[i] === 58) {
    const ps = ++i;
    while (i < n && b[i] !== 59 && b[i] !== 63) i++;
    const port = parseUintB(b, 0, 65535, ps, i);
    if (port < 0) throw bad('bad port');
    uri.port = port;
  }
  if (i < n && b[i] === 59) i = uriParams(s, b, i, uri.params);
  if (i < n && b[i] === 63) {
    for (const pair of s.slice(i + 1).split('&')) {
      if (pair.length === 0) continue;
      const eq = pair.indexOf('=');
      const name = unescapePercent(eq === -1 ? pair : pair.slice(0, eq));
      uri.headers.set(name, eq === -1 ? '' : unescapePercent(pair.slice(eq + 1)));
    }
  } else if (i < n) throw bad('trailing characters');
  return uri;
}

/** URI parameters of a tel: URI (see uriParams). */
function parseUriParams(s: string, i: number, into: Params): number {
  return uriParams(s, scratchBytesOf(s), i, into);
}

/**
 * URI parameters from the ';' at `i` up to '?' or the end (b[i] stands for s[i], see
 * scratchBytesOf); returns where it stopped. Names and values are paramchar (RFC 3261 §19.1.1:
 * unreserved, escaped, and "[]/:&+$"), read liberally as anything but ';', '=' (in names) and '?'
 * (whitespace was rejected before); each is unescaped once and names are lower-cased. Empty names
 * or values are errors.
 */
function uriParams(s: string, b: Uint8Array, i: number, into: Params): number {
  const n = s.length;
  while (i < n && b[i] === 59) {
    const ns = ++i;
    // Upper-case or non-ASCII letters or a '%' in the name: it needs lower-casing or unescaping (rare).
    let odd = false;
    while (i < n) {
      const c = b[i]!;
      if (c === 59 || c === 61 || c === 63) break;
      if (c === 37 || (c >= 65 && c <= 90) || c >= 128) odd = true;
      i++;
    }
    if (i === ns) throw bad('empty parameter');
    const name = odd ? unescapePercent(s.slice(ns, i)).toLowerCase() : s.slice(ns, i);
    if (i < n && b[i] === 61) {
      const vs = ++i;
      let pct = false;
      while (i < n) {
        const c = b[i]!;
        if (c === 59 || c === 63) break;
        if (c === 37) pct = true;
        i++;
      }
      if (i === vs) throw bad('empty parameter value');
      const v = s.slice(vs, i);
      into.set(name, pct ? unescapePercent(v) : v);
    } else into.set(name, null);
  }
  return i;
}

// RFC 3261 §25.1: unreserved plus the user-unreserved / param-unreserved / hnv-unreserved marks.
const UNRESERVED = "-_.!~*'()";
function escaper(extra: string): (s: string) => string {
  const ok = new Uint8Array(128);
  for (let c = 48; c <= 57; c++) ok[c] = 1;
  for (let c = 65; c <= 90; c++) ok[c] = 1;
  for (let c = 97; c <= 122; c++) ok[c] = 1;
  for (const ch of UNRESERVED + extra) ok[ch.charCodeAt(0)] = 1;
  return (s) => {
    let plain = true;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128 || ok[c] === 0) {
        plain = false;
        break;
      }
    }
    if (plain) return s;
    let out = '';
    for (const b of Buffer.from(s, 'utf8')) {
      out += b < 128 && ok[b] === 1 ? String.fromCharCode(b) : '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
    }
    return out;
  };
}
const escUser = escaper('&=+$,;?/');
const escPassword = escaper('&=+$,');
const escParam = escaper('[]/:&+$');
const escHeader = escaper('[]/?:+$');

export function formatUri(u: SipUri): string {
  if (u.opaque !== undefined) return u.scheme + ':' + u.opaque;
  let s = u.scheme + ':';
  if (u.scheme === 'tel') s += u.user ?? '';
  else {
    if (u.user !== undefined) {
      s += escUser(u.user);
      if (u.password !== undefined) s += ':' + escPassword(u.password);
      s += '@';
    }
    s += u.host.indexOf(':') !== -1 ? '[' + u.host + ']' : u.host;
    if (u.port !== undefined) s += ':' + u.port;
  }
  for (const [k, v] of u.params) s += ';' + escParam(k) + (v === null ? '' : '=' + escParam(v));
  let first = true;
  for (const [k, v] of u.headers) {
    s += (first ? '?' : '&') + escHeader(k) + '=' + escHeader(v);
    first = false;
  }
  return s;
}
