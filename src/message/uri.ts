import { SipParseError } from './errors.js';
import { HOST8, parseUintB, scratchBytesOf, unescapePercent } from './chars.js';
import type { Params } from './params.js';
import { uriWord } from './uri-words.js';

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

/**
 * The URI string a parsed name-addr handed out last (see name-addr.ts) and where it lies in bytes
 * that stay as they are (a parsed message's received bytes, which its lazy views read too): parseUri
 * of that string (a route's URI, read right after the route) reads them in place instead of copying
 * the string to bytes again. Equal strings parse alike, so an equal string may take this path too.
 */
interface Link {
  s: string;
  src: string;
  b: Uint8Array | undefined;
  o: number;
  from: number;
}
// A new small object per link, stored with one write (each new value stored into a long-lived
// object costs a write barrier: one here instead of three).
let LINK: Link = { s: '', src: '', b: undefined, o: 0, from: 0 };

/** Note that `s` is src[from..from + s.length), b[o + i] standing for src[i] (see parseSipUriAt). */
export function linkUri(s: string, src: string, b: Uint8Array, o: number, from: number): void {
  LINK = { s, src, b, o, from };
}

export function parseUri(s: string): SipUri {
  const link = LINK;
  if (s === link.s && link.b !== undefined) {
    const u = parseSipUriAt(link.src, link.b, link.o, link.from, link.from + s.length);
    if (u !== undefined) return u;
  }
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

/** Host characters but ':' (which ends a host), for the four-bytes-a-step run. */
const HOST_RUN = HOST8.map((k, c) => (k === 1 && c !== 58 ? 1 : 0));

/** Whitespace and controls (refused anywhere in a SIP URI). */
const CTL8 = new Uint8Array(256);
for (let c = 0; c <= 32; c++) CTL8[c] = 1;
CTL8[127] = 1;

/** Userinfo bytes: controls and whitespace 1, ':' 2, '%' 4 (see sipIn). */
const USER8 = CTL8.slice();
USER8[58] = 2;
USER8[37] = 4;

/**
 * A SIP URI is refused for whitespace or a control character before anything else; the loops
 * below notice one where they stand, and every error is reported through here, so the verdict is
 * the same as a first pass over the whole URI would give (without that pass on the usual URI).
 */
function failSip(b: Uint8Array, o: number, start: number, n: number, why: string): never {
  for (let i = start; i < n; i++) if (CTL8[b[o + i]!] === 1) throw bad('whitespace or control character');
  throw bad(why);
}

function parseSip(s: string, start: number, scheme: string): SipUri {
  // The scanners read bytes (see scratchBytesOf): one copy, then typed-array reads.
  return sipIn(s, scratchBytesOf(s), 0, start, s.length, scheme);
}

/**
 * A SIP or SIPS URI in place: s[start..n) after "sip:" / "sips:", b[o + i] standing for s[i] (the
 * received bytes of a message whose text maps one char per byte), so that the Request-URI is read
 * from the message without a copy.
 */
export function parseSipUriAt(s: string, b: Uint8Array, o: number, from: number, n: number): SipUri | undefined {
  if (n - from < 5 || (b[o + from]! | 32) !== 115 || (b[o + from + 1]! | 32) !== 105 || (b[o + from + 2]! | 32) !== 112) return undefined;
  const c3 = b[o + from + 3];
  if (c3 === 58) return sipIn(s, b, o, from + 4, n, 'sip');
  if ((c3! | 32) === 115 && b[o + from + 4] === 58) return sipIn(s, b, o, from + 5, n, 'sips');
  return undefined;
}

function sipIn(s: string, b: Uint8Array, o: number, start: number, n: number, scheme: string): SipUri {
  // Every field present from the start: one object shape for every SIP URI, so that reads of
  // uri.user / uri.port stay monomorphic (fields added as found give a shape per combination).
  const uri: SipUri = { scheme, user: undefined, password: undefined, host: '', port: undefined, params: new Map(), headers: new Map() };
  let i = start;
  // userinfo ends at the first '@' (user-unreserved allows '?', ';', ':' before it: RFC 4475 intmeth).
  let at = s.indexOf('@', start);
  if (at >= n) at = -1;
  if (at !== -1) {
    // One pass: controls (refused), and whether a ':' (password) or '%' (escapes) is there at all.
    let seen = 0;
    let k = o + start;
    const ke = o + at;
    while (k + 3 < ke) {
      seen |= USER8[b[k]!]! | USER8[b[k + 1]!]! | USER8[b[k + 2]!]! | USER8[b[k + 3]!]!;
      k += 4;
    }
    while (k < ke) seen |= USER8[b[k++]!]!;
    if ((seen & 1) !== 0) failSip(b, o, start, n, '');
    const pw = (seen & 2) !== 0 ? s.indexOf(':', start) : -1;
    const pct = (seen & 4) !== 0;
    if (pw !== -1 && pw < at) {
      uri.user = pct ? unescapePercent(s.slice(start, pw)) : s.slice(start, pw);
      uri.password = pct ? unescapePercent(s.slice(pw + 1, at)) : s.slice(pw + 1, at);
    } else {
      uri.user = pct ? unescapePercent(s.slice(start, at)) : s.slice(start, at);
    }
    i = at + 1;
  }
  // host
  if (i < n && b[o + i] === 91 /* [ */) {
    let close = s.indexOf(']', i);
    if (close >= n) close = -1;
    if (close === -1) failSip(b, o, start, n, 'unterminated IPv6 reference');
    for (let k = i + 1; k < close; k++) {
      const c = b[o + k]!;
      if (!((c >= 48 && c <= 58) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 46)) failSip(b, o, start, n, 'bad IPv6 reference');
    }
    uri.host = s.slice(i + 1, close);
    i = close + 1;
  } else {
    const hs = i;
    // Four host bytes a step (':' ends a host here), then one at a time up to the byte that ends it.
    while (i + 3 < n && (HOST_RUN[b[o + i]!]! & HOST_RUN[b[o + i + 1]!]! & HOST_RUN[b[o + i + 2]!]! & HOST_RUN[b[o + i + 3]!]!) === 1) i += 4;
    while (i < n) {
      const c = b[o + i]!;
      if (c === 58 || c === 59 || c === 63) break;
      if (HOST8[c] === 0) failSip(b, o, start, n, 'bad host');
      i++;
    }
    uri.host = s.slice(hs, i);
  }
  if (uri.host.length === 0) failSip(b, o, start, n, 'empty host');
  if (i < n && b[o + i] === 58) {
    const ps = ++i;
    while (i < n && b[o + i] !== 59 && b[o + i] !== 63) i++;
    const port = parseUintB(b, o, 65535, ps, i);
    if (port < 0) failSip(b, o, start, n, 'bad port');
    uri.port = port;
  }
  if (i < n && b[o + i] === 59) {
    i = uriParams(s, b, o, i, n, uri.params, true);
    if (i < 0) failSip(b, o, start, n, -i === 1 ? 'empty parameter' : 'empty parameter value');
  }
  if (i < n && b[o + i] === 63) {
    for (let k = i; k < n; k++) if (CTL8[b[o + k]!] === 1) failSip(b, o, start, n, '');
    for (const pair of s.slice(i + 1, n).split('&')) {
      if (pair.length === 0) continue;
      const eq = pair.indexOf('=');
      const name = unescapePercent(eq === -1 ? pair : pair.slice(0, eq));
      uri.headers.set(name, eq === -1 ? '' : unescapePercent(pair.slice(eq + 1)));
    }
  } else if (i < n) failSip(b, o, start, n, 'trailing characters');
  return uri;
}

/** URI parameters of a tel: URI (see uriParams). */
function parseUriParams(s: string, i: number, into: Params): number {
  const end = uriParams(s, scratchBytesOf(s), 0, i, s.length, into, false);
  if (end < 0) throw bad(end === -1 ? 'empty parameter' : 'empty parameter value');
  return end;
}

/**
 * URI parameters from the ';' at `i` up to '?' or the end (b[i] stands for s[i], see
 * scratchBytesOf); returns where it stopped, or -1 for an empty name, -2 for an empty value, -3
 * for whitespace or a control character when `ctl` (a SIP URI refuses them; tel: is read liberally). Names and values are paramchar (RFC 3261 §19.1.1:
 * unreserved, escaped, and "[]/:&+$"), read liberally as anything but ';', '=' (in names) and '?';
 * each is unescaped once and names are lower-cased.
 */
function uriParams(s: string, b: Uint8Array, o: number, i: number, n: number, into: Params, ctl: boolean): number {
  while (i < n && b[o + i] === 59) {
    const ns = ++i;
    // Upper-case or non-ASCII letters or a '%' in the name: it needs lower-casing or unescaping (rare).
    let odd = false;
    while (i < n) {
      const c = b[o + i]!;
      if (c === 59 || c === 61 || c === 63) break;
      if (c === 37 || (c >= 65 && c <= 90) || c >= 128) odd = true;
      else if (ctl && CTL8[c] === 1) return -3;
      i++;
    }
    if (i === ns) return -1;
    const name = odd ? unescapePercent(s.slice(ns, i)).toLowerCase() : (uriWord(b, o, ns, i) ?? s.slice(ns, i));
    if (i < n && b[o + i] === 61) {
      const vs = ++i;
      let pct = false;
      while (i < n) {
        const c = b[o + i]!;
        if (c === 59 || c === 63) break;
        if (c === 37) pct = true;
        else if (ctl && CTL8[c] === 1) return -3;
        i++;
      }
      if (i === vs) return -2;
      into.set(name, pct ? unescapePercent(s.slice(vs, i)) : (uriWord(b, o, vs, i) ?? s.slice(vs, i)));
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
