import { createResponse, generateTag, type ResponseOptions, type SipRequest, type SipResponse } from '../message/index.js';
import type { TransactionCore } from './core.js';
import { TinyEmitter } from './emitter.js';
import { SipServerTimeoutError, SipTransactionError } from './errors.js';
import type { Deadlined, DeadlineList } from './deadline-list.js';
import type { TimerEntry, TimerTarget } from './timer-queue.js';
import type { TimerValues } from './timers.js';
import type { ServerTransactionState, SipPeer } from './types.js';

export interface ServerTransactionEvents {
  /** Every state change. */
  state: (state: ServerTransactionState) => void;
  /** INVITE: a CANCEL matched while no final response was sent; the layer already answered 200 and 487. */
  cancel: (cancel: SipRequest) => void;
  /** INVITE: the ACK for our 2xx (the first one; repeats are absorbed). Also given to the layer's onAck. */
  ack: (ack: SipRequest, from: SipPeer) => void;
  /** INVITE: a final response was never acknowledged: 2xx within 64*T1 (Timer L), non-2xx (Timer H). */
  unacked: (response: SipResponse) => void;
  /** The transaction was aborted (CANCEL, application timeout, transport failure, shutdown): the same reason as `signal`'s. */
  abort: (reason: unknown) => void;
  /** The transport failed to send a response (the transaction is terminated, §17.2.4). */
  error: (err: unknown) => void;
  terminated: () => void;
}

/** What a server transaction needs from its layer beyond the common part. Internal. */
export interface ServerTransactionCore extends TransactionCore {
  serverTerminated(txn: ServerTransaction): void;
  /**
   * A non-INVITE server transaction over UDP sent its final response: keep only what Timer J
   * needs (key, response, destination) so retransmitted requests still get it, and let the
   * transaction object go (at thousands of requests per second, 64*T1 of whole transactions is
   * gigabytes).
   */
  retainCompleted(txn: ServerTransaction, wire: Buffer, ms: number): void;
  /** Where the transaction waits for the application's answer (serverInviteTimeout / serverNonInviteTimeout). */
  appDeadlines(invite: boolean): DeadlineList;
  /** Server header for every response sent (see TransactionLayerOptions.serverHeader). */
  readonly serverHeader: string | undefined;
  registerAccepted(txn: ServerTransaction, ackKey: string): void;
  ackReceived(ack: SipRequest, from: SipPeer, txn: ServerTransaction): void;
  unacked(txn: ServerTransaction, res: SipResponse): void;
  /** A server transaction is about to send `res` (first send, not a retransmission). */
  responding(txn: ServerTransaction, res: SipResponse): void;
}

const noop = (): void => {};
function handledReject(err: unknown): Promise<never> {
  const p = Promise.reject(err);
  p.catch(noop);
  return p;
}

// Timer kinds (TimerTarget.onTimer argument).
/** @internal */
export const K_TRYING = 1; // auto 100 Trying
/** @internal */
export const K_RETX = 3; // G, or 2xx retransmission
/** @internal */
export const K_WAIT = 4; // H, or L
/** @internal */
export const K_END = 5; // I, or J

/** Extra headers and body for `respond(status, ...)` / `createResponse` (the To tag is the transaction's). */
export type TransactionResponseOptions = Omit<ResponseOptions, 'toTag'>;

/**
 * A server transaction (RFC 3261 §17.2): created by the layer for each new request and handed to
 * the application through `onRequest`. The application answers with `respond()`; everything else
 * (retransmissions, 100 Trying, ACK absorption, timers, CANCEL) happens here.
 */
export abstract class ServerTransaction extends TinyEmitter<ServerTransactionEvents> implements TimerTarget, Deadlined {
  abstract readonly isInvite: boolean;
  state: ServerTransactionState;
  /** The last response sent (what a retransmitted request gets). */
  lastResponse: SipResponse | undefined = undefined;
  /** Set when the transaction was cancelled by a CANCEL. */
  cancelRequest: SipRequest | undefined = undefined;
  readonly method: string;
  readonly reliable: boolean;

  protected readonly t: TimerValues;
  /** @internal its place among the transactions waiting for the application (DeadlineList). */
  dlPrev: Deadlined | undefined = undefined;
  dlNext: Deadlined | undefined = undefined;
  dlDue = 0;
  dlList: DeadlineList | undefined = undefined;
  protected retxTimer: TimerEntry | undefined = undefined;
  protected waitTimer: TimerEntry | undefined = undefined;
  protected endNow = false;
  /** Bytes of the response being sent, when accept() already serialised it (kept for Timer J). */
  protected wire: Buffer | undefined = undefined;
  private ac: AbortController | undefined = undefined;
  private abortReason: unknown = undefined;
  private tag: string | undefined = undefined;
  /** @internal no final response yet (counted in stats.pending). */
  _pending = true;
  /** @internal its key now maps to its Completed record (Timer J), no longer to it. */
  _retained = false;
  /** @internal hash of `key` in the layer's table, and its number there (-1: not in it). */
  _hash = 0;
  /** @internal */
  _index = -1;
  /**
   * A proxy relays this request (RFC 3261 §16): the responses sent are the branches', so none of
   * a user agent's part applies (no dialog, Contact, Server header, 2xx retransmission, ACK wait,
   * automatic 487 on CANCEL, application timeout: the proxy runs Timer C per branch).
   */
  proxied = false;
  /** When the request arrived (performance.now()), kept only while metrics are collected. */
  startedAt = 0;
  /** A tracer's span for it, while tracing. */
  traceSpan: unknown = undefined;

  constructor(
    /** The request that created the transaction. */
    readonly request: SipRequest,
    /** Who sent it: responses go back there (socket included). */
    readonly from: SipPeer,
    /** @internal matching key (§17.2.3). */
    readonly key: string,
    /** @internal */
    protected readonly core: ServerTransactionCore,
    initial: ServerTransactionState,
  ) {
    super();
    this.method = request.method;
    this.state = initial;
    if (core.metrics !== undefined) this.startedAt = performance.now();
    this.reliable = core.transport.reliable(from.proto);
    this.t = core.timersFor(this.reliable);
  }

  /**
   * Aborted when the application should stop working on the request: CANCEL (reason
   * SipCancelledError), no answer in time (SipServerTimeoutError), transport failure (that
   * error), layer closed (SipTransactionError 'ERR_SIP_LAYER_CLOSED').
   */
  get signal(): AbortSignal {
    if (this.ac === undefined) {
      this.ac = new AbortController();
      if (this.abortReason !== undefined) this.ac.abort(this.abortReason);
    }
    return this.ac.signal;
  }

  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  /** True once a final response was sent (or the transaction ended without one). */
  get finalSent(): boolean {
    return !this._pending;
  }

  /**
   * The To tag of this transaction's responses: the request's own (in-dialog request), else the
   * tag of the first tagged response sent, else a fresh one kept for every later response.
   */
  get toTag(): string {
    if (this.tag === undefined) this.tag = this.request.to.tag ?? generateTag();
    return this.tag;
  }

  /** @internal fix the To tag (CANCEL answers use the INVITE's, §9.2). */
  _useToTag(tag: string): void {
    this.tag = tag;
  }

  /** A response to this request (createResponse from the codec) with this transaction's To tag. */
  createResponse(status: number, reason?: string, opts?: TransactionResponseOptions): SipResponse {
    const toTag = status > 100 ? this.toTag : undefined;
    // No spread of an absent opts (the common respond(200)).
    return createResponse(this.request, status, reason, opts === undefined ? { toTag } : { ...opts, toTag });
  }

  /**
   * Send a response (a SipResponse, or a status to build one with `createResponse`). Provisional
   * responses may be sent while no final one was; the first final response ends the
   * application's part. Resolves when the transport took the bytes; rejects with the transport
   * error (the transaction is then terminated), or with SipTransactionError 'ERR_SIP_TXN_STATE'
   * when a final response was already sent (e.g. the layer answered 487 to a CANCEL, or 408/500
   * on timeout: check `signal.aborted`), or 'ERR_SIP_TXN_TERMINATED' / 'ERR_SIP_LAYER_CLOSED'.
   * The returned promise never causes an unhandled rejection if ignored; errors are also
   * emitted as 'error' and given to the layer's onError.
   */
  respond(response: SipResponse | number, reason?: string, opts?: TransactionResponseOptions): Promise<void> {
    const res = typeof response === 'number' ? this.createResponse(response, reason, opts) : response;
    const status = res.status;
    if (!(status >= 100 && status <= 699)) return handledReject(new RangeError(`response status ${status} out of range 100..699`));
    const err = this.check();
    if (err !== undefined) return handledReject(err);
    if (!this.proxied) {
      const server = this.core.serverHeader;
      if (server !== undefined && !res.headers.has('server')) res.headers.append('Server', server);
    }
    this.core.responding(this, res);
    if (status > 100 && this.tag === undefined && this.request.to.tag === undefined) {
      const t = res.to.tag;
      if (t !== undefined) this.tag = t;
    }
    this.accept(res);
    const wire = this.wire;
    this.wire = undefined;
    const p = this.transmit(wire ?? res);
    if (this.endNow) {
      this.endNow = false;
      this.terminate();
    }
    return p;
  }

  private check(): SipTransactionError | undefined {
    if (this.state === 'terminated') {
      return new SipTransactionError(
        this.abortReason instanceof SipTransactionError && this.abortReason.code === 'ERR_SIP_LAYER_CLOSED' ? 'ERR_SIP_LAYER_CLOSED' : 'ERR_SIP_TXN_TERMINATED',
        `${this.method} transaction is terminated`,
      );
    }
    if (!this._pending) {
      return new SipTransactionError('ERR_SIP_TXN_STATE', `${this.method} transaction already sent its final response (${this.lastResponse?.status ?? '-'}), state ${this.state}`);
    }
    return undefined;
  }

  /** State machine part of respond(); status is valid and the transaction still pending. */
  protected abstract accept(res: SipResponse): void;
  abstract onTimer(kind: number): void;
  /** @internal a retransmission of the request arrived. */
  abstract _retransmission(req: SipRequest, from: SipPeer): void;

  /** @internal start timers (the layer calls it right after creating the transaction). */
  _start(appTimeout: boolean): void {
    if (appTimeout) this.core.appDeadlines(this.isInvite).add(this);
  }

  /** @internal the application did not answer in time: 408 to an INVITE, 500 to anything else. */
  onDeadline(): void {
    this.appTimeout(this.isInvite ? 408 : 500);
  }

  /** The application answered (or need not): no more waiting for it. */
  protected stopAppTimer(): void {
    this.dlList?.remove(this);
  }

  protected transmit(res: SipResponse | Buffer): Promise<void> {
    let p: Promise<void>;
    try {
      p = this.core.transport.send(res, this.from);
    } catch (err) {
      p = Promise.reject(err);
    }
    // The caller gets the transport's own promise; this reaction, registered first, runs before
    // the caller's and marks it handled (one derived promise per send, not two).
    p.then(undefined, (err: unknown) => this.transportFailed(err));
    return p;
  }

  protected retransmit(res: SipResponse): void {
    this.core.stats.responsesRetransmitted++;
    void this.transmit(res);
  }

  protected transportFailed(err: unknown): void {
    this.core.stats.transportErrors++;
    if (this.state !== 'terminated') {
      this.abort(err);
      this.emit('error', err);
      this.terminate();
    }
    this.core.reportError(err, this);
  }

  protected abort(reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.ac?.abort(reason);
    this.emit('abort', reason);
  }

  protected setState(state: ServerTransactionState): void {
    this.state = state;
    this.emit('state', state);
  }

  protected markFinal(): void {
    if (this._pending) {
      this._pending = false;
      this.core.settled();
    }
  }

  protected appTimeout(status: number): void {
    if (!this._pending || this.state === 'terminated') return;
    const ms = this.isInvite ? this.t.serverInviteTimeout : this.t.serverNonInviteTimeout;
    this.core.stats.serverTimeouts++;
    this.abort(new SipServerTimeoutError(status, ms));
    void this.respond(status);
  }

  protected cancelTimers(): void {
    const q = this.core.queue;
    this.stopAppTimer();
    q.cancel(this.retxTimer);
    q.cancel(this.waitTimer);
    this.retxTimer = this.waitTimer = undefined;
  }

  /**
   * Hand the transaction to a proxy (RFC 3261 §16.2): from now on it relays the responses of the
   * proxy's branches. Fails once a final response was sent.
   */
  relayMode(): void {
    if (this.proxied) return;
    if (!this._pending || this.state === 'terminated') throw new SipTransactionError('ERR_SIP_TXN_STATE', `${this.method} transaction already answered: it cannot be proxied`);
    this.proxied = true;
    this.stopAppTimer();
  }

  /**
   * A proxy relays a 2xx that came after the first (a retransmission of the UAS's, or another
   * fork's, RFC 6026 §7.2): sent as it is while the INVITE transaction is Accepted. False when it
   * could not be (not proxied, or no longer Accepted).
   */
  relayLate2xx(res: SipResponse): boolean {
    if (!this.proxied || this.state !== 'accepted') return false;
    this.core.stats.responsesRetransmitted++;
    void this.transmit(res);
    return true;
  }

  /**
   * End without any response (a request ignored on purpose, e.g. from a throttled attacker): the
   * signal aborts and the transaction goes, so a retransmission is judged again as a new request.
   */
  discard(): void {
    if (this.finalSent || this.state === 'terminated') return;
    this._shutdown(new SipTransactionError('ERR_SIP_TXN_DISCARDED', 'request discarded without a response'));
  }

  /** @internal end now (layer closing): abort the signal and terminate. */
  _shutdown(reason: unknown): void {
    if (this.state === 'terminated') return;
    this.abort(reason);
    this.terminate();
  }

  protected terminate(): void {
    if (this.state === 'terminated') return;
    this.cancelTimers();
    if (this._pending) {
      this._pending = false;
      this.core.settled();
    }
    this.setState('terminated');
    this.core.serverTerminated(this);
    this.emit('terminated');
  }

  protected override listenerError(err: unknown): void {
    this.core.reportError(err, this);
  }
}

/** Non-INVITE server transaction (RFC 3261 §17.2.2): Trying -> Proceeding -> Completed (Timer J) -> Terminated. */
export class NonInviteServerTransaction extends ServerTransaction {
  readonly isInvite = false;

  constructor(request: SipRequest, from: SipPeer, key: string, core: ServerTransactionCore) {
    super(request, from, key, core, 'trying');
  }

  protected accept(res: SipResponse): void {
    this.lastResponse = res;
    if (res.status < 200) {
      if (this.state === 'trying') this.setState('proceeding');
      return;
    }
    this.stopAppTimer();
    this.markFinal();
    this.setState('completed');
    // Completed only absorbs retransmissions (Timer J): the layer keeps the response's bytes for that.
    if (this.t.J !== 0) {
      this.core.retainCompleted(this, (this.wire = res.toBuffer()), this.t.J);
      this._retained = true;
    }
    this.endNow = true;
  }

  onTimer(): void {
    // No timer of its own: Timer J is the layer's record, the application timeout its DeadlineList.
  }

  _retransmission(_req: SipRequest, _from: SipPeer): void {
    this.core.stats.requestsAbsorbed++;
    if (this.state === 'proceeding') this.retransmit(this.lastResponse!);
  }
}
