import type { SipRequest, SipResponse } from '../message/index.js';
import type { AdmissionOptions } from './admission.js';
import type { ClientTransaction } from './client-transaction.js';
import type { Clock } from './clock.js';
import type { InviteServerTransaction } from './invite-server-transaction.js';
import type { TransactionMetrics } from './metrics-hooks.js';
import type { ServerTransaction } from './server-transaction.js';
import type { TimerOptions } from './timers.js';
import type { SipDestination, SipPeer, TransactionTransport } from './types.js';

/** What the transaction layer is built with: its transport, clock, timers, limits and the hooks it calls. */

export type AnyTransaction = ServerTransaction | ClientTransaction;

export interface TransactionLayerHooks {
  /**
   * A new request (not a retransmission, not ACK, not CANCEL) that passed validation. Answer it
   * with `txn.respond()`. Throwing here answers 500 (if nothing was sent) and reports the error.
   */
  onRequest?: (txn: ServerTransaction) => void;
  /**
   * An ACK for a 2xx (`txn` = the INVITE transaction it acknowledges; its 2xx retransmissions have
   * stopped), or an ACK matching nothing (`txn` undefined: e.g. the ACK of a 2xx whose transaction
   * already ended). ACKs for non-2xx responses are absorbed and never reach here.
   */
  onAck?: (ack: SipRequest, from: SipPeer, txn: InviteServerTransaction | undefined) => void;
  /**
   * A response that matched no client transaction (counted in stats.strayResponses). A 2xx to an
   * INVITE arriving here is a retransmission after the transaction ended (or a late fork): the
   * UA core finds its dialog by Call-ID/tags and ACKs it again (RFC 3261 §13.2.2.4).
   */
  onStray?: (res: SipResponse, from: SipPeer) => void;
  /**
   * A server transaction is about to send a response (the application's, or the layer's own 100,
   * 487, 408...; not retransmissions): the UA core adds a Contact to dialog-creating responses and
   * keeps its dialogs. Throwing here reports the error; the response is still sent.
   */
  onResponse?: (txn: ServerTransaction, res: SipResponse) => void;
  /** A final INVITE response never ACKed: 2xx within 64*T1 (Timer L; the UA should send BYE) or non-2xx (Timer H). */
  onUnacked?: (txn: InviteServerTransaction, res: SipResponse) => void;
  /**
   * Connection bookkeeping for reliable transports (TCP/TLS), never called for UDP. onOpen: a
   * server transaction was created (`peer` = the request's `from`, socket included), or a client
   * transaction's first send succeeded (`peer` = the `dst` given to `request()`; the connection
   * exists from then on). onClose: that transaction ended. Always in pairs, once each; a client
   * transaction that ended before its first send completed gets neither.
   * With the SocketPool: `onOpen: (p, t) => pool.hold(t.request)`, `onClose: (p, t) => pool.release(t.request)`
   * (release only what hold() returned true for).
   */
  onOpen?: (peer: SipDestination, txn: AnyTransaction) => void;
  onClose?: (peer: SipDestination, txn: AnyTransaction) => void;
  /** Errors that have no caller to go to: transport failures, throwing callbacks. */
  onError?: (err: unknown, txn?: AnyTransaction) => void;
}

export interface TransactionLayerOptions extends TransactionLayerHooks {
  transport: TransactionTransport;
  /** Time source; default the system clock (unref'd timers). */
  clock?: Clock;
  /** T1/T2/T4 and the layer's own timeouts (see TimerOptions). */
  timers?: TimerOptions;
  /**
   * Add `received` / fill `rport` in the top Via of each new request (RFC 3261 §18.2.1, RFC
   * 3581), so responses built from it carry them. Default true.
   */
  stampVia?: boolean;
  /**
   * Check each new request with the codec's validateRequest (mandatory headers, single values)
   * and answer 400 through a transaction without calling onRequest. Default true.
   */
  validate?: boolean;
  /** A Server header added to every response this layer sends that has none (RFC 3261 §20.35). */
  serverHeader?: string;
  /**
   * Most non-INVITE UDP transactions kept in Completed state (for Timer J, about 410 bytes each);
   * past it the oldest goes first. Default 200,000.
   */
  maxCompleted?: number;
  /**
   * Overload control for new server transactions (see AdmissionOptions): 503 or drop when the
   * event loop lags or too many transactions live, and a per-source rate limit. Off unless given.
   */
  admission?: AdmissionOptions;
  /** A metrics collector told of requests, responses and client outcomes (observe/SipMetrics). */
  metrics?: TransactionMetrics;
}
