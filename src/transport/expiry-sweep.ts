import { ConnectionExpiredError, ConnectTimeoutError } from './errors.js';
import { expireAfterMs, type PoolLimits } from './limits.js';
import { CLOSING, CONNECTING, now, OPEN, type PoolConnection } from './pool-connection.js';
import type { PoolStats } from './stats.js';

/**
 * One pass of a transport's sweep timer. Expires connections idle for
 * MIN_EXPIRE + (MAX_EXPIRE - MIN_EXPIRE) / (N - 1) seconds (N = connections + the master), keeps the
 * busy ones (held transactions) and those with writes pending (unless no byte drained for
 * MAX_EXPIRE), times out connects, and finishes closes (after `closeGraceMs`, or the expiry time
 * if shorter). Partial input is not activity: a peer trickling bytes is expired like a silent one.
 * A held connection that can be probed (WebSocket ping) is, once idle that long.
 * Returns when to sweep next (`next`, or an earlier connect deadline).
 */
export function sweepConnections(conns: Set<PoolConnection>, limits: PoolLimits, stats: PoolStats, closeGraceMs: number, next: number): number {
  const t = now();
  const expireMs = expireAfterMs(limits, conns.size + 1);
  const graceMs = Math.min(expireMs, closeGraceMs);
  const stallMs = limits.MAX_EXPIRE * 1000;
  for (const c of conns) {
    const state = c.state;
    if (state === CONNECTING) {
      if (t >= c.connectDeadline) {
        c.fail(new ConnectTimeoutError(`no connection to ${c.describe()} within ${limits.CONNECT_TIMEOUT} s`));
      } else if (c.connectDeadline < next) next = c.connectDeadline;
    } else if (state === OPEN) {
      if (c.pendingBytes > 0) {
        const out = c.bytesOut;
        if (out !== c.stallBytes) {
          c.stallBytes = out;
          c.stallSince = t;
        } else if (t - c.stallSince >= stallMs) expire(c, stats);
        continue;
      }
      if (c.busy > 0) {
        if (c.probe !== undefined && t - c.lastActivity >= expireMs) c.probe(t, expireMs);
        continue;
      }
      if (t - c.lastActivity >= (c.peerEnded ? graceMs : expireMs)) {
        if (c.peerEnded) c.finish();
        else expire(c, stats);
      }
    } else if (state === CLOSING && t - c.closingSince >= graceMs) {
      c.destroy();
    }
  }
  return next;
}

function expire(c: PoolConnection, stats: PoolStats): void {
  stats.connectionsExpired++;
  c.fail(new ConnectionExpiredError(`connection to ${c.describe()} expired`));
}

/** A transport's one sweep timer (unref'd): armed for the earliest time asked for. */
export class SweepTimer {
  private timer: NodeJS.Timeout | undefined = undefined;
  private at = Infinity;

  constructor(private readonly run: () => void) {}

  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Run at `at` (performance.now() time), unless already armed for no later. */
  schedule(at: number): void {
    if (this.timer !== undefined) {
      if (this.at <= at) return;
      clearTimeout(this.timer);
    }
    this.at = at;
    this.timer = setTimeout(this.fire, Math.max(1, at - now()));
    this.timer.unref();
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.at = Infinity;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.at = Infinity;
    this.run();
  };
}
