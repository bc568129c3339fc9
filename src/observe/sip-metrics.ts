import type { SipResponse } from '../message/index.js';
import type { ObservedClientTransaction, ObservedServerTransaction, TransactionMetrics } from '../transaction/index.js';

/** The methods counted by name; any other is counted as `other` (labels stay bounded). */
export const METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'INFO', 'UPDATE', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH', 'other'] as const;
export type CountedMethod = (typeof METHODS)[number];

/** Response classes as labels: index 1..6 = 1xx..6xx, 0 = no response (client timeout or transport failure). */
export const CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx', '6xx'] as const;

/** Upper bounds (seconds) of the request-to-final-response histogram buckets (+Inf implied). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

const M = METHODS.length;
const C = CLASSES.length;
const B = LATENCY_BUCKETS.length + 1;
const BUCKET_MS = LATENCY_BUCKETS.map((s) => s * 1000);

/** A method's index in METHODS; a switch V8 compiles to a few comparisons (no Map on the hot path). */
export function methodIndex(method: string): number {
  switch (method) {
    case 'INVITE':
      return 0;
    case 'ACK':
      return 1;
    case 'BYE':
      return 2;
    case 'CANCEL':
      return 3;
    case 'REGISTER':
      return 4;
    case 'OPTIONS':
      return 5;
    case 'INFO':
      return 6;
    case 'UPDATE':
      return 7;
    case 'PRACK':
      return 8;
    case 'SUBSCRIBE':
      return 9;
    case 'NOTIFY':
      return 10;
    case 'REFER':
      return 11;
    case 'MESSAGE':
      return 12;
    case 'PUBLISH':
      return 13;
    default:
      return 14;
  }
}

/**
 * The counters that need the hot path: requests received and responses sent per method and
 * status class, client outcomes, and a request-to-final-response latency histogram per method.
 * Plain typed arrays, allocated once; everything else a scrape shows is read from counters the
 * layers keep anyway (see collectSipMetrics).
 */
export class SipMetrics implements TransactionMetrics {
  readonly requestsReceived = new Float64Array(M);
  /** [method * C + class] */
  readonly responsesSent = new Float64Array(M * C);
  /** Client transactions' outcomes, [method * C + class] (class 0: no response). */
  readonly responsesReceived = new Float64Array(M * C);
  /** Non-cumulative bucket counts, [method * B + bucket] (last bucket: above the largest bound). */
  readonly latencyBuckets = new Float64Array(M * B);
  readonly latencySum = new Float64Array(M);
  readonly latencyCount = new Float64Array(M);

  serverRequest(txn: ObservedServerTransaction): void {
    this.requestsReceived[methodIndex(txn.method)]!++;
  }

  serverResponse(txn: ObservedServerTransaction, res: SipResponse): void {
    const m = methodIndex(txn.method);
    const status = res.status;
    this.responsesSent[m * C + classOf(status)]!++;
    const startedAt = txn.startedAt;
    if (status < 200 || startedAt === 0) return;
    const ms = performance.now() - startedAt;
    let b = 0;
    while (b < BUCKET_MS.length && ms > BUCKET_MS[b]!) b++;
    this.latencyBuckets[m * B + b]!++;
    this.latencySum[m]! += ms / 1000;
    this.latencyCount[m]!++;
  }

  clientFinal(txn: ObservedClientTransaction, res: SipResponse | undefined): void {
    this.responsesReceived[methodIndex(txn.method) * C + (res === undefined ? 0 : classOf(res.status))]!++;
  }
}

function classOf(status: number): number {
  const c = (status / 100) | 0;
  return c >= 1 && c <= 6 ? c : 0;
}

export const METRIC_SHAPE = { methods: M, classes: C, buckets: B } as const;
