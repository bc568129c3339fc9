import type { AdmissionStats, TransactionStats } from '../transaction/index.js';
import type { PoolStats } from '../transport/index.js';
import { CLASSES, LATENCY_BUCKETS, METHODS, METRIC_SHAPE, type SipMetrics } from './sip-metrics.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One sample; `suffix` is `_bucket`, `_sum` or `_count` for a histogram's parts. */
export interface MetricSample {
  labels: Readonly<Record<string, string>>;
  value: number;
  suffix?: '_bucket' | '_sum' | '_count';
}

/** A metric family as Prometheus exposes it. Label values are bounded sets (no Call-IDs, users, addresses). */
export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: MetricSample[];
}

/** Where a scrape reads from: the hot-path counters and what the layers keep anyway. */
export interface SipMetricsSources {
  metrics: SipMetrics;
  transactions: TransactionStats;
  /** Server and client transactions alive now. */
  live: { server: number; client: number };
  pools: readonly { proto: string; stats: PoolStats }[];
  admission?: AdmissionStats;
  /** Dialogs in the table now. */
  dialogs?: number;
  /** Event-loop delay since the last scrape, seconds: p99 and max. */
  loopDelay?: { p99: number; max: number };
  /** Families of the application's (registrations...) appended as they are. */
  extra?: readonly MetricFamily[];
}

const fam = (name: string, help: string, type: MetricType, samples: MetricSample[] = []): MetricFamily => ({ name, help, type, samples });

/** Every family of one scrape, read from `src`. */
export function collectSipMetrics(src: SipMetricsSources, prefix = 'sip_'): MetricFamily[] {
  const { methods: M, classes: C, buckets: B } = METRIC_SHAPE;
  const m = src.metrics;
  const t = src.transactions;
  const out: MetricFamily[] = [];
  const requests = fam(`${prefix}requests_received_total`, 'Requests that started a server transaction, by method.', 'counter');
  const sent = fam(`${prefix}responses_sent_total`, 'Responses sent by server transactions (first sends), by method and class.', 'counter');
  const got = fam(`${prefix}client_transactions_total`, "Client transactions ended, by method and final response class ('none': timeout or transport failure).", 'counter');
  const latency = fam(`${prefix}request_duration_seconds`, 'From a request to its final response, by method (server transactions).', 'histogram');
  for (let i = 0; i < M; i++) {
    const method = METHODS[i]!;
    if (m.requestsReceived[i]! > 0) requests.samples.push({ labels: { method }, value: m.requestsReceived[i]! });
    for (let c = 0; c < C; c++) {
      const v = m.responsesSent[i * C + c]!;
      if (v > 0) sent.samples.push({ labels: { method, class: CLASSES[c]! }, value: v });
      const r = m.responsesReceived[i * C + c]!;
      if (r > 0) got.samples.push({ labels: { method, class: CLASSES[c]! }, value: r });
    }
    if (m.latencyCount[i]! > 0) {
      let cum = 0;
      for (let b = 0; b < B; b++) {
        cum += m.latencyBuckets[i * B + b]!;
        latency.samples.push({ labels: { method, le: b < LATENCY_BUCKETS.length ? String(LATENCY_BUCKETS[b]) : '+Inf' }, value: cum, suffix: '_bucket' });
      }
      latency.samples.push({ labels: { method }, value: m.latencySum[i]!, suffix: '_sum' });
      latency.samples.push({ labels: { method }, value: m.latencyCount[i]!, suffix: '_count' });
    }
  }
  out.push(requests, sent, got, latency);
  out.push(
    fam(`${prefix}transactions_live`, 'Transactions alive now, by kind.', 'gauge', [
      { labels: { kind: 'server' }, value: src.live.server },
      { labels: { kind: 'client' }, value: src.live.client },
    ]),
    fam(`${prefix}retransmissions_total`, 'Retransmissions sent (by our timers, or answering a repeated request) and absorbed (repeats that reached nobody).', 'counter', [
      { labels: { direction: 'sent', message: 'request' }, value: t.requestsRetransmitted },
      { labels: { direction: 'sent', message: 'response' }, value: t.responsesRetransmitted },
      { labels: { direction: 'absorbed', message: 'request' }, value: t.requestsAbsorbed },
      { labels: { direction: 'absorbed', message: 'response' }, value: t.responsesAbsorbed },
      { labels: { direction: 'absorbed', message: 'ack' }, value: t.acksAbsorbed },
    ]),
    fam(`${prefix}transaction_timeouts_total`, 'Client transactions timed out (B, F, C) and requests the application did not answer in time.', 'counter', [
      { labels: { side: 'client' }, value: t.timeouts },
      { labels: { side: 'server' }, value: t.serverTimeouts },
    ]),
    fam(`${prefix}unacknowledged_total`, 'Final INVITE responses never acknowledged (Timers H and L).', 'counter', [{ labels: {}, value: t.unacked }]),
    fam(`${prefix}send_failures_total`, 'Sends that failed (transport errors under a transaction).', 'counter', [{ labels: {}, value: t.transportErrors }]),
  );
  const rejected = fam(`${prefix}rejected_total`, 'Messages refused before any transaction, by reason.', 'counter', [{ labels: { reason: 'invalid', transport: 'any' }, value: t.malformed }]);
  const dropped = fam(`${prefix}dropped_total`, 'Messages and connections dropped by limits, by reason.', 'counter');
  const open = fam(`${prefix}connections_open`, 'TCP/TLS connections open now, by transport.', 'gauge');
  const connectFailures = fam(`${prefix}connect_failures_total`, 'Outgoing connection attempts that failed, by transport.', 'counter');
  const byProto = new Map<string, PoolStats[]>();
  for (const p of src.pools) byProto.set(p.proto, [...(byProto.get(p.proto) ?? []), p.stats]);
  for (const [transport, list] of byProto) {
    const sum = (k: keyof PoolStats): number => list.reduce((a, s) => a + s[k], 0);
    rejected.samples.push({ labels: { reason: 'parse', transport }, value: sum('parseErrors') });
    dropped.samples.push(
      { labels: { reason: 'datagram', transport }, value: sum('datagramsDropped') },
      { labels: { reason: 'foreign', transport }, value: sum('foreignDropped') },
      { labels: { reason: 'queue_full', transport }, value: sum('queueFull') },
    );
    if (transport !== 'udp') {
      dropped.samples.push(
        { labels: { reason: 'max_connections', transport }, value: sum('connectionsRejected') },
        { labels: { reason: 'max_connections_per_source', transport }, value: sum('connectionsRejectedPerSource') },
        { labels: { reason: 'idle_expired', transport }, value: sum('connectionsExpired') },
      );
      open.samples.push({ labels: { transport }, value: sum('connectionsOpen') });
      connectFailures.samples.push({ labels: { transport }, value: sum('connectFailures') });
    }
  }
  const a = src.admission;
  if (a !== undefined) {
    dropped.samples.push(
      { labels: { reason: 'overload_503', transport: 'any' }, value: a.overloaded },
      { labels: { reason: 'overload_shed', transport: 'any' }, value: a.shed },
      { labels: { reason: 'per_source_503', transport: 'any' }, value: a.sourceRejected },
      { labels: { reason: 'per_source_drop', transport: 'any' }, value: a.sourceDropped },
    );
  }
  out.push(rejected, dropped, open, connectFailures);
  if (src.dialogs !== undefined) out.push(fam(`${prefix}dialogs_live`, 'Dialogs in the dialog table now.', 'gauge', [{ labels: {}, value: src.dialogs }]));
  if (src.loopDelay !== undefined) {
    out.push(
      fam(`${prefix}event_loop_delay_seconds`, 'Event-loop delay since the previous scrape.', 'gauge', [
        { labels: { stat: 'p99' }, value: src.loopDelay.p99 },
        { labels: { stat: 'max' }, value: src.loopDelay.max },
      ]),
    );
  }
  if (src.extra !== undefined) out.push(...src.extra);
  return out;
}

/** The Prometheus text exposition format (version 0.0.4) of `families`. */
export function toPrometheusText(families: readonly MetricFamily[]): string {
  let s = '';
  for (const f of families) {
    s += `# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${f.name} ${f.type}\n`;
    for (const x of f.samples) {
      const keys = Object.keys(x.labels);
      const labels = keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${escapeLabel(x.labels[k]!)}"`).join(',')}}`;
      s += `${f.name}${x.suffix ?? ''}${labels} ${formatValue(x.value)}\n`;
    }
  }
  return s;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
