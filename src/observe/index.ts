export { SipMetrics, METHODS, CLASSES, LATENCY_BUCKETS, methodIndex, type CountedMethod } from './sip-metrics.js';
export { collectSipMetrics, toPrometheusText, type MetricFamily, type MetricSample, type MetricType, type SipMetricsSources } from './metric-families.js';
