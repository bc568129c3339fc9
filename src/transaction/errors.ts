import type { SipRequest } from '../message/index.js';

/** A client transaction timed out: Timer B (INVITE), F (non-INVITE) or C (INVITE left ringing). */
export class SipTimeoutError extends Error {
  override readonly name = 'SipTimeoutError';
  readonly code = 'ERR_SIP_TIMEOUT';
  constructor(
    /** The RFC 3261 timer that fired; 'CANCEL': no final response within 64*T1 of our CANCEL (§9.1). */
    readonly timer: 'B' | 'F' | 'C' | 'CANCEL',
    readonly request: SipRequest,
    readonly after: number,
  ) {
    super(`SIP ${request.method} transaction timed out (${timer === 'CANCEL' ? 'after CANCEL' : 'Timer ' + timer}, ${after} ms without a final response)`);
  }
}

export type SipTransactionErrorCode =
  /** The layer was closed while the transaction was open. */
  | 'ERR_SIP_LAYER_CLOSED'
  /** respond() on a transaction that already sent its final response or is terminated. */
  | 'ERR_SIP_TXN_STATE'
  /** The transaction was terminated (transport failure, timeout, CANCEL) before this call. */
  | 'ERR_SIP_TXN_TERMINATED'
  /** A request the layer cannot make a transaction for (no Via branch, ACK, duplicate branch). */
  | 'ERR_SIP_TXN_INVALID'
  /** The application discarded the request without a response (discard()). */
  | 'ERR_SIP_TXN_DISCARDED';

export class SipTransactionError extends Error {
  override readonly name = 'SipTransactionError';
  constructor(
    readonly code: SipTransactionErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reason of a server transaction's AbortSignal when the request was cancelled by the peer
 * (CANCEL, RFC 3261 §9.2). `signal.reason` is one of this, a SipServerTimeoutError (the application
 * did not answer in time), a SipTransactionError ('ERR_SIP_LAYER_CLOSED') or a transport error.
 */
export class SipCancelledError extends Error {
  override readonly name = 'SipCancelledError';
  readonly code = 'ERR_SIP_CANCELLED';
  constructor(readonly cancel: SipRequest) {
    super('SIP request cancelled by the peer (CANCEL)');
  }
}

/** The application did not give a final response in time; the layer answered 408/500 itself. */
export class SipServerTimeoutError extends Error {
  override readonly name = 'SipServerTimeoutError';
  readonly code = 'ERR_SIP_SERVER_TIMEOUT';
  constructor(
    readonly status: number,
    readonly after: number,
  ) {
    super(`no final response from the application within ${after} ms; answered ${status}`);
  }
}
