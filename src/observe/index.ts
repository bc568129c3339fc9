export { SipMetrics, METHODS, CLASSES, LATENCY_BUCKETS, methodIndex, type CountedMethod } from './sip-metrics.js';
export { collectSipMetrics, toPrometheusText, type MetricFamily, type MetricSample, type MetricType, type SipMetricsSources } from './metric-families.js';
export { HepMirror, encodeHep3, callIdOfWire, type HepOptions, type HepPacket } from './hep.js';
export { SipTracing, type SipTracingOptions, type OtelApiLike, type SpanLike, type SpanContextLike } from './sip-tracing.js';
export { ObserverPair, combineObservers } from './observer-pair.js';
export { TransactionLog, formatTransactionLine, type TransactionLogEntry } from './transaction-log.js';
