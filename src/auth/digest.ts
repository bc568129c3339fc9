import { createHash } from 'node:crypto';

/**
 * Digest algorithms (RFC 7616 §3.2, RFC 8760 for SIP): MD5 (RFC 2617, what most SIP phones
 * still send), SHA-256 and SHA-512-256, each also in the `-sess` form.
 */
export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess';

const HASH: Record<string, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };

/** The algorithm named in a challenge or credential (case-insensitive; absent = MD5), or undefined when unknown. */
export function digestAlgorithm(name: string | undefined): DigestAlgorithm | undefined {
  if (name === undefined) return 'MD5';
  switch (name.toUpperCase()) {
    case 'MD5':
      return 'MD5';
    case 'MD5-SESS':
      return 'MD5-sess';
    case 'SHA-256':
      return 'SHA-256';
    case 'SHA-256-SESS':
      return 'SHA-256-sess';
    case 'SHA-512-256':
      return 'SHA-512-256';
    case 'SHA-512-256-SESS':
      return 'SHA-512-256-sess';
    default:
      return undefined;
  }
}

/** The hex digest of `data` with the algorithm's hash (the `-sess` suffix does not change it). */
export function digestHash(algorithm: DigestAlgorithm, data: string | Buffer): string {
  const base = algorithm.endsWith('-sess') ? algorithm.slice(0, -5) : algorithm;
  const h = createHash(HASH[base]!);
  if (typeof data === 'string') h.update(data, 'utf8');
  else h.update(data);
  return h.digest('hex');
}

/** H(username:realm:password): what a credentials store should keep instead of the password. */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

/** What the response of a digest credential is computed from (RFC 7616 §3.4.1). */
export interface DigestInput {
  algorithm: DigestAlgorithm;
  /** H(username:realm:password) with this algorithm's hash. */
  ha1: string;
  nonce: string;
  method: string;
  /** The `uri` parameter, as the credential gives it. */
  uri: string;
  /** 'auth' (the only one this library offers), 'auth-int', or undefined (RFC 2069 style). */
  qop?: string;
  /** Eight hex digits, with qop. */
  nc?: string;
  cnonce?: string;
  /** auth-int: the message body. */
  body?: Buffer | string;
}

/** The `response` value: KD(HA1', nonce:nc:cnonce:qop:HA2) or, without qop, KD(HA1', nonce:HA2). */
export function digestResponse(d: DigestInput): string {
  const alg = d.algorithm;
  const ha1 = alg.endsWith('-sess') ? digestHash(alg, `${d.ha1}:${d.nonce}:${d.cnonce ?? ''}`) : d.ha1;
  const ha2 =
    d.qop === 'auth-int'
      ? digestHash(alg, `${d.method}:${d.uri}:${digestHash(alg, d.body ?? '')}`)
      : digestHash(alg, `${d.method}:${d.uri}`);
  if (d.qop === undefined) return digestHash(alg, `${ha1}:${d.nonce}:${ha2}`);
  return digestHash(alg, `${ha1}:${d.nonce}:${d.nc ?? ''}:${d.cnonce ?? ''}:${d.qop}:${ha2}`);
}
