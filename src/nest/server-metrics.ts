import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { collectSipMetrics, SipMetrics, toPrometheusText, type MetricFamily } from '../observe/index.js';
import { TransactionStats } from '../transaction/index.js';
import type { SipEndpoint } from './sip-endpoint.js';

/**
 * A SipServer's metrics: the hot-path counters (SipMetrics, fed by the transaction layer) and,
 * read at scrape time, what the pools, the transaction layer, the admission gate and the dialog
 * table count anyway, plus the event-loop delay. `families()` for any exporter, `text()` for a
 * Prometheus scrape; `nestjs-sip/prometheus` registers them in a prom-client registry.
 */
export class ServerMetrics {
  readonly counters = new SipMetrics();
  private endpoint: SipEndpoint | undefined = undefined;
  private loop: IntervalHistogram | undefined = undefined;
  private readonly extra: (() => MetricFamily[])[] = [];

  /** @internal the server listens: read from its endpoint. */
  _attach(endpoint: SipEndpoint): void {
    this.endpoint = endpoint;
    if (this.loop === undefined) {
      this.loop = monitorEventLoopDelay({ resolution: 20 });
      this.loop.enable();
    }
  }

  /** @internal the server closed. */
  _detach(): void {
    this.loop?.disable();
    this.loop = undefined;
  }

  /** Add the application's own families (registrations, calls...) to every scrape. */
  addSource(fn: () => MetricFamily[]): void {
    this.extra.push(fn);
  }

  /** Every metric family now (empty counters omitted); the event-loop delay window restarts. */
  families(prefix = 'sip_'): MetricFamily[] {
    const e = this.endpoint;
    const layer = e?.layer;
    let loopDelay: { p99: number; max: number } | undefined;
    if (this.loop !== undefined) {
      loopDelay = { p99: this.loop.percentile(99) / 1e9, max: this.loop.max / 1e9 };
      this.loop.reset();
    }
    const extra: MetricFamily[] = [];
    for (const f of this.extra) extra.push(...f());
    return collectSipMetrics(
      {
        metrics: this.counters,
        transactions: layer?.stats ?? new TransactionStats(),
        live: { server: layer?.serverCount ?? 0, client: layer?.clientCount ?? 0 },
        pools: e?.pools.map((p) => ({ proto: p.proto, stats: p.stats })) ?? [],
        admission: layer?.admission?.stats,
        dialogs: e?.dialogs.size,
        loopDelay,
        extra,
      },
      prefix,
    );
  }

  /** The Prometheus text format of `families()` (Content-Type `text/plain; version=0.0.4`). */
  text(prefix?: string): string {
    return toPrometheusText(this.families(prefix));
  }
}
