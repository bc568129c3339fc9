import { parseAuthHeader, parseUri, type AuthHeader, type SipRequest } from '../message/index.js';
import { AuthThrottle, type AuthThrottleOptions, type ThrottleWarning } from './auth-throttle.js';
import type { DigestAlgorithm } from './digest.js';
import { NonceCounts, NonceMinter } from './nonce.js';
import type { SharedNonceCounts } from './shared-nonce-counts.js';
import { challenges, checkDigestResponse, inspectDigest, OFFERED, type DigestFailure, type StoredSecret } from './server-digest.js';

/**
 * Finds what is stored for a user: the password, or (recommended) H(user:realm:password) for the
 * `algorithm` the client answered with (keep one HA1 per algorithm you offer, as Kamailio's
 * `ha1`/`ha1b` columns do). May be async (a database).
 */
export type CredentialsLookup = (user: string, realm: string, algorithm: DigestAlgorithm) => StoredSecret | undefined | Promise<StoredSecret | undefined>;

/** Which URI's user the authenticated user must be: To (a registrar must), From, or none. */
export type MatchUser = 'to' | 'from' | false;

export interface DigestAuthOptions {
  /** The protection domain named in challenges, e.g. the service's domain. */
  realm: string;
  /** The credentials lookup; may be async (a database). */
  credentials: CredentialsLookup;
  /**
   * The HMAC secret of the nonces (at least 16 bytes). Give several instances the same one so a
   * nonce from one is good at another. Default: random per process.
   */
  secret?: string | Buffer;
  /** How long a nonce is good for, ms (then stale=true). Default 5 minutes. */
  nonceLifetime?: number;
  /** Algorithms offered, strongest first. Default SHA-256, MD5. */
  algorithms?: readonly DigestAlgorithm[];
  /**
   * Challenge as a proxy: `407` with Proxy-Authenticate, credentials in Proxy-Authorization.
   * Default false (`401`, WWW-Authenticate). `'auto'`: as a registrar for REGISTER (401), as a
   * proxy for everything else (407), what a service that registers and routes calls does.
   */
  proxy?: boolean | 'auto';
  /** The user the credential proves must be this URI's user. Default: To for REGISTER, From for other requests. */
  matchUser?: MatchUser | 'auto';
  /** Brute-force throttling; `false` turns it off (not recommended). */
  throttle?: AuthThrottleOptions | false;
  /** Nonces whose highest nonce-count is remembered (replay protection). Default 100,000. */
  maxNonceCounts?: number;
  /**
   * Nonce-counts shared with the other instances (e.g. RedisNonceCounts), checked after this
   * instance's own: a request replayed to an instance that never saw its nonce is refused too.
   * Unreachable: the request gets 503 with Retry-After.
   */
  sharedNonceCounts?: SharedNonceCounts;
}

/** Who a request proved to be. */
export interface SipAuthIdentity {
  user: string;
  realm: string;
  algorithm: DigestAlgorithm;
}

/** The answer to a request that did not prove who it is. */
export interface AuthRefusal {
  status: number;
  reason: string;
  headers?: Record<string, string | string[]>;
}

export type AuthOutcome = { ok: true; identity: SipAuthIdentity } | { ok: false; refusal: AuthRefusal } | { ok: false; drop: true };

/** Per-call overrides (a handler's decorator). */
export interface AuthCheckOptions {
  matchUser?: MatchUser | 'auto';
}

/** Counters, for logs and metrics. */
export interface DigestAuthStats {
  challenged: number;
  authenticated: number;
  /** Refusals by reason (malformed, wrong response, replay...). */
  refused: Partial<Record<DigestFailure | 'user-mismatch' | 'throttled', number>>;
}

/**
 * Digest authentication of requests (RFC 3261 §22, RFC 7616, RFC 8760), framework-free: a
 * request without credentials for our realm gets a challenge (one header per algorithm, SHA-256
 * first); a credential is checked without a lookup first (realm, algorithm, uri, qop, our nonce,
 * not stale), then against the stored secret in constant time; failed guesses feed the throttle.
 */
export class DigestAuthenticator {
  readonly realm: string;
  readonly proxy: boolean | 'auto';
  readonly throttle: AuthThrottle | undefined;
  readonly stats: DigestAuthStats = { challenged: 0, authenticated: 0, refused: {} };
  private readonly minter: NonceMinter;
  private readonly counts: NonceCounts;
  private readonly shared: SharedNonceCounts | undefined;
  private readonly nonceLifetime: number;
  private readonly algorithms: readonly DigestAlgorithm[];
  private readonly lookup: CredentialsLookup;
  private readonly matchUser: MatchUser | 'auto';

  constructor(opts: DigestAuthOptions, warn?: ThrottleWarning, now: () => number = Date.now) {
    if (typeof opts.realm !== 'string' || opts.realm === '' || /["\\\r\n]/.test(opts.realm)) throw new RangeError('DigestAuthenticator needs a realm without quotes, backslashes or line breaks');
    if (typeof opts.credentials !== 'function') throw new TypeError('DigestAuthenticator needs a credentials lookup function');
    this.realm = opts.realm;
    this.proxy = opts.proxy === 'auto' ? 'auto' : opts.proxy === true;
    this.lookup = opts.credentials;
    this.algorithms = opts.algorithms ?? OFFERED;
    if (this.algorithms.length === 0) throw new RangeError('DigestAuthenticator needs at least one algorithm');
    this.matchUser = opts.matchUser ?? 'auto';
    this.nonceLifetime = opts.nonceLifetime ?? 300_000;
    this.minter = new NonceMinter(opts.secret, this.nonceLifetime, now);
    this.shared = opts.sharedNonceCounts;
    this.counts = new NonceCounts(opts.maxNonceCounts ?? 100_000);
    this.throttle = opts.throttle === false ? undefined : new AuthThrottle(opts.throttle, warn, now);
  }

  /** Whether `req` is challenged as a proxy (407) or as a registrar/UAS (401). */
  asProxy(req: SipRequest | undefined): boolean {
    const p = this.proxy;
    return p === 'auto' ? req !== undefined && req.method !== 'REGISTER' : p;
  }

  /** The name of the header a challenge for `req` goes in. */
  challengeHeader(req?: SipRequest): 'Proxy-Authenticate' | 'WWW-Authenticate' {
    return this.asProxy(req) ? 'Proxy-Authenticate' : 'WWW-Authenticate';
  }

  /** A fresh challenge (`401` or `407`) for `req`, `stale=true` when the client's nonce only expired. */
  challenge(stale = false, req?: SipRequest): AuthRefusal {
    this.stats.challenged++;
    const proxy = this.asProxy(req);
    return {
      status: proxy ? 407 : 401,
      reason: proxy ? 'Proxy Authentication Required' : 'Unauthorized',
      headers: { [proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate']: challenges(this.minter, this.realm, this.algorithms, stale) },
    };
  }

  /** Check `req`, sent from `addr`. Never throws for anything the request holds. */
  async authenticate(req: SipRequest, addr: string, opts: AuthCheckOptions = {}): Promise<AuthOutcome> {
    const found = this.credentialOf(req);
    const throttle = this.throttle;
    const username = found === undefined || found === 'malformed' ? undefined : found.params.get('username');
    if (throttle !== undefined && throttle.check(addr, username) !== 'ok') return this.blocked();
    if (found === undefined) return { ok: false, refusal: this.challenge(false, req) };
    if (found === 'malformed') return this.refuse('malformed', 400, 'Malformed Credentials');
    const f = inspectDigest(found, { method: req.method, requestUri: req.uri, realm: this.realm, offered: this.algorithms }, this.minter);
    if ('ok' in f) {
      switch (f.reason) {
        case 'malformed':
          return this.refuse(f.reason, 400, 'Malformed Credentials');
        case 'uri':
          return this.refuse(f.reason, 403, 'Credentials For Another URI');
        case 'stale':
          this.count('stale');
          return { ok: false, refusal: this.challenge(true, req) };
        default:
          // Another realm's, an algorithm or qop we did not offer, a nonce not ours: a fresh challenge.
          this.count(f.reason);
          return { ok: false, refusal: this.challenge(false, req) };
      }
    }
    let secret: StoredSecret | undefined;
    try {
      secret = await this.lookup(f.username, this.realm, f.algorithm);
    } catch {
      // The store is down: not the client's fault, and not a failed guess.
      return { ok: false, refusal: { status: 503, reason: 'Credentials Store Unavailable', headers: { 'Retry-After': '5' } } };
    }
    const v = checkDigestResponse(f, req.method, this.realm, secret, this.counts);
    if (!v.ok) {
      if (v.reason === 'response' || v.reason === 'unknown-user') {
        if (throttle !== undefined) {
          throttle.failed(addr, f.username);
          await throttle.share(addr, f.username);
        }
        this.count(v.reason);
        // Over the limit now: this very attempt is already refused as throttled.
        if (throttle !== undefined && throttle.blockedFor(addr) > 0) return this.blocked();
        return { ok: false, refusal: this.challenge(false, req) };
      }
      this.count(v.reason);
      return { ok: false, refusal: this.challenge(v.reason === 'stale', req) };
    }
    if (this.shared !== undefined) {
      let fresh: boolean;
      try {
        // Kept past the nonce's life by the clock skew NonceMinter allows between instances.
        fresh = await this.shared.accept(f.nonce, parseInt(f.nc, 16), this.nonceLifetime + 10_000);
      } catch {
        return { ok: false, refusal: { status: 503, reason: 'Nonce Store Unavailable', headers: { 'Retry-After': '5' } } };
      }
      if (!fresh) {
        this.count('replay');
        return { ok: false, refusal: this.challenge() };
      }
    }
    throttle?.succeeded(addr, v.username);
    const must = this.userToMatch(req, opts.matchUser ?? this.matchUser);
    if (must !== undefined && must.user !== v.username) {
      this.count('user-mismatch');
      return { ok: false, refusal: { status: 403, reason: `Authenticated User Is Not The ${must.which} User` } };
    }
    this.stats.authenticated++;
    return { ok: true, identity: { user: v.username, realm: this.realm, algorithm: v.algorithm } };
  }

  /** Our realm's Digest credential, undefined when there is none, 'malformed' when ours cannot be read. */
  private credentialOf(req: SipRequest): AuthHeader | 'malformed' | undefined {
    const values = req.headers.getAll(this.asProxy(req) ? 'proxy-authorization' : 'authorization');
    let bad = false;
    for (let i = 0; i < values.length; i++) {
      let h: AuthHeader;
      try {
        h = parseAuthHeader(values[i]!);
      } catch {
        // Only a Digest credential we cannot read is malformed; another scheme's syntax is not ours.
        if (/^\s*digest\s/i.test(values[i]!)) bad = true;
        continue;
      }
      if (h.scheme.toLowerCase() !== 'digest') continue;
      // Credentials for another realm (a proxy's further along) are not ours to judge.
      if (h.params.get('realm') === this.realm) return h;
    }
    return bad ? 'malformed' : undefined;
  }

  private userToMatch(req: SipRequest, m: MatchUser | 'auto'): { which: 'To' | 'From'; user: string } | undefined {
    const which = m === 'auto' ? (req.method === 'REGISTER' ? 'to' : 'from') : m;
    if (which === false) return undefined;
    let user: string;
    try {
      user = parseUri(which === 'to' ? req.to.uri : req.from.uri).user ?? '';
    } catch {
      user = '';
    }
    // parseUri has unescaped the user part already (RFC 3261 §19.1.4 compares it unescaped).
    return { which: which === 'to' ? 'To' : 'From', user };
  }

  private blocked(): AuthOutcome {
    this.count('throttled');
    if (this.throttle?.action === 'drop') return { ok: false, drop: true };
    return { ok: false, refusal: { status: 403, reason: 'Too Many Failed Attempts' } };
  }

  private refuse(reason: DigestFailure, status: number, phrase: string): AuthOutcome {
    this.count(reason);
    return { ok: false, refusal: { status, reason: phrase } };
  }

  private count(reason: DigestFailure | 'user-mismatch' | 'throttled'): void {
    this.stats.refused[reason] = (this.stats.refused[reason] ?? 0) + 1;
  }
}
