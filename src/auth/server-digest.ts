import { timingSafeEqual } from 'node:crypto';
import { formatAuthHeader, parseUri, type AuthHeader } from '../message/index.js';
import { computeHa1, digestAlgorithm, digestResponse, type DigestAlgorithm } from './digest.js';
import type { NonceCounts, NonceMinter } from './nonce.js';

/** What a credentials lookup may give for a user: the password, or H(user:realm:password) for one algorithm. */
export type StoredSecret = string | { ha1: string; algorithm?: DigestAlgorithm };

/** Why a credential was refused (a fresh challenge follows; `stale` with stale=true). */
export type DigestFailure = 'malformed' | 'realm' | 'uri' | 'algorithm' | 'qop' | 'nonce' | 'stale' | 'replay' | 'unknown-user' | 'response';

export type DigestVerdict = { ok: true; username: string; algorithm: DigestAlgorithm } | { ok: false; reason: DigestFailure };

/** The algorithms a server offers by default, strongest first (RFC 8760). */
export const OFFERED: readonly DigestAlgorithm[] = ['SHA-256', 'MD5'];

/**
 * The challenge header values (WWW-Authenticate or Proxy-Authenticate): one per algorithm, the
 * strongest first (RFC 8760 §2.4), each with a fresh nonce, qop="auth" and an opaque.
 */
export function challenges(minter: NonceMinter, realm: string, offered: readonly DigestAlgorithm[] = OFFERED, stale = false): string[] {
  return offered.map((algorithm) => {
    const params: [string, string][] = [
      ['realm', realm],
      ['nonce', minter.mint(realm)],
      ['algorithm', algorithm],
      ['qop', 'auth'],
      ['opaque', 'nestjs-sip'],
    ];
    if (stale) params.push(['stale', 'true']);
    return formatAuthHeader('Digest', params);
  });
}

/** What the request says, for the check. */
export interface DigestRequest {
  method: string;
  /** The Request-URI as the request has it. */
  requestUri: string;
  realm: string;
  offered?: readonly DigestAlgorithm[];
}

/** A credential that passed every check that needs no secret (inspectDigest). */
export interface DigestFields {
  username: string;
  algorithm: DigestAlgorithm;
  nonce: string;
  uri: string;
  response: string;
  qop: string;
  nc: string;
  cnonce: string;
}

/**
 * The checks of a Digest credential that need no secret (RFC 3261 §22.4, RFC 7616 §3.4.5): realm
 * ours, an algorithm we offered, `uri` the Request-URI, qop=auth with nc and cnonce, a nonce of ours
 * and not stale. Done first, so that garbage never costs a credentials lookup.
 */
export function inspectDigest(cred: AuthHeader, req: DigestRequest, minter: NonceMinter): DigestFields | { ok: false; reason: DigestFailure } {
  if (cred.scheme.toLowerCase() !== 'digest') return { ok: false, reason: 'malformed' };
  const p = cred.params;
  const username = p.get('username');
  const nonce = p.get('nonce');
  const uri = p.get('uri');
  const response = p.get('response');
  if (!username || !nonce || !uri || !response || response.length > 128 || username.length > 256) return { ok: false, reason: 'malformed' };
  if (p.get('realm') !== req.realm) return { ok: false, reason: 'realm' };
  const algorithm = digestAlgorithm(p.get('algorithm'));
  if (algorithm === undefined || !(req.offered ?? OFFERED).includes(algorithm)) return { ok: false, reason: 'algorithm' };
  if (!sameUri(uri, req.requestUri)) return { ok: false, reason: 'uri' };
  const qop = p.get('qop');
  const nc = p.get('nc');
  const cnonce = p.get('cnonce');
  if (qop !== 'auth' || nc === undefined || !isNonceCount(nc) || !cnonce) return { ok: false, reason: 'qop' };
  const n = minter.check(nonce, req.realm);
  if (n === 'invalid') return { ok: false, reason: 'nonce' };
  if (n === 'stale') return { ok: false, reason: 'stale' };
  return { username, algorithm, nonce, uri, response, qop, nc, cnonce };
}

/**
 * The response check of an inspected credential: `secret` is what the lookup gave for the user
 * (undefined: unknown user, refused like a wrong password); compared in constant time; the
 * nonce-count is recorded only once the response is right, so a forger cannot burn a client's counts.
 */
export function checkDigestResponse(f: DigestFields, method: string, realm: string, secret: StoredSecret | undefined, counts: NonceCounts): DigestVerdict {
  if (secret === undefined) return { ok: false, reason: 'unknown-user' };
  let ha1: string;
  if (typeof secret === 'string') ha1 = computeHa1(f.algorithm, f.username, realm, secret);
  else if ((secret.algorithm ?? 'MD5') === f.algorithm) ha1 = secret.ha1;
  else return { ok: false, reason: 'algorithm' }; // an HA1 is for one hash only
  const expected = digestResponse({ algorithm: f.algorithm, ha1, nonce: f.nonce, method, uri: f.uri, qop: f.qop, nc: f.nc, cnonce: f.cnonce });
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(f.response.toLowerCase(), 'utf8');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'response' };
  if (counts.forgotten(f.nonce)) return { ok: false, reason: 'stale' };
  if (!counts.accept(f.nonce, parseInt(f.nc, 16))) return { ok: false, reason: 'replay' };
  return { ok: true, username: f.username, algorithm: f.algorithm };
}

/** Both steps at once, for a secret already at hand. */
export function verifyDigest(cred: AuthHeader, req: DigestRequest, secret: StoredSecret | undefined, minter: NonceMinter, counts: NonceCounts): DigestVerdict {
  const f = inspectDigest(cred, req, minter);
  if ('ok' in f) return f;
  return checkDigestResponse(f, req.method, req.realm, secret, counts);
}

/** Eight hex digits (RFC 7616 §3.4: nc-value), checked without a regex. */
function isNonceCount(nc: string): boolean {
  if (nc.length !== 8) return false;
  for (let i = 0; i < 8; i++) {
    const c = nc.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** The credential's `uri` names the Request-URI (RFC 3261 §22.4: compared as URIs). */
function sameUri(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    const x = parseUri(a);
    const y = parseUri(b);
    return x.scheme === y.scheme && (x.user ?? '') === (y.user ?? '') && x.host.toLowerCase() === y.host.toLowerCase() && (x.port ?? 0) === (y.port ?? 0);
  } catch {
    return false;
  }
}
