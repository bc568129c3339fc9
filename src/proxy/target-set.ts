import type { SipResponse } from '../message/index.js';
import { SipTimeoutError } from '../transaction/index.js';
import { SipTransportError } from '../transport/index.js';
import type { ResolvedTarget } from './rfc3263.js';

/** Why a request goes on to the next target (RFC 3263 §4.3), or undefined: this outcome is final. */
export type FailoverCause = 'transport' | 'timeout' | '503';

/** Transport errors that say "this target cannot be reached" (not: our own pool is closed or full). */
const UNREACHABLE = new Set(['ERR_SIP_CONNECT_REFUSED', 'ERR_SIP_CONNECT_TIMEOUT', 'ERR_SIP_CONNECT_FAILED', 'ERR_SIP_TLS', 'ERR_SIP_CONNECTION_CLOSED', 'ERR_SIP_SEND_FAILED']);

/**
 * RFC 3263 §4.3: a transport failure (connection refused or failed, ICMP error where the socket
 * reports one), a transaction timeout (Timer B or F) or a 503 sends the request to the next target.
 */
export function failoverCause(res: SipResponse | undefined, err?: unknown): FailoverCause | undefined {
  if (res !== undefined) return res.status === 503 ? '503' : undefined;
  if (err instanceof SipTimeoutError) return err.timer === 'B' || err.timer === 'F' ? 'timeout' : undefined;
  if (err instanceof SipTransportError) return UNREACHABLE.has(err.code) ? 'transport' : undefined;
  return undefined;
}

/** A transport error that means "could not connect" (the TCP of an oversized request falls back to UDP on these). */
export function isConnectFailure(err: unknown): boolean {
  if (!(err instanceof SipTransportError)) return false;
  const c = err.code;
  return c === 'ERR_SIP_CONNECT_REFUSED' || c === 'ERR_SIP_CONNECT_TIMEOUT' || c === 'ERR_SIP_CONNECT_FAILED';
}

/** Retry-After of a response in seconds (RFC 3261 §20.33: delta-seconds, comment and params ignored); undefined without one. */
export function retryAfterSeconds(res: SipResponse): number | undefined {
  const v = res.headers.get('retry-after');
  if (v === undefined) return undefined;
  let i = 0;
  while (i < v.length && v.charCodeAt(i) === 32) i++;
  let n = 0;
  const start = i;
  for (; i < v.length && i - start < 10; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  return i > start ? n : undefined;
}

export interface DownListOptions {
  /** Most targets remembered (the oldest forgotten first). Default 1024. */
  maxEntries?: number;
  /** Longest a target stays down, seconds (a Retry-After above it is cut). Default 3600. */
  maxSeconds?: number;
  now?: () => number;
}

/**
 * Targets to avoid for a while: a 503 with Retry-After marks its sender down for that long
 * (RFC 3261 §21.5.4). Bounded; `order()` puts the targets that are down last, so a request still
 * has somewhere to go when every target is down.
 */
export class DownList {
  private readonly until = new Map<string, number>();
  private readonly max: number;
  private readonly maxMs: number;
  private readonly now: () => number;

  constructor(o: DownListOptions = {}) {
    this.max = Math.max(1, o.maxEntries ?? 1024);
    this.maxMs = (o.maxSeconds ?? 3600) * 1000;
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.until.size;
  }

  markDown(t: Pick<ResolvedTarget, 'proto' | 'addr' | 'port'>, seconds: number): void {
    if (!(seconds > 0)) return;
    const key = keyOf(t);
    const map = this.until;
    map.delete(key); // re-inserted last: the newest is kept longest
    while (map.size >= this.max) map.delete(map.keys().next().value!);
    map.set(key, this.now() + Math.min(seconds * 1000, this.maxMs));
  }

  isDown(t: Pick<ResolvedTarget, 'proto' | 'addr' | 'port'>): boolean {
    if (this.until.size === 0) return false;
    const key = keyOf(t);
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.until.delete(key);
    return false;
  }

  /** The targets with those that are down moved to the end (order otherwise kept). */
  order<T extends Pick<ResolvedTarget, 'proto' | 'addr' | 'port'>>(targets: readonly T[]): T[] {
    if (this.until.size === 0) return targets.slice();
    const up: T[] = [];
    const down: T[] = [];
    for (const t of targets) (this.isDown(t) ? down : up).push(t);
    return down.length === 0 ? up : up.concat(down);
  }
}

const keyOf = (t: Pick<ResolvedTarget, 'proto' | 'addr' | 'port'>): string => `${t.proto} ${t.addr} ${t.port}`;

/**
 * The targets of one request, tried one after another (RFC 3263 §4.3): `next()` gives the next,
 * after `failed()` told why the current one did not do (a 503 with Retry-After marks it down).
 * The proxy and the client use it alike; each attempt is a new client transaction (new branch).
 */
export class TargetSet {
  private readonly targets: ResolvedTarget[];
  private index = -1;

  constructor(
    targets: readonly ResolvedTarget[],
    private readonly down?: DownList,
  ) {
    this.targets = down !== undefined ? down.order(targets) : targets.slice();
  }

  get current(): ResolvedTarget | undefined {
    return this.targets[this.index];
  }

  /** Targets not tried yet. */
  get remaining(): number {
    return this.targets.length - this.index - 1;
  }

  next(): ResolvedTarget | undefined {
    if (this.index >= this.targets.length) return undefined;
    this.index++;
    return this.targets[this.index];
  }

  /**
   * The live attempt ended with `res` (a final response) or `err`: the next target when that calls
   * for fail-over (see failoverCause; a 503 with Retry-After marks the current one down), else
   * undefined (the outcome is final, or no target is left).
   */
  after(res: SipResponse | undefined, err?: unknown): ResolvedTarget | undefined {
    if (failoverCause(res, err) === undefined) return undefined;
    this.failed(res);
    return this.next();
  }

  /** The current target failed this way: a 503 with Retry-After puts it on the down list for that long. */
  failed(res: SipResponse | undefined): void {
    const t = this.current;
    if (t === undefined || res === undefined || this.down === undefined) return;
    const s = retryAfterSeconds(res);
    if (s !== undefined) this.down.markDown(t, s);
  }
}
