import { SipParseError } from './errors.js';
import { isWs, parseUint, skipWs, TOKEN } from './chars.js';
import { formatParams, parseParams, quotedEnd, unquote, type Params } from './params.js';
import { parseUri, type SipUri } from './uri.js';

/** From, To, Contact, Route, Record-Route...: `[display-name] <uri>;params` or `uri;params`. */
export interface NameAddr {
  /** Display name, unquoted; undefined when absent. */
  displayName?: string;
  /** The addr-spec as written (not unescaped). Use `parseUri` (or `uriOf`) for its parts. */
  uri: string;
  /** Header parameters (after the URI), names lower-cased. */
  params: Params;
  tag?: string;
}

export interface Contact extends NameAddr {
  /** `Contact: *` (REGISTER removing every binding). */
  star?: boolean;
  /** `expires` parameter when it is a valid number (out-of-range values are ignored, RFC 4475 scalar02). */
  expires?: number;
  /** `q` parameter, 0..1. */
  q?: number;
}

const bad = (what: string, why: string): SipParseError => new SipParseError(`Malformed ${what}: ${why}`);

export function parseNameAddr(s: string, what = 'name-addr'): NameAddr {
  const n = s.length;
  let i = skipWs(s, 0);
  let displayName: string | undefined;
  let uri: string;
  if (i < n && s.charCodeAt(i) === 34) {
    const end = quotedEnd(s, i);
    if (end < 0) throw bad(what, 'unterminated quoted display name');
    displayName = unquote(s.slice(i, end));
    i = skipWs(s, end);
    if (s.charCodeAt(i) !== 60) throw bad(what, 'expected <');
  }
  const lt = displayName === undefined ? s.indexOf('<', i) : i;
  if (lt !== -1) {
    if (displayName === undefined) {
      // Unquoted display name: tokens separated by LWS (RFC 4475 lwsdisp allows none before '<').
      let end = lt;
      while (end > i && isWs(s.charCodeAt(end - 1))) end--;
      for (let k = i; k < end; k++) {
        const c = s.charCodeAt(k);
        if (!isWs(c) && (c >= 128 || TOKEN[c] === 0)) throw bad(what, 'display name is neither token nor quoted string');
      }
      if (end > i) displayName = s.slice(i, end);
    }
    const gt = s.indexOf('>', lt + 1);
    if (gt === -1) throw bad(what, 'missing >');
    uri = s.slice(lt + 1, gt);
    i = gt + 1;
  } else {
    // addr-spec form: the URI ends at the first ';' and cannot hold ',', '?' or ';' (RFC 3261 §20).
    let end = i;
    while (end < n) {
      const c = s.charCodeAt(end);
      if (c === 59 || isWs(c)) break;
      if (c === 63 || c === 44) throw bad(what, 'a URI with "?" or "," must be enclosed in <>');
      end++;
    }
    uri = s.slice(i, end);
    i = end;
  }
  if (uri.length === 0 || uri.indexOf(':') <= 0) throw bad(what, 'missing URI');
  for (let k = 0; k < uri.length; k++) {
    const c = uri.charCodeAt(k);
    if (c <= 32 || c === 127) throw bad(what, 'whitespace inside the URI');
  }
  const params: Params = new Map();
  i = parseParams(s, i, params, what);
  if (i < n) throw bad(what, 'trailing characters');
  const na: NameAddr = { uri, params };
  if (displayName !== undefined) na.displayName = displayName;
  const tag = params.get('tag');
  if (tag) na.tag = tag;
  return na;
}

export function parseContact(s: string): Contact {
  const t = s.trim();
  if (t === '*') return { star: true, uri: '*', params: new Map() };
  const c: Contact = parseNameAddr(s, 'Contact');
  const exp = c.params.get('expires');
  if (exp) {
    const v = parseUint(exp, 4294967295);
    if (v >= 0) c.expires = v;
  }
  const q = c.params.get('q');
  if (q) {
    const v = Number(q);
    if (v >= 0 && v <= 1) c.q = v;
  }
  return c;
}

/** The parsed URI of a name-addr. */
export const uriOf = (na: NameAddr): SipUri => parseUri(na.uri);

export function formatNameAddr(na: NameAddr): string {
  let s = '';
  if (na.displayName !== undefined) s += '"' + na.displayName.replace(/["\\]/g, '\\$&') + '" ';
  s += '<' + na.uri + '>';
  return s + formatParams(na.params);
}
