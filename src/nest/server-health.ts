import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { SipEndpoint } from './sip-endpoint.js';

/** One leg in a health report. */
export interface SipLegHealth {
  transport: string;
  address: string;
  /** Bound and accepting (its socket open). */
  up: boolean;
}

/** What `server.health()` reports: `ok` unless a leg is down, the loop lags too much, or a check failed. */
export interface SipHealthReport {
  ok: boolean;
  status: 'listening' | 'not-listening';
  legs: SipLegHealth[];
  /** Worst event-loop delay since the previous report, ms. */
  loopDelayMs: number;
  /** Results of the checks given (a location store, a database...): undefined when it passed, else why not. */
  checks: Record<string, string | undefined>;
  /** Why `ok` is false, one line each. */
  problems: string[];
}

export interface SipHealthOptions {
  /** The worst event-loop delay (ms) still healthy. Default 1000. */
  maxLoopDelayMs?: number;
  /** More things to check: each resolves when fine, rejects (or times out after `timeoutMs`) when not. */
  checks?: Record<string, () => Promise<unknown>>;
  /** How long each check may take, ms. Default 2000. */
  timeoutMs?: number;
}

/**
 * A SipServer's health, for an orchestrator's probe (`/health`, @nestjs/terminus through
 * `nestjs-sip/terminus`): every leg bound, the event loop not stuck, the application's own checks
 * (its location store) passing.
 */
export class ServerHealth {
  private loop: IntervalHistogram | undefined = undefined;

  constructor(private readonly endpoint: () => SipEndpoint | undefined) {}

  async report(opts: SipHealthOptions = {}): Promise<SipHealthReport> {
    const e = this.endpoint();
    const problems: string[] = [];
    const legs: SipLegHealth[] = (e?.pools ?? []).map((p) => {
      const a = p.local;
      const up = !p.closed;
      const address = `${p.proto}:${a.family === 6 ? `[${a.addr}]` : a.addr}:${a.port}`;
      if (!up) problems.push(`leg ${address} is closed`);
      return { transport: p.proto, address, up };
    });
    if (e === undefined) problems.push('the server is not listening');
    if (this.loop === undefined) {
      // Measured from the first report on: the first one says 0.
      this.loop = monitorEventLoopDelay({ resolution: 20 });
      this.loop.enable();
    }
    const loopDelayMs = this.loop.count > 0 ? this.loop.max / 1e6 : 0;
    this.loop.reset();
    const max = opts.maxLoopDelayMs ?? 1000;
    if (loopDelayMs > max) problems.push(`event-loop delay ${Math.round(loopDelayMs)} ms over ${max} ms`);
    const checks: Record<string, string | undefined> = {};
    const timeout = opts.timeoutMs ?? 2000;
    await Promise.all(
      Object.entries(opts.checks ?? {}).map(async ([name, fn]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([fn(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${timeout} ms`)), timeout)))]);
          checks[name] = undefined;
        } catch (err) {
          checks[name] = err instanceof Error ? err.message : String(err);
          problems.push(`${name}: ${checks[name]}`);
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return { ok: problems.length === 0, status: e === undefined ? 'not-listening' : 'listening', legs, loopDelayMs, checks, problems };
  }

  /** Stop measuring (the server closed). */
  stop(): void {
    this.loop?.disable();
    this.loop = undefined;
  }
}
