import type { SipRequest, SipResponse } from '../message/index.js';
import type { TransactionCore } from './core.js';
import { SipTimeoutError } from './errors.js';
import type { TimerEntry, TimerTarget } from './timer-queue.js';
import type { TimerValues } from './timers.js';
import type { ClientTransactionState, SipDestination, SipPeer } from './types.js';

/** What a client transaction needs from its layer beyond the common part. Internal. */
export interface ClientTransactionCore extends TransactionCore {
  clientTerminated(txn: ClientTransaction): void;
  /** The first send of a client transaction over a reliable transport succeeded. */
  clientSent(txn: ClientTransaction): void;
  sendCancel(cancel: SipRequest, dst: SipDestination): ClientTransaction | undefined;
}

/**
 * Callbacks of one client transaction. All optional; a handler that throws is reported to the
 * layer's onError and does not disturb the transaction.
 */
export interface ClientTransactionHandlers {
  /** Each provisional (1xx) response. */
  onProvisional?(res: SipResponse, txn: ClientTransaction): void;
  /** The final response (first one only). Non-2xx INVITE responses are already ACKed by the layer. */
  onFinal?(res: SipResponse, txn: ClientTransaction): void;
  /**
   * INVITE only: a 2xx received after the first final response while the transaction is in
   * RFC 6026's Accepted state (64*T1): a retransmission of the 2xx (the UA must ACK it again) or
   * the 2xx of another fork (another To tag). After the transaction ends, such responses reach
   * the layer's onStray.
   */
  onLate2xx?(res: SipResponse, txn: ClientTransaction): void;
  /**
   * The transaction failed before a final response: SipTimeoutError (Timer B, F, C, or no final
   * response 64*T1 after a CANCEL), the transport's error (§17.1.4), or SipTransactionError
   * 'ERR_SIP_LAYER_CLOSED'.
   */
  onError?(err: unknown, txn: ClientTransaction): void;
}

const noop = (): void => {};
/** @internal */
export const NO_HANDLERS: ClientTransactionHandlers = {};

/** @internal */
export const K_RETX = 1; // A or E
/** @internal */
export const K_TIMEOUT = 2; // B, F, C, CANCEL guard
/** @internal */
export const K_END = 3; // D, K, M

/** A client transaction (RFC 3261 §17.1), made by `layer.request()`. */
export abstract class ClientTransaction implements TimerTarget {
  abstract readonly isInvite: boolean;
  state: ClientTransactionState;
  readonly method: string;
  readonly reliable: boolean;
  /** Last response received (provisional or final). */
  lastResponse: SipResponse | undefined = undefined;
  /** The final response, once received. */
  finalResponse: SipResponse | undefined = undefined;
  /** Why the transaction failed, if it did. */
  error: unknown = undefined;
  /** A tracer's span for it, while tracing. */
  traceSpan: unknown = undefined;

  protected readonly t: TimerValues;
  protected retxTimer: TimerEntry | undefined = undefined;
  protected timeoutTimer: TimerEntry | undefined = undefined;
  protected endTimer: TimerEntry | undefined = undefined;
  protected interval = 0;
  private promise: Promise<SipResponse> | undefined = undefined;
  private resolveFn: ((res: SipResponse) => void) | undefined = undefined;
  private rejectFn: ((err: unknown) => void) | undefined = undefined;

  constructor(
    readonly request: SipRequest,
    readonly dst: SipDestination,
    /** @internal matching key (§17.1.3). */
    readonly key: string,
    /** Via branch of the request. */
    readonly branch: string,
    protected handlers: ClientTransactionHandlers,
    /** @internal */
    protected readonly core: ClientTransactionCore,
    initial: ClientTransactionState,
  ) {
    this.method = request.method;
    this.state = initial;
    this.reliable = core.transport.reliable(dst.proto);
    this.t = core.timersFor(this.reliable);
  }

  /**
   * The final response (any status, 2xx or not); rejects like onError. Made on first use, and
   * marked handled, so an unused or ignored promise never causes an unhandled rejection.
   */
  get result(): Promise<SipResponse> {
    if (this.promise === undefined) {
      if (this.finalResponse !== undefined) this.promise = Promise.resolve(this.finalResponse);
      else if (this.error !== undefined) this.promise = Promise.reject(this.error);
      else {
        this.promise = new Promise<SipResponse>((resolve, reject) => {
          this.resolveFn = resolve;
          this.rejectFn = reject;
        });
      }
      this.promise.catch(noop);
    }
    return this.promise;
  }

  /** Replace the callbacks (e.g. with {} to stop listening). */
  setHandlers(handlers: ClientTransactionHandlers): void {
    this.handlers = handlers;
  }

  /** INVITE: send (or schedule) a CANCEL; see InviteClientTransaction.cancel. Others: no effect, false. */
  cancel(): boolean {
    return false;
  }

  get terminated(): boolean {
    return this.state === 'terminated';
  }

  /** @internal send the request and start the timers. */
  abstract _start(): void;
  /** @internal a response matched this transaction. */
  abstract _response(res: SipResponse, from: SipPeer): void;
  abstract onTimer(kind: number): void;

  /** @internal onOpen was called for this transaction (reliable transport, first send done). */
  _opened = false;

  /**
   * First send of the request. Over a reliable transport the layer reports the transaction open
   * (onOpen) only once this send succeeded: the connection exists from then on.
   */
  protected transmitFirst(): void {
    let p: Promise<void>;
    try {
      p = this.core.transport.send(this.request, this.dst);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(this.reliable ? () => this.core.clientSent(this) : undefined, (err: unknown) => this.transportFailed(err));
  }

  protected transmit(msg: SipRequest, failOnError: boolean): void {
    let p: Promise<void>;
    try {
      p = this.core.transport.send(msg, this.dst);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(undefined, failOnError ? (err: unknown) => this.transportFailed(err) : (err: unknown) => this.sendFailedLate(err));
  }

  private transportFailed(err: unknown): void {
    this.core.stats.transportErrors++;
    if (this.state === 'terminated' || this.finalResponse !== undefined) {
      this.core.reportError(err, this);
      return;
    }
    this.fail(err);
  }

  private sendFailedLate(err: unknown): void {
    this.core.stats.transportErrors++;
    this.core.reportError(err, this);
  }

  protected provisional(res: SipResponse): void {
    const h = this.handlers.onProvisional;
    if (h !== undefined) {
      try {
        h.call(this.handlers, res, this);
      } catch (err) {
        this.core.reportError(err, this);
      }
    }
  }

  protected deliverFinal(res: SipResponse): void {
    this.finalResponse = res;
    this.core.settled();
    this.core.metrics?.clientFinal(this, res);
    const resolve = this.resolveFn;
    this.resolveFn = this.rejectFn = undefined;
    resolve?.(res);
    const h = this.handlers.onFinal;
    if (h !== undefined) {
      try {
        h.call(this.handlers, res, this);
      } catch (err) {
        this.core.reportError(err, this);
      }
    }
  }

  /** Fail before a final response: timers off, onError, promise rejected, terminated. */
  protected fail(err: unknown): void {
    if (this.state === 'terminated') return;
    this.error = err;
    const hadFinal = this.finalResponse !== undefined;
    this.terminate();
    if (hadFinal) return;
    this.core.settled();
    this.core.metrics?.clientFinal(this, undefined);
    const reject = this.rejectFn;
    this.resolveFn = this.rejectFn = undefined;
    reject?.(err);
    const h = this.handlers.onError;
    if (h !== undefined) {
      try {
        h.call(this.handlers, err, this);
      } catch (e) {
        this.core.reportError(e, this);
      }
    }
  }

  protected timeout(timer: 'B' | 'F' | 'C' | 'CANCEL', after: number): void {
    this.core.stats.timeouts++;
    this.fail(new SipTimeoutError(timer, this.request, after));
  }

  protected cancelTimers(): void {
    const q = this.core.queue;
    q.cancel(this.retxTimer);
    q.cancel(this.timeoutTimer);
    q.cancel(this.endTimer);
    this.retxTimer = this.timeoutTimer = this.endTimer = undefined;
  }

  protected stopRetransmitting(): void {
    this.core.queue.cancel(this.retxTimer);
    this.retxTimer = undefined;
  }

  protected terminate(): void {
    if (this.state === 'terminated') return;
    this.cancelTimers();
    this.state = 'terminated';
    this.core.clientTerminated(this);
  }

  /** Completed/Accepted: wait `ms` for response retransmissions, or end now when 0. */
  protected linger(ms: number): void {
    if (ms === 0) this.terminate();
    else this.endTimer = this.core.queue.schedule(ms, this, K_END);
  }

  /** @internal layer closing. */
  _shutdown(reason: unknown): void {
    if (this.state === 'terminated') return;
    if (this.finalResponse === undefined) this.fail(reason);
    else this.terminate();
  }
}

/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2): Trying (Timer E doubling up to T2 over UDP,
 * Timer F) -> Proceeding (E every T2) -> Completed (Timer K absorbs retransmissions) -> Terminated.
 */
export class NonInviteClientTransaction extends ClientTransaction {
  readonly isInvite = false;

  constructor(request: SipRequest, dst: SipDestination, key: string, branch: string, handlers: ClientTransactionHandlers | undefined, core: ClientTransactionCore) {
    super(request, dst, key, branch, handlers ?? NO_HANDLERS, core, 'trying');
  }

  _start(): void {
    const t = this.t;
    const q = this.core.queue;
    this.transmitFirst();
    if (t.E > 0) {
      this.interval = t.E;
      this.retxTimer = q.schedule(t.E, this, K_RETX);
    }
    this.timeoutTimer = q.schedule(t.F, this, K_TIMEOUT);
  }

  onTimer(kind: number): void {
    const t = this.t;
    switch (kind) {
      case K_RETX: // Timer E
        this.retxTimer = undefined;
        if (this.state !== 'trying' && this.state !== 'proceeding') return;
        this.core.stats.requestsRetransmitted++;
        this.transmit(this.request, true);
        this.interval = this.state === 'trying' ? Math.min(this.interval * 2, t.T2) : t.T2;
        this.retxTimer = this.core.queue.schedule(this.interval, this, K_RETX);
        return;
      case K_TIMEOUT: // Timer F
        this.timeoutTimer = undefined;
        if (this.state === 'trying' || this.state === 'proceeding') this.timeout('F', t.F);
        return;
      case K_END: // Timer K
        this.endTimer = undefined;
        this.terminate();
        return;
    }
  }

  _response(res: SipResponse, _from: SipPeer): void {
    const state = this.state;
    if (state === 'completed') {
      this.core.stats.responsesAbsorbed++;
      return;
    }
    if (state !== 'trying' && state !== 'proceeding') return;
    this.lastResponse = res;
    if (res.status < 200) {
      this.state = 'proceeding';
      this.provisional(res);
      return;
    }
    this.cancelTimers();
    this.state = 'completed';
    this.linger(this.t.K);
    this.deliverFinal(res);
  }
}
