import { sourceKey } from '../transport/index.js';
import type { SharedAuthStrikes, SharedBlock } from './shared-auth-strikes.js';

/** Brute-force throttling settings (Kamailio `pike` / fail2ban style). */
export interface AuthThrottleOptions {
  /** Failed attempts from one source (IPv4 address, IPv6 /64) within `window` before it is blocked. Default 10. */
  maxFailures?: number;
  /** Failed attempts on one username (from anywhere) within `window` before the username is locked. Default 20. */
  maxUserFailures?: number;
  /** The window failures are counted in, ms. Default 10 minutes. */
  window?: number;
  /** The first block, ms; each new block of the same offender doubles it. Default 60 s. */
  backoff?: number;
  /** The longest block, ms. Default 1 hour. */
  maxBackoff?: number;
  /** Sources and usernames remembered at most (the oldest quiet ones go first). Default 100,000 each. */
  maxEntries?: number;
  /** What a blocked attempt gets: `403 Forbidden` (default), or no answer at all ('drop'). */
  action?: '403' | 'drop';
  /**
   * Failures counted with the other instances too (e.g. RedisAuthStrikes): a block one instance
   * imposes reaches another at the next failure that one sees from the source or username.
   */
  shared?: SharedAuthStrikes;
}

/** What the throttle says of an attempt before its credentials are checked. */
export type ThrottleVerdict = 'ok' | 'source-blocked' | 'user-locked';

/** A user at a source that proved itself there: not shut out when others at that source fail. */
interface Pair {
  good: number;
  /** Failures of this user from this source since its last success. */
  failures: number;
}

/** Failures a known-good user may make at a blocked source before it is refused too. */
const PAIR_FAILURES = 3;

/** One offender: a source or a username. */
interface Strikes {
  failures: number;
  windowStart: number;
  blockedUntil: number;
  /** Blocks so far: the next one lasts backoff * 2^level. */
  level: number;
  last: number;
}

/** What the throttle has done, for logs, metrics and tests. */
export interface AuthThrottleStats {
  /** Credentials checked (each one a guess when wrong). */
  evaluated: number;
  failures: number;
  /** Attempts refused without a check because their source or username was blocked. */
  refused: number;
  /** Blocks imposed (sources and usernames). */
  blocks: number;
  /** Failures the shared store could not count (unreachable): this instance's own counts applied. */
  sharedErrors: number;
  sources: number;
  users: number;
}

export type ThrottleWarning = (kind: 'source' | 'user', key: string, until: number, failures: number) => void;

/**
 * Counts failed digest attempts per source and per username in two bounded tables. A source over
 * its limit is blocked, whatever it asks, for a back-off that doubles with each new block. A
 * username over its limit is locked only for sources that failed recently: the attacker's
 * addresses are refused while its owner, from an address with a clean record, still gets in (a
 * distributed attacker gets one guess per address per lock). A user who authenticated from a
 * source within the longest block stays welcome there when the source is blocked (a phone with
 * a stale password behind the office NAT does not lock out the others), up to 3 failures of its
 * own; and at a blocked source a request without credentials still gets its challenge, unless the
 * action is 'drop'. Offenders quiet for longer than the longest block are forgotten.
 */
export class AuthThrottle {
  readonly action: '403' | 'drop';
  readonly stats: AuthThrottleStats = { evaluated: 0, failures: 0, refused: 0, blocks: 0, sharedErrors: 0, sources: 0, users: 0 };
  private readonly maxFailures: number;
  private readonly maxUserFailures: number;
  private readonly window: number;
  private readonly backoff: number;
  private readonly maxBackoff: number;
  private readonly maxEntries: number;
  private readonly sources = new Map<string, Strikes>();
  private readonly users = new Map<string, Strikes>();
  private readonly pairs = new Map<string, Pair>();
  private readonly shared: SharedAuthStrikes | undefined;

  constructor(
    opts: AuthThrottleOptions = {},
    private readonly warn: ThrottleWarning = () => undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.maxFailures = positive(opts.maxFailures, 10, 'maxFailures');
    this.maxUserFailures = positive(opts.maxUserFailures, 20, 'maxUserFailures');
    this.window = positive(opts.window, 600_000, 'window');
    this.backoff = positive(opts.backoff, 60_000, 'backoff');
    this.maxBackoff = Math.max(this.backoff, positive(opts.maxBackoff, 3_600_000, 'maxBackoff'));
    this.maxEntries = positive(opts.maxEntries, 100_000, 'maxEntries');
    this.action = opts.action === 'drop' ? 'drop' : '403';
    this.shared = opts.shared;
  }

  /** May `addr` try a credential for `username` (undefined: a request without credentials)? */
  check(addr: string, username: string | undefined): ThrottleVerdict {
    const t = this.now();
    const key = sourceKey(addr);
    const src = this.live(this.sources, key, t);
    if (src !== undefined && src.blockedUntil > t) {
      if (username === undefined ? this.action === 'drop' : !this.knownGood(key, username, t)) {
        this.stats.refused++;
        return 'source-blocked';
      }
      return 'ok';
    }
    if (username === undefined) return 'ok';
    const user = this.live(this.users, username, t);
    if (user !== undefined && user.blockedUntil > t && src !== undefined && (src.failures > 0 || src.level > 0) && !this.knownGood(key, username, t)) {
      this.stats.refused++;
      return 'user-locked';
    }
    return 'ok';
  }

  /** A credential of `username` from `addr` was checked and was right. */
  succeeded(addr: string, username: string): void {
    this.stats.evaluated++;
    const key = `${sourceKey(addr)} ${username}`;
    const p = this.pairs.get(key);
    if (p !== undefined) this.pairs.delete(key); // re-inserted: the order is the order of last success
    else if (this.pairs.size >= this.maxEntries) {
      const oldest = this.pairs.keys().next().value;
      if (oldest !== undefined) this.pairs.delete(oldest);
    }
    this.pairs.set(key, { good: this.now(), failures: 0 });
  }

  /** A credential was checked and was wrong (wrong password or unknown user). */
  failed(addr: string, username: string): void {
    const t = this.now();
    this.stats.evaluated++;
    this.stats.failures++;
    const p = this.pairs.get(`${sourceKey(addr)} ${username}`);
    if (p !== undefined) p.failures++;
    this.strike(this.sources, sourceKey(addr), this.maxFailures, 'source', t);
    this.strike(this.users, username, this.maxUserFailures, 'user', t);
  }

  /**
   * After failed(): count the same failure in the shared store and take on the blocks it reports
   * (those other instances imposed). No shared store, or unreachable: nothing (the own counts hold).
   */
  async share(addr: string, username: string): Promise<void> {
    if (this.shared === undefined) return;
    const t = this.now();
    let r: { source: SharedBlock; user: SharedBlock };
    try {
      r = await this.shared.strike(sourceKey(addr), username, {
        now: t,
        window: this.window,
        backoff: this.backoff,
        maxBackoff: this.maxBackoff,
        maxFailures: this.maxFailures,
        maxUserFailures: this.maxUserFailures,
      });
    } catch {
      this.stats.sharedErrors++;
      return;
    }
    this.adopt(this.sources, sourceKey(addr), r.source, t);
    this.adopt(this.users, username, r.user, t);
  }

  /** Ms until `addr` may try again (0: not blocked). */
  blockedFor(addr: string): number {
    const e = this.sources.get(sourceKey(addr));
    return e === undefined ? 0 : Math.max(0, e.blockedUntil - this.now());
  }

  private knownGood(source: string, username: string, t: number): boolean {
    const p = this.pairs.get(`${source} ${username}`);
    return p !== undefined && t - p.good <= this.maxBackoff && p.failures < PAIR_FAILURES;
  }

  private strike(table: Map<string, Strikes>, key: string, limit: number, kind: 'source' | 'user', t: number): void {
    let e = this.live(table, key, t);
    if (e === undefined) {
      if (table.size >= this.maxEntries) this.evict(table, t);
      e = { failures: 0, windowStart: t, blockedUntil: 0, level: 0, last: t };
    } else table.delete(key); // re-inserted below: the table's order is the order of last failure
    table.set(key, e);
    this.stats.sources = this.sources.size;
    this.stats.users = this.users.size;
    if (t - e.windowStart > this.window) {
      e.failures = 0;
      e.windowStart = t;
    }
    e.failures++;
    e.last = t;
    if (e.failures >= limit && e.blockedUntil <= t) {
      const ms = Math.min(this.maxBackoff, this.backoff * 2 ** e.level);
      e.blockedUntil = t + ms;
      e.level++;
      // A new window starts with the block: the offender's next block needs `limit` failures again.
      e.failures = 0;
      e.windowStart = t;
      this.stats.blocks++;
      // Once per offender and block, not per refused attempt.
      this.warn(kind, key, e.blockedUntil, limit);
    }
  }

  /** A block from the shared store, when it ends later than this instance's own. */
  private adopt(table: Map<string, Strikes>, key: string, b: SharedBlock, t: number): void {
    if (b.blockedUntil <= t) return;
    const e = table.get(key);
    if (e === undefined || e.blockedUntil >= b.blockedUntil) return; // failed() made the entry just now
    e.blockedUntil = b.blockedUntil;
    e.level = Math.max(e.level, b.level);
    e.failures = 0;
    e.windowStart = t;
  }

  /** The entry for `key`, forgotten when it has been quiet longer than the longest block. */
  private live(table: Map<string, Strikes>, key: string, t: number): Strikes | undefined {
    const e = table.get(key);
    if (e === undefined) return undefined;
    if (e.blockedUntil <= t && t - e.last > this.maxBackoff) {
      table.delete(key);
      return undefined;
    }
    // The failure count of a source that failed once, long ago, does not keep it from a locked user.
    if (t - e.windowStart > this.window) {
      e.failures = 0;
      e.windowStart = t;
    }
    return e;
  }

  /** Make room: the oldest entry that is not blocked (looking at 64 at most), else the oldest. */
  private evict(table: Map<string, Strikes>, t: number): void {
    let n = 0;
    let first: string | undefined;
    for (const [key, e] of table) {
      first ??= key;
      if (e.blockedUntil <= t) {
        table.delete(key);
        return;
      }
      if (++n === 64) break; // bounded work: past 64 blocked ones, the oldest goes
    }
    if (first !== undefined) table.delete(first);
  }
}

function positive(v: number | undefined, def: number, name: string): number {
  if (v === undefined) return def;
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`AuthThrottle ${name} must be a positive number, got ${v}`);
  return v;
}
