import { randomBytes } from 'node:crypto';
import { formatAuthHeader, parseAuthHeader, type SipRequest, type SipResponse } from '../message/index.js';
import { computeHa1, digestAlgorithm, digestResponse, type DigestAlgorithm } from './digest.js';

/** The hash an HA1 was computed with (the `-sess` forms use the same HA1). */
export type DigestHashName = 'MD5' | 'SHA-256' | 'SHA-512-256';

/**
 * What a client authenticates with: a password, or the HA1 (H(username:realm:password)) computed
 * with one hash, which then only answers challenges of that hash (default MD5).
 */
export type SipCredentials = { username: string; password: string } | { username: string; ha1: string; algorithm?: DigestHashName };

/** Credentials chosen per realm and request (e.g. from a vault); undefined: do not answer that realm. */
export type SipCredentialsLookup = (realm: string, request: SipRequest) => SipCredentials | undefined | Promise<SipCredentials | undefined>;

/** `SipClientOptions.auth`: one set of credentials for every realm, or a lookup. */
export type SipClientAuth = SipCredentials | SipCredentialsLookup;

/** One digest challenge a client can answer (RFC 3261 §22, RFC 7616, RFC 8760). */
export interface DigestChallenge {
  /** `www`: WWW-Authenticate (a registrar or UAS, answered in Authorization); `proxy`: Proxy-Authenticate. */
  kind: 'www' | 'proxy';
  realm: string;
  nonce: string;
  opaque: string | undefined;
  algorithm: DigestAlgorithm;
  /** 'auth' when offered (we never use auth-int), undefined for an RFC 2069 challenge without qop. */
  qop: 'auth' | undefined;
  stale: boolean;
}

const RANK: Record<DigestAlgorithm, number> = {
  'SHA-512-256': 6,
  'SHA-512-256-sess': 5,
  'SHA-256': 4,
  'SHA-256-sess': 3,
  MD5: 2,
  'MD5-sess': 1,
};

/** The hash behind an algorithm name. */
export function hashOf(algorithm: DigestAlgorithm): DigestHashName {
  return (algorithm.endsWith('-sess') ? algorithm.slice(0, -5) : algorithm) as DigestHashName;
}

/**
 * The Digest challenges of a 401/407 that this client can answer (WWW-Authenticate and
 * Proxy-Authenticate both: a forking proxy may gather both), strongest algorithm first
 * (SHA-512-256 > SHA-256 > MD5, plain before `-sess`), in header order among equals. Malformed
 * values, other schemes, unknown algorithms and challenges offering only `auth-int` are left out.
 */
export function readChallenges(res: SipResponse): DigestChallenge[] {
  const out: DigestChallenge[] = [];
  for (const [kind, header] of [['www', 'www-authenticate'], ['proxy', 'proxy-authenticate']] as const) {
    for (const value of res.headers.getAll(header)) {
      const c = readChallenge(kind, value);
      if (c !== undefined) out.push(c);
    }
  }
  // Array.prototype.sort is stable: equals keep header order.
  return out.sort((a, b) => RANK[b.algorithm] - RANK[a.algorithm]);
}

function readChallenge(kind: 'www' | 'proxy', value: string): DigestChallenge | undefined {
  let h;
  try {
    h = parseAuthHeader(value);
  } catch {
    return undefined;
  }
  if (h.scheme.toLowerCase() !== 'digest') return undefined;
  const p = h.params;
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  if (realm === undefined || nonce === undefined || nonce === '') return undefined;
  const algorithm = digestAlgorithm(p.get('algorithm'));
  if (algorithm === undefined) return undefined;
  let qop: 'auth' | undefined;
  const offered = p.get('qop');
  if (offered !== undefined) {
    if (!offered.split(',').some((q) => q.trim().toLowerCase() === 'auth')) return undefined; // auth-int only
    qop = 'auth';
  } else if (algorithm.endsWith('-sess')) return undefined; // -sess needs a cnonce, which only qop carries
  return { kind, realm, nonce, opaque: p.get('opaque'), algorithm, qop, stale: p.get('stale')?.toLowerCase() === 'true' };
}

/** HA1 of `creds` for an algorithm and realm, or undefined when the credentials cannot answer it (an HA1 of another hash). */
export function ha1For(creds: SipCredentials, algorithm: DigestAlgorithm, realm: string): string | undefined {
  const hash = hashOf(algorithm);
  if ('password' in creds) return computeHa1(hash, creds.username, realm, creds.password);
  return (creds.algorithm ?? 'MD5') === hash ? creds.ha1.toLowerCase() : undefined;
}

/** A fresh client nonce: 16 random bytes, hex. */
export const randomCnonce = (): string => randomBytes(16).toString('hex');

/**
 * Answers to one challenge (one realm, one nonce): each `authorize()` counts one more use of the
 * nonce (`nc`), with a fresh cnonce, so the same nonce serves following requests (RFC 7616 §3.4).
 */
export class DigestSession {
  /** Uses of the nonce so far (the last `nc` sent). */
  nc = 0;

  constructor(
    readonly challenge: DigestChallenge,
    readonly username: string,
    private readonly ha1: string,
    private readonly cnonce: () => string = randomCnonce,
  ) {}

  /** The header this session's credentials go in. */
  get header(): 'Authorization' | 'Proxy-Authorization' {
    return this.challenge.kind === 'www' ? 'Authorization' : 'Proxy-Authorization';
  }

  /** `kind realm`: what a later challenge of the same protection space is matched by. */
  get key(): string {
    return challengeKey(this.challenge);
  }

  /** The credentials value for a request (`uri`: its Request-URI as written). */
  authorize(method: string, uri: string): string {
    const c = this.challenge;
    const params: [string, string][] = [
      ['username', this.username],
      ['realm', c.realm],
      ['nonce', c.nonce],
      ['uri', uri],
    ];
    let response: string;
    let qopParams: [string, string][] = [];
    if (c.qop === 'auth') {
      this.nc = this.nc >= 0xffffffff ? 1 : this.nc + 1;
      const nc = this.nc.toString(16).padStart(8, '0');
      const cnonce = this.cnonce();
      response = digestResponse({ algorithm: c.algorithm, ha1: this.ha1, nonce: c.nonce, method, uri, qop: 'auth', nc, cnonce });
      qopParams = [
        ['cnonce', cnonce],
        ['qop', 'auth'],
        ['nc', nc],
      ];
    } else {
      response = digestResponse({ algorithm: c.algorithm, ha1: this.ha1, nonce: c.nonce, method, uri });
    }
    params.push(['response', response], ['algorithm', c.algorithm]);
    if (c.opaque !== undefined) params.push(['opaque', c.opaque]);
    params.push(...qopParams);
    return formatAuthHeader('Digest', params, { qopToken: true });
  }
}

export const challengeKey = (c: { kind: string; realm: string }): string => c.kind + ' ' + c.realm;

/** At most this many retries of one request, whatever the realms its challenges name. */
const MAX_RETRIES = 3;

/**
 * The credentials of one request through its retries (RFC 3261 §22.2-22.3): which protection
 * spaces (kind + realm) it answers, and whether a new 401/407 may still be answered. A realm is
 * answered once with fresh credentials and once more only when the server says the nonce was
 * `stale`; a 401/407 naming nothing else new is the result. Credentials reused from an earlier
 * request (a cached nonce) do not count as an answer: a challenge to them is answered once.
 */
export class ChallengeAnswers {
  private readonly sessions = new Map<string, DigestSession>();
  private readonly answered = new Set<string>();
  private readonly staleAnswered = new Set<string>();
  private retries = 0;

  constructor(reused: Iterable<DigestSession> = []) {
    for (const s of reused) this.sessions.set(s.key, s);
  }

  /**
   * What a 401/407 asks that may still be answered: per protection space, its challenges
   * (strongest first). Empty: the response is the result.
   */
  due(res: SipResponse): DigestChallenge[][] {
    if (this.retries >= MAX_RETRIES) return [];
    const groups = new Map<string, DigestChallenge[]>();
    for (const c of readChallenges(res)) {
      const key = challengeKey(c);
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = []));
      g.push(c);
    }
    const out: DigestChallenge[][] = [];
    for (const [key, g] of groups) {
      if (!this.answered.has(key) || (g.some((c) => c.stale) && !this.staleAnswered.has(key))) out.push(g);
    }
    return out;
  }

  /**
   * Answer one protection space with `creds` (the strongest challenge they can serve). False when
   * they cannot serve any (an HA1 of another hash), or there are none.
   */
  answer(group: readonly DigestChallenge[], creds: SipCredentials | undefined, cnonce?: () => string): boolean {
    if (creds === undefined || group.length === 0) return false;
    for (const c of group) {
      const ha1 = ha1For(creds, c.algorithm, c.realm);
      if (ha1 === undefined) continue;
      const key = challengeKey(c);
      if (this.answered.has(key)) this.staleAnswered.add(key);
      else this.answered.add(key);
      this.sessions.set(key, new DigestSession(c, creds.username, ha1, cnonce));
      return true;
    }
    return false;
  }

  /** One retry is being sent. */
  retrying(): void {
    this.retries++;
  }

  /** The credential headers of one (re)send: one per protection space answered so far, `nc` counted. */
  headers(method: string, uri: string): [string, string][] {
    const out: [string, string][] = [];
    for (const s of this.sessions.values()) out.push([s.header, s.authorize(method, uri)]);
    return out;
  }

  /** The sessions in use, by protection space. */
  all(): IterableIterator<DigestSession> {
    return this.sessions.values();
  }

  get size(): number {
    return this.sessions.size;
  }
}

/**
 * Nonces kept for following requests (RFC 3261 §22.3: "a UA SHOULD cache the credentials"), per
 * scope (who we are and where the request goes; chosen by the caller), at most `max` scopes, the
 * least recently used dropped first. Each scope keeps one session per protection space.
 */
export class DigestSessionCache {
  private readonly scopes = new Map<string, Map<string, DigestSession>>();

  constructor(private readonly max = 64) {}

  /** The sessions of a scope (most recently used first among scopes). */
  get(scope: string): DigestSession[] {
    const m = this.scopes.get(scope);
    if (m === undefined) return [];
    this.scopes.delete(scope);
    this.scopes.set(scope, m);
    return [...m.values()];
  }

  keep(scope: string, session: DigestSession): void {
    let m = this.scopes.get(scope);
    if (m === undefined) {
      m = new Map();
      if (this.scopes.size >= this.max) this.scopes.delete(this.scopes.keys().next().value!);
    } else this.scopes.delete(scope);
    this.scopes.set(scope, m);
    m.set(session.key, session);
    if (m.size > 8) m.delete(m.keys().next().value!);
  }

  drop(scope: string, key: string): void {
    const m = this.scopes.get(scope);
    if (m === undefined) return;
    m.delete(key);
    if (m.size === 0) this.scopes.delete(scope);
  }

  get size(): number {
    return this.scopes.size;
  }
}
