import type { TransactionMetrics } from './metrics-hooks.js';
import type { TransactionTransport } from './types.js';
import type { TimerQueue } from './timer-queue.js';
import type { TimerValues } from './timers.js';

/** Counters of a transaction layer. Plain numbers, updated in place (read `layer.stats`). */
export class TransactionStats {
  /** Server transactions created (one per new request, CANCEL included). */
  serverCreated = 0;
  /** Client transactions created (CANCELs sent by `cancel()` included). */
  clientCreated = 0;
  /** Server transactions alive now. */
  serverActive = 0;
  /** Client transactions alive now. */
  clientActive = 0;
  /** Transactions (both sides) still waiting for their final response. */
  pending = 0;
  /** Retransmitted requests absorbed by a server transaction (the application did not see them). */
  requestsAbsorbed = 0;
  /** ACKs absorbed: non-2xx ACKs (§17.2.1) and repeated 2xx ACKs. */
  acksAbsorbed = 0;
  /** ACKs for 2xx handed to the application. */
  acks2xx = 0;
  /** ACKs that matched nothing (still handed to onAck, with no transaction). */
  strayAcks = 0;
  /** Requests retransmitted by client transactions (Timers A, E). */
  requestsRetransmitted = 0;
  /** Responses retransmitted by server transactions (Timer G, 2xx, answers to retransmitted requests). */
  responsesRetransmitted = 0;
  /** Retransmitted final responses absorbed by client transactions (Timers D, K). */
  responsesAbsorbed = 0;
  /** Responses that matched no client transaction (handed to onStray). */
  strayResponses = 0;
  /** Client transactions that timed out (B, F, C). */
  timeouts = 0;
  /** Server transactions the application did not answer in time (answered 408/500 by the layer). */
  serverTimeouts = 0;
  /** Final responses never acknowledged (Timer H for non-2xx, L for 2xx). */
  unacked = 0;
  /** 100 Trying sent by the layer. */
  auto100 = 0;
  /** CANCELs received that matched an INVITE. */
  cancelsMatched = 0;
  /** CANCELs received that matched nothing (answered 481). */
  cancelsUnmatched = 0;
  /** CANCELs sent by client INVITE transactions. */
  cancelsSent = 0;
  /** Sends that failed. */
  transportErrors = 0;
  /** Completed-state records pushed out before Timer J because the table was full (maxCompleted). */
  completedEvicted = 0;
  /** Messages the layer could not use (missing/malformed Via, CSeq...): requests got a 400 when possible. */
  malformed = 0;
}

/**
 * What every transaction needs from its layer. Internal. Each kind adds what only it needs
 * (ServerTransactionCore, ClientTransactionCore, beside their classes), and TransactionLayer
 * implements both: the classes never import the layer, nor this file them.
 */
export interface TransactionCore {
  readonly transport: TransactionTransport;
  readonly queue: TimerQueue;
  readonly stats: TransactionStats;
  /** The metrics collector, when one is attached. */
  readonly metrics: TransactionMetrics | undefined;
  timersFor(reliable: boolean): TimerValues;
  reportError(err: unknown, txn?: unknown): void;
  /** A transaction got its final response (or failed): it no longer counts as pending. */
  settled(): void;
}
