import { SipParseError } from './errors.js';
import { HOST, parseUint, unescapePercent } from './chars.js';
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
  const uri: SipUri = { scheme, host: '', params: new Map(), headers: new Map() };
  for (let i = start; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 127) throw bad('whitespace or control character');
  }
  let i = start;
  const at = s.indexOf('@', start);
  // userinfo ends at the first '@' (user-unreserved allows '?', ';', ':' before it: RFC 4475 intmeth).
  if (at !== -1) {
    const pw = s.indexOf(':', start);
    if (pw !== -1 && pw < at) {
      uri.user = unescapePercent(s.slice(start, pw));
      uri.password = unescapePercent(s.slice(pw + 1, at));
    } else {
      uri.user = unescapePercent(s.slice(start, at));
    }
    i = at + 1;
  }
  // host
  if (i < n && s.charCodeAt(i) === 91 /* [ */) {
    const close = s.indexOf(']', i);
    if (close === -1) throw bad('unterminated IPv6 reference');
    uri.host = s.slice(i + 1, close);
    for (let k = 0; k < uri.host.length; k++) {
      const c = uri.host.charCodeAt(k);
      if (!((c >= 48 && c <= 58) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 46)) throw bad('bad IPv6 reference');
    }
    i = close + 1;
  } else {
    const hs = i;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 58 || c === 59 || c === 63) break;
      if (c >= 128 || HOST[c] === 0) throw bad('bad host');
      i++;
    }
    uri.host = s.slice(hs, i);
  }
  if (uri.host.length === 0) throw bad('empty host');
  if (i < n && s.charCodeAt(i) === 58) {
    const ps = ++i;
    while (i < n && s.charCodeAt(i) !== 59 && s.charCodeAt(i) !== 63) i++;
    const port = parseUint(s, 65535, ps, i);
    if (port < 0) throw bad('bad port');
    uri.port = port;
  }
  if (i < n && s.charCodeAt(i) === 59) i = parseUriParams(s, i, uri.params);
  if (i < n && s.charCodeAt(i) === 63) {
    for (const pair of s.slice(i + 1).split('&')) {
      if (pair.length === 0) continue;
      const eq = pair.indexOf('=');
      const name = unescapePercent(eq === -1 ? pair : pair.slice(0, eq));
      uri.headers.set(name, eq === -1 ? '' : unescapePercent(pair.slice(eq + 1)));
    }
  } else if (i < n) throw bad('trailing characters');
  return uri;
}

/**
 * URI parameters from the ';' at `i` up to '?' or the end; returns where it stopped. Names and
 * values are paramchar (RFC 3261 §19.1.1: unreserved, escaped, and "[]/:&+$"), read liberally as
 * anything but ';', '=' (in names) and '?' (whitespace was rejected before); each is unescaped once
 * and names are lower-cased. Empty names or values are errors.
 */
function parseUriParams(s: string, i: number, into: Params): number {
  const n = s.length;
  while (i < n && s.charCodeAt(i) === 59) {
    const ns = ++i;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 59 || c === 61 || c === 63) break;
      i++;
    }
    if (i === ns) throw bad('empty parameter');
    const name = unescapePercent(s.slice(ns, i)).toLowerCase();
    if (i < n && s.charCodeAt(i) === 61) {
      const vs = ++i;
      while (i < n) {
        const c = s.charCodeAt(i);
        if (c === 59 || c === 63) break;
        i++;
      }
      if (i === vs) throw bad('empty parameter value');
      into.set(name, unescapePercent(s.slice(vs, i)));
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
