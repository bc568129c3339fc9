import type { SipRequest, SipResponse } from '../message/index.js';
import type { SipDestination, SipPeer } from './types.js';

/** A server transaction as an observer sees it. */
export interface ObservedServerTransaction {
  readonly method: string;
  readonly request: SipRequest;
  readonly from: SipPeer;
  /** When its request arrived (performance.now()), set while an observer is attached. */
  readonly startedAt: number;
  /** The last response it sent. */
  readonly lastResponse: SipResponse | undefined;
  /** A proxy relays its request (the responses are its branches'). */
  readonly proxied: boolean;
  /** A tracer's span for it (opaque here). */
  traceSpan: unknown;
}

/** A client transaction as an observer sees it. */
export interface ObservedClientTransaction {
  readonly method: string;
  readonly request: SipRequest;
  readonly dst: SipDestination;
  traceSpan: unknown;
}

/**
 * What the transaction layer tells an observer (metrics: observe/SipMetrics; tracing:
 * observe/SipTracing). Called on the hot path: implementations count into preallocated arrays or
 * do nothing, and never throw.
 */
export interface TransactionMetrics {
  /** A new server transaction (CANCEL included). */
  serverRequest(txn: ObservedServerTransaction): void;
  /** A server transaction sends a response for the first time (not a retransmission). */
  serverResponse(txn: ObservedServerTransaction, res: SipResponse): void;
  /** A server transaction ended (with or without a response). */
  serverEnd?(txn: ObservedServerTransaction): void;
  /** A client transaction is about to send its request the first time (headers may still change). */
  clientStart?(txn: ObservedClientTransaction): void;
  /** A client transaction ended: its final response, or undefined when it had none (timeout, transport failure). */
  clientFinal(txn: ObservedClientTransaction, res: SipResponse | undefined): void;
}
