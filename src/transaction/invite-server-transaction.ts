import type { SipRequest, SipResponse } from '../message/index.js';
import { SipCancelledError } from './errors.js';
import { ackDialogKey } from './messages.js';
import { K_END, K_RETX, K_TRYING, K_WAIT, ServerTransaction, type ServerTransactionCore } from './server-transaction.js';
import type { TimerEntry } from './timer-queue.js';
import type { SipPeer } from './types.js';

/**
 * INVITE server transaction (RFC 3261 §17.2.1 with RFC 6026): Proceeding -> Completed (3xx-6xx,
 * Timer G retransmits until ACK, H gives up) -> Confirmed (Timer I) -> Terminated, or Proceeding
 * -> Accepted (2xx, retransmitted on G's schedule until its ACK arrives, Timer L) -> Terminated.
 */
export class InviteServerTransaction extends ServerTransaction {
  readonly isInvite = true;
  /** The 2xx was acknowledged. */
  acked = false;
  /** @internal key in the layer's 2xx-ACK map. */
  _ackKey: string | undefined = undefined;
  private tryingTimer: TimerEntry | undefined = undefined;
  private interval = 0;

  constructor(request: SipRequest, from: SipPeer, key: string, core: ServerTransactionCore) {
    super(request, from, key, core, 'proceeding');
  }

  override _start(appTimeout: boolean): void {
    super._start(appTimeout);
    const t100 = this.t.trying100;
    if (t100 === false) return;
    if (t100 === 0) this.sendTrying();
    else this.tryingTimer = this.core.queue.schedule(t100, this, K_TRYING);
  }

  private sendTrying(): void {
    if (this.state !== 'proceeding' || this.lastResponse !== undefined) return;
    this.core.stats.auto100++;
    void this.respond(100);
  }

  protected accept(res: SipResponse): void {
    const status = res.status;
    const q = this.core.queue;
    if (this.tryingTimer !== undefined) {
      q.cancel(this.tryingTimer);
      this.tryingTimer = undefined;
    }
    this.lastResponse = res;
    if (status < 200) return;
    this.stopAppTimer();
    this.markFinal();
    const t = this.t;
    if (status < 300 && this.proxied) {
      // RFC 6026 §8.5: a proxy's Accepted state only relays later 2xx; the UAS retransmits its
      // 2xx and the ACK is end to end (through us only when record-routed, as a new request).
      this.setState('accepted');
      this.waitTimer = q.schedule(t.L, this, K_END);
      return;
    }
    if (status < 300) {
      this.setState('accepted');
      const req = this.request;
      this._ackKey = ackDialogKey(req.callId, req.cseq.seq, req.from.tag, res.to.tag);
      this.core.registerAccepted(this, this._ackKey);
      this.waitTimer = q.schedule(t.L, this, K_WAIT);
    } else {
      this.setState('completed');
      this.waitTimer = q.schedule(t.H, this, K_WAIT);
    }
    if (t.G > 0) {
      this.interval = t.G;
      this.retxTimer = q.schedule(t.G, this, K_RETX);
    }
  }

  onTimer(kind: number): void {
    switch (kind) {
      case K_TRYING:
        this.tryingTimer = undefined;
        this.sendTrying();
        return;
      case K_RETX: {
        this.retxTimer = undefined;
        if (this.state !== 'completed' && !(this.state === 'accepted' && !this.acked)) return;
        this.retransmit(this.lastResponse!);
        const next = Math.min(this.interval * 2, this.t.T2);
        this.interval = next;
        this.retxTimer = this.core.queue.schedule(next, this, K_RETX);
        return;
      }
      case K_WAIT:
        this.waitTimer = undefined;
        if (this.state === 'completed' || (this.state === 'accepted' && !this.acked)) {
          // Timer H (non-2xx never ACKed: transaction failure) or Timer L without ACK (RFC 6026).
          this.core.stats.unacked++;
          const res = this.lastResponse!;
          this.emit('unacked', res);
          this.core.unacked(this, res);
        }
        this.terminate();
        return;
      case K_END: // Timer I
        this.waitTimer = undefined;
        this.terminate();
        return;
    }
  }

  _retransmission(_req: SipRequest, _from: SipPeer): void {
    this.core.stats.requestsAbsorbed++;
    switch (this.state) {
      case 'proceeding':
        if (this.lastResponse !== undefined) this.retransmit(this.lastResponse);
        else if (this.t.trying100 !== false) {
          if (this.tryingTimer !== undefined) this.core.queue.cancel(this.tryingTimer);
          this.tryingTimer = undefined;
          this.sendTrying();
        }
        return;
      case 'completed':
      case 'accepted':
        this.retransmit(this.lastResponse!);
        return;
      default:
        return;
    }
  }

  /** @internal an ACK matched this transaction (by branch, or by dialog for a 2xx). */
  _ack(ack: SipRequest, from: SipPeer): void {
    const stats = this.core.stats;
    switch (this.state) {
      case 'completed': {
        stats.acksAbsorbed++;
        const q = this.core.queue;
        q.cancel(this.retxTimer);
        q.cancel(this.waitTimer);
        this.retxTimer = undefined;
        this.waitTimer = undefined;
        this.setState('confirmed');
        if (this.t.I === 0) this.terminate();
        else this.waitTimer = q.schedule(this.t.I, this, K_END);
        return;
      }
      case 'accepted':
        if (this.acked) {
          stats.acksAbsorbed++;
          return;
        }
        this.acked = true;
        stats.acks2xx++;
        this.core.queue.cancel(this.retxTimer);
        this.retxTimer = undefined;
        this.emit('ack', ack, from);
        this.core.ackReceived(ack, from, this);
        return;
      default:
        // Confirmed: retransmitted ACK. Proceeding: an ACK before any final response, ignore it.
        stats.acksAbsorbed++;
        return;
    }
  }

  /**
   * @internal a CANCEL matched (§9.2). Answers 487 if no final response was sent, aborts the
   * signal and emits 'cancel'. The CANCEL itself is answered by the layer.
   */
  _cancel(cancel: SipRequest): void {
    if (this.state !== 'proceeding' || !this._pending) return;
    this.cancelRequest = cancel;
    // A proxy cancels its branches and relays their 487 (§16.10); a UAS answers it here.
    if (!this.proxied) void this.respond(487);
    this.abort(new SipCancelledError(cancel));
    this.emit('cancel', cancel);
  }
}
