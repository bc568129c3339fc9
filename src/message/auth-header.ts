import { TOKEN } from './chars.js';
import { SipParseError } from './errors.js';
import { quotedEnd, unquote } from './params.js';

/**
 * One credential or challenge header value (RFC 3261 §25.1, RFC 7235 §2.1): `Digest realm="x",
 * nonce="y", qop="auth", algorithm=SHA-256`. The scheme as written; parameter names lower-cased,
 * values unquoted. Used for WWW-Authenticate, Proxy-Authenticate, Authorization and
 * Proxy-Authorization.
 */
export interface AuthHeader {
  scheme: string;
  params: Map<string, string>;
}

const MAX_PARAMS = 32;

/**
 * Parse an auth header value in one linear pass (no regex on untrusted input). Throws
 * SipParseError (400) when it is malformed: no scheme, a parameter without `=`, an unterminated
 * quoted string, a repeated parameter, or more than 32 parameters.
 */
export function parseAuthHeader(value: string): AuthHeader {
  const n = value.length;
  let i = 0;
  let c = 0;
  while (i < n && ((c = value.charCodeAt(i)) === 32 || c === 9)) i++;
  const schemeStart = i;
  while (i < n && (c = value.charCodeAt(i)) < 128 && TOKEN[c] === 1) i++;
  if (i === schemeStart) throw new SipParseError('Malformed authentication header: no scheme');
  const scheme = value.slice(schemeStart, i);
  const params = new Map<string, string>();
  for (;;) {
    while (i < n && ((c = value.charCodeAt(i)) === 32 || c === 9 || c === 44)) i++;
    if (i >= n) break;
    const nameStart = i;
    while (i < n && (c = value.charCodeAt(i)) < 128 && TOKEN[c] === 1) i++;
    if (i === nameStart) throw new SipParseError('Malformed authentication header: bad parameter name');
    const name = value.slice(nameStart, i).toLowerCase();
    while (i < n && ((c = value.charCodeAt(i)) === 32 || c === 9)) i++;
    if (i >= n || c !== 61 /* = */) throw new SipParseError(`Malformed authentication header: ${name} without a value`);
    i++;
    while (i < n && ((c = value.charCodeAt(i)) === 32 || c === 9)) i++;
    let v: string;
    if (i < n && c === 34) {
      const q = quotedEnd(value, i, n);
      if (q === -1) throw new SipParseError('Malformed authentication header: unterminated quoted string');
      v = unquote(value.slice(i, q));
      i = q;
    } else {
      const vs = i;
      while (i < n && (c = value.charCodeAt(i)) < 128 && TOKEN[c] === 1) i++;
      if (i === vs) throw new SipParseError(`Malformed authentication header: ${name} has an empty value`);
      v = value.slice(vs, i);
    }
    if (params.has(name)) throw new SipParseError(`Malformed authentication header: ${name} given twice`);
    if (params.size >= MAX_PARAMS) throw new SipParseError('Malformed authentication header: too many parameters');
    params.set(name, v);
    while (i < n && ((c = value.charCodeAt(i)) === 32 || c === 9)) i++;
    if (i < n && c !== 44 /* , */) throw new SipParseError('Malformed authentication header: expected a comma');
  }
  return { scheme, params };
}

/** Parameters written without quotes (RFC 7616 §3.3-3.4, RFC 3261 §25.1): the rest are quoted strings. */
const UNQUOTED = new Set(['algorithm', 'qop-value', 'nc', 'stale', 'userhash']);

/**
 * Format an auth header value: `Scheme name="value", ...`. `algorithm`, `nc` and `stale` are
 * tokens; `qop` is quoted in a challenge and a token in a credential (`qopToken`); the rest quoted.
 */
export function formatAuthHeader(scheme: string, params: Iterable<readonly [string, string]>, opts: { qopToken?: boolean } = {}): string {
  let out = scheme;
  let first = true;
  for (const [name, value] of params) {
    const token = UNQUOTED.has(name) || (name === 'qop' && opts.qopToken === true);
    out += (first ? ' ' : ', ') + name + '=' + (token ? value : quote(value));
    first = false;
  }
  return out;
}

function quote(v: string): string {
  let plain = true;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 34 || c === 92 || c < 32 || c === 127) {
      plain = false;
      break;
    }
  }
  if (plain) return '"' + v + '"';
  let out = '"';
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 32 || c === 127) continue; // CR/LF and the other controls cannot be carried
    if (c === 34 || c === 92) out += '\\';
    out += v[i];
  }
  return out + '"';
}
