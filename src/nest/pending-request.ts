import type { WritePacket } from '@nestjs/microservices';
import type { SipClientAuth } from '../auth/client-challenge.js';
import type { DialogFlow, SipDialog } from '../dialog/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import type { ClientTransaction, SipDestination } from '../transaction/index.js';
import type { SipEndpoint } from './sip-endpoint.js';
import { SipResponseError } from './sip-response-error.js';
import type { SipTransportName } from './sip-resolver.js';

/** What a Pending needs from the client that sent it. */
export interface PendingOwner {
  uacDialog(invite: SipRequest, res: SipResponse, dst: SipDestination): SipDialog | undefined;
  ack2xx(invite: SipRequest, res: SipResponse, bye: boolean, ep?: SipEndpoint): Promise<void>;
  ackSending(res: SipResponse, sending: Promise<void>): void;
  awaitAck(invite: SipRequest, res: SipResponse): void;
  /** A dialog's re-INVITE got this 2xx (the dialog ACKs it; `invite` is the request as last sent). */
  inDialog2xx(invite: SipRequest, res: SipResponse): void;
  reAck(res: SipResponse): void;
  reportError(err: unknown): void;
  settled(p: Pending): void;
  /** Keep the dialogs of a forked INVITE's later 2xx (else ACK and BYE them). */
  readonly keepsForks: boolean;
  dialogOfResponse(res: SipResponse): SipDialog | undefined;
  forked(dialog: SipDialog, res: SipResponse): void;
}

/** How a request its sender built goes out (see SipClient.sendBuilt). */
export interface BuiltRequestOptions {
  /** Transport for URIs that name none; default the client's. */
  transport?: SipTransportName;
  /** The connection to reuse while it is open (a dialog's). */
  flow?: DialogFlow;
  nextCSeq?: () => number;
  /** Credentials instead of the client's. */
  auth?: SipClientAuth;
}

/** What takes a failed attempt over (ClientFailover): true when the request went on to another target. */
export interface PendingFailover {
  retry(res: SipResponse | undefined, err: unknown): boolean;
}

/** How a Pending treats its responses: a plain send (the client's options), or a dialog's request. */
export interface PendingMode {
  autoAck: boolean;
  non2xxAsValue: boolean;
  /** Sent by a SipDialog: it ACKs 2xx itself and makes no dialog. */
  inDialog: boolean;
}
export const IN_DIALOG: PendingMode = { autoAck: false, non2xxAsValue: true, inDialog: true };

/** One request in flight: the transaction's handlers, mapped onto Nest's WritePacket callback. */
export class Pending {
  request: SipRequest | undefined;
  dst: SipDestination | undefined;
  txn: ClientTransaction | undefined;
  done = false;
  /** Transport for URIs that name none (a dialog's), else the client's default. */
  transport: SipTransportName | undefined = undefined;
  /** Credentials for this request instead of the client's (a registration's own). */
  auth: SipClientAuth | undefined = undefined;
  /** The CSeq number of a resend (an answer to a challenge) when its sender counts them (a dialog, a registration); else one more. */
  nextCSeq: (() => number) | undefined = undefined;
  /** Where a 503, a timeout or a transport failure sends the request next (RFC 3263 §4.3), while it has somewhere to go. */
  failover: PendingFailover | undefined = undefined;
  private unsubscribed = false;
  /** Early dialogs this INVITE made (ended when it fails). */
  private early: SipDialog[] | undefined = undefined;

  constructor(
    private readonly client: PendingOwner,
    private readonly callback: (packet: WritePacket) => void,
    private readonly mode: PendingMode,
  ) {}

  /** Finished, or its caller stopped listening: a challenge to it is not answered. */
  get stopped(): boolean {
    return this.done || this.unsubscribed;
  }

  onProvisional(res: SipResponse): void {
    if (res.status > 100 && !this.mode.inDialog && this.request!.method === 'INVITE') {
      const d = this.client.uacDialog(this.request!, res, this.dst!);
      if (d !== undefined && d.state === 'early' && !(this.early ??= []).includes(d)) this.early.push(d);
    }
    if (!this.unsubscribed && !this.done) this.callback({ response: res });
  }

  onFinal(res: SipResponse): void {
    const status = res.status;
    if (status === 503 && this.failover !== undefined && this.failover.retry(res, undefined)) {
      this.endEarly();
      return;
    }
    const invite = this.request!.method === 'INVITE';
    if (invite && !this.mode.inDialog) this.settleDialogs(res);
    if (invite && status >= 200 && status < 300) {
      // A 2xx after the caller unsubscribed (CANCEL crossed it): ACK, then hang up.
      if (this.unsubscribed) void this.client.ack2xx(this.request!, res, true).catch((e: unknown) => this.client.reportError(e));
      else if (this.mode.autoAck) this.client.ackSending(res, this.client.ack2xx(this.request!, res, false));
      else if (!this.mode.inDialog) this.client.awaitAck(this.request!, res);
      else this.client.inDialog2xx(this.request!, res);
    }
    if (this.done) return;
    this.finish();
    if (this.unsubscribed) return;
    if (status >= 300 && !this.mode.non2xxAsValue) this.callback({ err: new SipResponseError(res, this.request) });
    else this.callback({ response: res, isDisposed: true });
  }

  /** The INVITE's final response: a 2xx confirms its dialog (the other early ones end), a failure ends them all. */
  private settleDialogs(res: SipResponse): void {
    const status = res.status;
    const confirmed = status >= 200 && status < 300 && !this.unsubscribed ? this.client.uacDialog(this.request!, res, this.dst!) : undefined;
    const early = this.early;
    this.early = undefined;
    if (early === undefined) return;
    for (const d of early) {
      if (d === confirmed) continue;
      if (status >= 300) d._end(this.unsubscribed && status === 487 ? 'cancelled' : 'rejected', 'remote', status);
      else d._end('fork', 'remote');
    }
  }

  onLate2xx(res: SipResponse): void {
    // A retransmitted 2xx (or another fork's): ACK it; a second fork's 2xx is also ended with BYE,
    // unless the client keeps forks: then it is a dialog of its own, told as a 'fork' event.
    const first = this.txn?.finalResponse;
    const otherFork = first !== undefined && first.to.tag !== res.to.tag;
    if (otherFork && this.client.keepsForks && !this.unsubscribed && !this.mode.inDialog) {
      const known = this.client.dialogOfResponse(res);
      const d = known ?? this.client.uacDialog(this.request!, res, this.dst!);
      this.client.ackSending(res, this.client.ack2xx(this.request!, res, false));
      if (known === undefined && d !== undefined) this.client.forked(d, res);
      return;
    }
    if (this.mode.autoAck || otherFork || this.unsubscribed) void this.client.ack2xx(this.request!, res, otherFork).catch((e: unknown) => this.client.reportError(e));
    else this.client.reAck(res);
  }

  /**
   * The client closed while this request runs on a SipServer's transaction layer: stop its
   * timers, or for an INVITE already ringing, CANCEL it (a 2xx crossing the CANCEL is ACKed and
   * hung up; the layer ACKs the 487).
   */
  abandon(ep: SipEndpoint, err: Error): void {
    const txn = this.txn;
    if (txn === undefined || txn.terminated || txn.finalResponse !== undefined) return;
    // An INVITE may already ring at the far end even before its first provisional reached us:
    // CANCEL it (sent once a provisional arrives, §9.1) rather than drop it and leave it ringing.
    if (txn.isInvite && (txn.state === 'proceeding' || txn.state === 'calling')) {
      const client = this.client;
      const invite = this.request!;
      const hangUp = (res: SipResponse): void => {
        if (res.status >= 200 && res.status < 300) void client.ack2xx(invite, res, true, ep).catch(() => undefined);
      };
      txn.setHandlers({ onFinal: hangUp, onLate2xx: hangUp });
      txn.cancel();
    } else ep.layer.abandon(txn, err);
  }

  onError(err: unknown): void {
    if (this.failover !== undefined && this.failover.retry(undefined, err)) {
      this.endEarly();
      return;
    }
    this.fail(err);
  }

  /** The early dialogs of an attempt that failed end (a failover's next attempt makes its own). */
  private endEarly(): void {
    const early = this.early;
    this.early = undefined;
    if (early !== undefined) for (const d of early) d._end('gone', 'remote', 408);
  }

  fail(err: unknown): void {
    this.endEarly();
    if (this.done) return;
    this.finish();
    if (!this.unsubscribed) this.callback({ err });
  }

  unsubscribe(): void {
    if (this.done || this.unsubscribed) return;
    this.unsubscribed = true;
    // INVITE: CANCEL (sent once a provisional arrived, §9.1); the transaction still takes the final response.
    if (this.txn !== undefined && this.txn.isInvite) this.txn.cancel();
    else this.finish();
  }

  private finish(): void {
    this.done = true;
    this.client.settled(this);
  }
}
