// `nestjs-sip/prometheus`: the server's metrics in a prom-client registry. A separate entry point,
// so that only applications that import it need prom-client (an optional peer dependency).
import type { Registry } from 'prom-client';
import type { MetricFamily } from './observe/index.js';
import type { SipServer } from './nest/index.js';

export interface SipPrometheusOptions {
  /** The registry to add to (prom-client's `register` for the default one). */
  registry: Registry;
  /** Name prefix of every family. Default `sip_`. */
  prefix?: string;
}

/**
 * Register `server.metrics` in a prom-client registry: one collector per family, each reading the
 * server's counters when the registry is scraped (nothing is counted twice, nothing runs between
 * scrapes). Families a later `server.metrics.addSource()` adds are not registered: add sources first.
 * Returns the names registered.
 */
export function registerSipMetrics(server: SipServer, opts: SipPrometheusOptions): string[] {
  const metrics = server.metrics;
  if (metrics === undefined) throw new Error('registerSipMetrics: this SipServer was created with metrics: false');
  const prefix = opts.prefix ?? 'sip_';
  // One scrape reads every family: compute them once and share them with the other collectors of
  // the same scrape (prom-client calls every get() in the same tick).
  let cached: Map<string, MetricFamily> | undefined;
  const current = (): Map<string, MetricFamily> => {
    if (cached === undefined) {
      cached = new Map(metrics.families(prefix).map((f) => [f.name, f]));
      queueMicrotask(() => (cached = undefined));
    }
    return cached;
  };
  const names: string[] = [];
  for (const f of metrics.families(prefix)) {
    const name = f.name;
    const collector = {
      name,
      help: f.help,
      type: f.type,
      aggregator: f.type === 'gauge' ? 'average' : 'sum',
      get() {
        const now = current().get(name);
        return {
          name,
          help: f.help,
          type: f.type,
          aggregator: this.aggregator,
          values: (now?.samples ?? []).map((s) => ({ labels: { ...s.labels }, value: s.value, metricName: s.suffix === undefined ? undefined : name + s.suffix })),
        };
      },
      reset() {},
    };
    opts.registry.registerMetric(collector as never);
    names.push(name);
  }
  return names;
}
