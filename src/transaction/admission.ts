import type { SipRequest } from '../message/index.js';
import { sourceKey } from '../transport/index.js';
import type { Clock } from './clock.js';

/**
 * Overload control for new server transactions (what Kamailio's pike and RFC 7339 practice): an
 * admission gate in front of the transaction layer. Retransmissions, ACK and CANCEL never reach it
 * (they match work already admitted); in-dialog requests pass unless their source is blocked.
 */
export interface AdmissionOptions {
  /** Most live server transactions; a new request over it gets 503. Default 50,000 (about 1.7 KB each). */
  maxTransactions?: number;
  /**
   * Event-loop utilisation (0..1, over the last 20 ms) over which new requests get 503: the server
   * answers the cheap way before its socket queue grows, so that the requests it admits stay fast.
   * Off (0) by default: a server busy in a closed loop (a benchmark, a burst after a GC pause) is
   * fully used without being overloaded; 0.9 is what `npm run overload` measures with.
   */
  maxLoad?: number;
  /**
   * Event-loop lag (ms) over which new requests get 503; over twice it they are dropped, since even
   * a 503 costs more than the server has. Default 200; 0 turns the check off.
   */
  maxLag?: number;
  /**
   * How long (ms) a datagram now waits in the server's UDP socket queue before it is read, as a
   * probe of the endpoint's own measures it every 20 ms: over it, a share of new requests gets 503
   * (cut while the wait stays over, raised again under half of it). This is the wait every request
   * feels, so shedding on it keeps the admitted ones fast. Off (0) by default.
   */
  maxQueueDelay?: number;
  /** Per-source request rate (by IPv4 address, IPv6 /64); `false` turns it off. */
  perSource?: PerSourceLimit | false;
  /** Retry-After (seconds) in the 503s. Default 5. */
  retryAfter?: number;
  /**
   * A source whose new requests are refused for load (lag, utilisation, queue delay, transaction
   * cap) gets at most one 503 per this many ms (after a burst of 10); the others are dropped, since
   * each 503 costs the server a datagram written while it is short of time. A light client still
   * gets its 503 (or is admitted); a flooding front proxy gets a steady trickle of 503s and silence
   * for the rest.
   * Default 10; 0 answers every refused request.
   */
  refusalInterval?: number;
}

export interface PerSourceLimit {
  /** New requests per source allowed in each window. Default 1,000. */
  limit?: number;
  /** Window, ms. Default 1,000. */
  window?: number;
  /** How long a source over the limit stays blocked, ms; doubled for each repeat, up to 16 times. Default 5,000. */
  block?: number;
  /** A blocked source: 503 (once per window) then silence, or only silence ('drop'). Default '503'. */
  action?: '503' | 'drop';
  /** Addresses never limited (a front proxy such as Kamailio's dispatcher). */
  exempt?: string[];
  /** Most sources tracked (oldest forgotten first). Default 10,000. */
  maxSources?: number;
}

/** The admitted share is cut at most once per this many ms. */
const CUT_EVERY = 10;

/** The admitted share never goes below this (the probe's own signal needs some traffic to recover). */
const MIN_SHARE = 0.01;

/** 503s a source refused for load may get back to back before refusalInterval paces them. */
const REFUSAL_BURST = 10;

/** What to do with a new request. */
export const ADMIT = 0;
export const REJECT = 1;
export const DROP = 2;
export type Admission = typeof ADMIT | typeof REJECT | typeof DROP;

/** Counters of the gate. */
export class AdmissionStats {
  /** Answered 503 because the server is overloaded (lag, load, queue delay or transaction cap). */
  overloaded = 0;
  /** Dropped because even a 503 was too costly (lag over twice the bound, or its source had its 503 within refusalInterval). */
  shed = 0;
  /** Answered 503 / dropped because their source was over its rate. */
  sourceRejected = 0;
  sourceDropped = 0;
  /** Times a source was blocked. */
  sourcesBlocked = 0;
}

/** One source's count in the current window and its block. */
class SourceEntry {
  count = 0;
  windowStart: number;
  blockedUntil = 0;
  strikes = 0;
  /** Window in which the blocked source last got its 503. */
  told = -1;
  constructor(now: number) {
    this.windowStart = now;
  }
}

export class AdmissionGate {
  readonly stats = new AdmissionStats();
  readonly maxTransactions: number;
  readonly maxLag: number;
  readonly maxLoad: number;
  readonly maxQueueDelay: number;
  readonly retryAfter: number;
  private readonly limit: number;
  private readonly window: number;
  private readonly block: number;
  private readonly dropBlocked: boolean;
  private readonly maxSources: number;
  private readonly exempt: ReadonlySet<string>;
  private readonly sources: Map<string, SourceEntry> | undefined;
  private readonly refusalInterval: number;
  /** When each source refused for load last got its 503 (bounded like `sources`). */
  private readonly refusedAt = new Map<string, number>();
  /** The event loop's lag, ms, and utilisation (0..1), as the endpoint last measured them (this layer keeps no real timer of its own). */
  lag = 0;
  load = 0;
  /** The UDP socket queue's wait, ms, as the endpoint's probe last measured it (see noteQueueDelay). */
  queueDelay = 0;
  /**
   * Share of new requests admitted while the queue delay is over its bound (RFC 7339's loss-based
   * algorithm): cut by a third at each measurement over the bound, raised by a twentieth at each one
   * under half of it. Admitting all or nothing on each 20 ms measurement made the queue swing (all
   * admitted, the queue fills for 20 ms, all refused, it empties); a share settles where the
   * admitted work fits, and the queue's wait stays near the bound.
   */
  admitShare = 1;
  private shareCredit = 0;
  /** When the share was last cut, and last raised (or measured not under half the bound). */
  private lastCut = -Infinity;
  private lastRaise = -Infinity;

  constructor(
    opts: AdmissionOptions,
    private readonly clock: Clock,
  ) {
    this.maxTransactions = opts.maxTransactions ?? 50_000;
    this.maxLag = opts.maxLag ?? 200;
    this.maxLoad = opts.maxLoad ?? 0;
    this.maxQueueDelay = opts.maxQueueDelay ?? 0;
    this.retryAfter = opts.retryAfter ?? 5;
    this.refusalInterval = opts.refusalInterval ?? 10;
    const ps = opts.perSource === false ? undefined : (opts.perSource ?? {});
    this.limit = ps?.limit ?? 1000;
    this.window = ps?.window ?? 1000;
    this.block = ps?.block ?? 5000;
    this.dropBlocked = ps?.action === 'drop';
    this.maxSources = ps?.maxSources ?? 10_000;
    this.exempt = new Set(ps?.exempt ?? []);
    this.sources = ps === undefined ? undefined : new Map();
  }

  /** Number of sources tracked now. */
  get trackedSources(): number {
    return this.sources?.size ?? 0;
  }

  /**
   * A new request `req` from `addr` (not a retransmission, ACK or CANCEL); `live` = server
   * transactions alive now. An in-dialog request (To tag) belongs to admitted work: only its
   * source's rate can stop it.
   */
  check(addr: string, req: SipRequest, live: number): Admission {
    const sources = this.sources;
    if (sources !== undefined && !this.exempt.has(addr)) {
      // IPv6 by /64: one host picks its addresses from a whole prefix.
      const verdict = this.bySource(sources, addr.indexOf(':') === -1 ? addr : sourceKey(addr));
      if (verdict !== ADMIT) return verdict;
    }
    // In-dialog: admitted work, whatever the load (and it takes nothing of the admitted share).
    if (req.to.tag !== undefined) return ADMIT;
    const maxLag = this.maxLag;
    const overloaded =
      (maxLag > 0 && this.lag > maxLag) ||
      (this.maxLoad > 0 && this.load > this.maxLoad) ||
      (this.admitShare < 1 && !this.takeShare()) ||
      live >= this.maxTransactions;
    if (!overloaded) return ADMIT;
    if ((maxLag > 0 && this.lag > 2 * maxLag) || !this.answerRefusal(addr)) {
      this.stats.shed++;
      return DROP;
    }
    this.stats.overloaded++;
    return REJECT;
  }

  /**
   * Whether `addr`, refused for load, gets a 503 now: one per refusalInterval, with a burst of
   * REFUSAL_BURST (two requests of a light client may be read together after a wait). GCRA: one
   * number per source, the time its budget is next free.
   */
  private answerRefusal(addr: string): boolean {
    const every = this.refusalInterval;
    if (every <= 0) return true;
    const now = this.clock.now();
    const told = this.refusedAt;
    if (addr.indexOf(':') !== -1) addr = sourceKey(addr);
    const last = told.get(addr);
    const tat = last === undefined || last < now ? now : last;
    if (tat - now > every * (REFUSAL_BURST - 1)) return false;
    if (last === undefined) makeRoom(told, this.maxSources);
    told.set(addr, tat + every);
    return true;
  }

  /**
   * A measurement of the UDP socket queue's wait (ms), from the endpoint's probe: adjusts the share
   * of new requests admitted (see admitShare). Only with `maxQueueDelay`.
   */
  noteQueueDelay(ms: number): void {
    this.queueDelay = ms;
    const bound = this.maxQueueDelay;
    if (bound <= 0) return;
    const now = this.clock.now();
    if (ms > bound) {
      // At most one cut per CUT_EVERY ms (the probe measures more often while over): by a third
      // just over the bound, in proportion to the wait when far over it (a flood's onset: 30 ms
      // over a 5 ms bound takes five sixths at once), never below a tenth in one cut.
      if (now - this.lastCut < CUT_EVERY) return;
      this.lastCut = now;
      this.admitShare = Math.max(MIN_SHARE, this.admitShare * Math.max(0.1, Math.min(0.66, bound / ms)));
    } else if (ms < bound / 2 && this.admitShare < 1) {
      // Raised by a twentieth per 20 ms under half the bound, however often it is measured.
      const step = Math.min(0.05, (0.05 * (now - this.lastRaise)) / 20);
      this.lastRaise = now;
      this.admitShare = Math.min(1, this.admitShare + step);
      return;
    }
    this.lastRaise = now;
  }

  /** Whether this request is in the admitted share (every 1/share-th one, evenly spread). */
  private takeShare(): boolean {
    this.shareCredit += this.admitShare;
    if (this.shareCredit < 1) return false;
    this.shareCredit -= 1;
    return true;
  }

  private bySource(sources: Map<string, SourceEntry>, addr: string): Admission {
    const now = this.clock.now();
    let e = sources.get(addr);
    if (e === undefined) {
      makeRoom(sources, this.maxSources);
      e = new SourceEntry(now);
      sources.set(addr, e);
    }
    if (now - e.windowStart >= this.window) {
      e.windowStart = now;
      e.count = 0;
    }
    e.count++;
    if (e.blockedUntil > now) return this.blocked(e);
    if (e.count <= this.limit) return ADMIT;
    e.strikes = Math.min(e.strikes + 1, 5);
    e.blockedUntil = now + this.block * 2 ** (e.strikes - 1);
    this.stats.sourcesBlocked++;
    return this.blocked(e);
  }

  private blocked(e: SourceEntry): Admission {
    if (this.dropBlocked || e.told === e.windowStart) {
      this.stats.sourceDropped++;
      return DROP;
    }
    e.told = e.windowStart;
    this.stats.sourceRejected++;
    return REJECT;
  }
}

/** Forget the oldest entry (insertion order) of a full table: it stays bounded whatever the spoofing. */
function makeRoom(table: Map<string, unknown>, max: number): void {
  if (table.size < max) return;
  const oldest = table.keys().next().value;
  if (oldest !== undefined) table.delete(oldest);
}
