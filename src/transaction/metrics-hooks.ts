/**
 * What the transaction layer tells a metrics collector (observe/SipMetrics implements it). Called
 * on the hot path: implementations count into preallocated arrays and never throw.
 */
export interface TransactionMetrics {
  /** A new server transaction for `method` (CANCEL included). */
  serverRequest(method: string): void;
  /**
   * A server transaction sends a response for the first time (not a retransmission).
   * `startedAt`: when its request arrived (performance.now()), for request-to-final latency.
   */
  serverResponse(method: string, status: number, startedAt: number): void;
  /** A client transaction ended: its final response's status, or 0 when it had none (timeout, transport failure). */
  clientFinal(method: string, status: number): void;
}
