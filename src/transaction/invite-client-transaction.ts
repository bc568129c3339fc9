import type { SipRequest, SipResponse } from '../message/index.js';
import { ClientTransaction, K_END, K_RETX, K_TIMEOUT, NO_HANDLERS, type ClientTransactionCore, type ClientTransactionHandlers } from './client-transaction.js';
import { buildAckForNon2xx, buildCancel } from './messages.js';
import type { SipDestination, SipPeer } from './types.js';

/**
 * INVITE client transaction (RFC 3261 §17.1.1 with RFC 6026): Calling (Timer A retransmits over
 * UDP, Timer B times out) -> Proceeding (Timer C: CANCEL, then give up) -> Completed on 3xx-6xx
 * (the layer ACKs, Timer D absorbs retransmissions) or Accepted on 2xx (Timer M: later 2xx go to
 * onLate2xx) -> Terminated.
 */
export class InviteClientTransaction extends ClientTransaction {
  readonly isInvite = true;
  /** The ACK the layer sent for a non-2xx final response. */
  ack: SipRequest | undefined = undefined;
  /** The CANCEL client transaction, once a CANCEL was sent. */
  cancelTransaction: ClientTransaction | undefined = undefined;
  /** cancel() was called (the CANCEL may wait for a provisional response). */
  cancelRequested = false;
  /** A CANCEL was sent (or attempted): from then on only 64*T1 stands between the INVITE and its end. */
  private cancelSent = false;
  private cancelReason: 'C' | 'CANCEL' = 'CANCEL';

  constructor(request: SipRequest, dst: SipDestination, key: string, branch: string, handlers: ClientTransactionHandlers | undefined, core: ClientTransactionCore) {
    super(request, dst, key, branch, handlers ?? NO_HANDLERS, core, 'calling');
  }

  _start(): void {
    const t = this.t;
    const q = this.core.queue;
    this.transmitFirst();
    if (t.A > 0) {
      this.interval = t.A;
      this.retxTimer = q.schedule(t.A, this, K_RETX);
    }
    this.timeoutTimer = q.schedule(t.B, this, K_TIMEOUT);
  }

  /**
   * Cancel the INVITE (RFC 3261 §9.1). Before any provisional response the CANCEL is only
   * scheduled (it goes out when the first 1xx arrives); after one it is sent at once, as a
   * non-INVITE client transaction of its own (`cancelTransaction`). The INVITE transaction stays
   * and still takes the final response (normally 487, ACKed by the layer; a 2xx that crossed the
   * CANCEL is delivered as usual and the UA must ACK and BYE it). If no final response comes
   * within 64*T1 of the CANCEL, the transaction fails with SipTimeoutError('CANCEL').
   * Returns false when there is nothing to cancel (final response received, or terminated).
   */
  override cancel(): boolean {
    if (this.state !== 'calling' && this.state !== 'proceeding') return false;
    if (this.cancelRequested) return true;
    this.cancelRequested = true;
    if (this.state === 'proceeding') this.sendCancel();
    return true;
  }

  private sendCancel(): void {
    this.cancelSent = true;
    this.cancelTransaction = this.core.sendCancel(buildCancel(this.request), this.dst);
    // §9.1: without a final response within 64*T1 of the CANCEL, give up on the INVITE.
    const q = this.core.queue;
    q.cancel(this.timeoutTimer);
    this.timeoutTimer = q.schedule(64 * this.t.T1, this, K_TIMEOUT);
  }

  onTimer(kind: number): void {
    const t = this.t;
    switch (kind) {
      case K_RETX: // Timer A
        this.retxTimer = undefined;
        if (this.state !== 'calling') return;
        this.core.stats.requestsRetransmitted++;
        this.transmit(this.request, true);
        this.interval = t.capInviteRetransmit ? Math.min(this.interval * 2, t.T2) : this.interval * 2;
        this.retxTimer = this.core.queue.schedule(this.interval, this, K_RETX);
        return;
      case K_TIMEOUT:
        this.timeoutTimer = undefined;
        if (this.state === 'calling') this.timeout('B', t.B);
        else if (this.state === 'proceeding') {
          // A CANCEL went out (or could not be built): 64*T1 without a final response ends it.
          if (this.cancelSent) this.timeout(this.cancelReason, 64 * t.T1);
          else {
            // Timer C: nobody answered the ringing INVITE; cancel it.
            this.cancelReason = 'C';
            this.cancelRequested = true;
            this.sendCancel();
          }
        }
        return;
      case K_END: // Timer D or M
        this.endTimer = undefined;
        this.terminate();
        return;
    }
  }

  _response(res: SipResponse, _from: SipPeer): void {
    const status = res.status;
    const state = this.state;
    this.lastResponse = res;
    if (status < 200) {
      if (state !== 'calling' && state !== 'proceeding') return;
      if (state === 'calling') {
        this.state = 'proceeding';
        this.cancelTimers();
        if (this.cancelRequested) this.sendCancel();
        else if (this.t.C > 0) this.timeoutTimer = this.core.queue.schedule(this.t.C, this, K_TIMEOUT);
      } else if (!this.cancelSent && this.t.C > 0) {
        // Every provisional response restarts Timer C (RFC 3261 §16.8): a long ring sends 1xx again.
        const q = this.core.queue;
        q.cancel(this.timeoutTimer);
        this.timeoutTimer = q.schedule(this.t.C, this, K_TIMEOUT);
      }
      this.provisional(res);
      return;
    }
    if (status < 300) {
      if (state === 'calling' || state === 'proceeding') {
        this.cancelTimers();
        this.state = 'accepted';
        this.linger(this.t.M);
        this.deliverFinal(res);
      } else if (state === 'accepted') {
        const h = this.handlers.onLate2xx;
        if (h !== undefined) {
          try {
            h.call(this.handlers, res, this);
          } catch (err) {
            this.core.reportError(err, this);
          }
        }
      }
      return;
    }
    if (state === 'calling' || state === 'proceeding') {
      this.cancelTimers();
      this.ack = buildAckForNon2xx(this.request, res);
      this.transmit(this.ack, false);
      this.state = 'completed';
      this.linger(this.t.D);
      this.deliverFinal(res);
    } else if (state === 'completed') {
      // Timer D: a retransmitted final response gets the ACK again, and nothing else.
      this.core.stats.responsesAbsorbed++;
      this.transmit(this.ack!, false);
    }
  }
}
