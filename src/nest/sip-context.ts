import { BaseRpcContext } from '@nestjs/microservices';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { SipAuthIdentity } from '../auth/index.js';
import type { DialogLayer, SipDialog } from '../dialog/index.js';
import type { SipRequest } from '../message/index.js';
import type { ProxyOptions, ProxyRun, SipProxy } from '../proxy/index.js';
import type { ServerTransaction, SipPeer } from '../transaction/index.js';
import { toSipResponse, type SipReply } from './sip-reply.js';

export type SipContextArgs = [request: SipRequest, from: SipPeer, transaction: ServerTransaction, dialogs?: DialogLayer, dialog?: SipDialog, proxy?: SipProxy];

/**
 * What `@Ctx()` gives a SIP handler: the request, who sent it (address, port, transport, socket and
 * TLS certificate), the server transaction, cancellation, and provisional responses.
 */
export class SipContext extends BaseRpcContext<SipContextArgs> {
  /** Who the request proved to be (set by SipDigestGuard); undefined when not authenticated. */
  auth: SipAuthIdentity | undefined = undefined;

  /** The ACK for this INVITE's 2xx, once it came (or the ACK itself, for an ACK event's context). */
  private ack: SipRequest | undefined;

  constructor(args: SipContextArgs) {
    super(args);
    const [req, , txn] = args;
    if (req.method === 'ACK') this.ack = req;
    // Remember the ACK whenever it comes, so that whenAcknowledged() called later still sees it.
    else if (txn.isInvite && txn.state !== 'terminated') txn.once('ack', (ack) => (this.ack = ack));
  }

  /** The request being handled. */
  getRequest(): SipRequest {
    return this.args[0];
  }

  /** The sender: `{ addr, port, family, proto, socket }`. */
  getFrom(): SipPeer {
    return this.args[1];
  }

  /** The server transaction (RFC 3261 §17.2) the request created. */
  getTransaction(): ServerTransaction {
    return this.args[2];
  }

  /**
   * The dialog (RFC 3261 §12) of this request: for an in-dialog request (BYE, re-INVITE, INFO,
   * ACK...) the one it belongs to; for an INVITE, the one its response created, once a 1xx with a
   * To tag or a 2xx was sent (undefined before). Hang up with `ctx.dialog.bye()`.
   */
  get dialog(): SipDialog | undefined {
    // Kept once found: the dialog leaves the table when it ends (a BYE's handler still sees it).
    let d = this.args[4];
    if (d === undefined) {
      d = this.args[3]?.ofServerTransaction(this.args[2]);
      if (d !== undefined) this.args[4] = d;
    }
    return d;
  }

  /** The socket the request arrived on (the UDP socket, or the TCP/TLS connection). */
  getSocket(): unknown {
    return this.args[1].socket;
  }

  /** For TLS (and WSS): the certificate the peer presented (undefined when none, or not TLS). */
  getPeerCertificate(): PeerCertificate | undefined {
    const from = this.args[1];
    if (from.proto !== 'tls' && from.proto !== 'wss') return undefined;
    const cert = (from.socket as TLSSocket).getPeerCertificate?.();
    return cert && Object.keys(cert).length > 0 ? cert : undefined;
  }

  /**
   * Aborted when the request is cancelled (CANCEL: the server already answered 200 and 487), when
   * the transaction times out, or when the server shuts down. Pass it to fetch() and friends.
   */
  get signal(): AbortSignal {
    return this.args[2].signal;
  }

  get cancelled(): boolean {
    return this.args[2].cancelRequest !== undefined;
  }

  /** Runs `fn` when a CANCEL for this request arrives (at once if it already did). */
  onCancel(fn: (cancel: SipRequest) => void): void {
    const txn = this.args[2];
    if (txn.cancelRequest !== undefined) fn(txn.cancelRequest);
    else txn.on('cancel', fn);
  }

  /**
   * Send a provisional response now (e.g. 180 Ringing, 183 with early media) while the handler
   * works on the final one. Resolves when the transport took it.
   */
  sendProvisional(reply: SipReply = 180): Promise<void> {
    const res = toSipResponse(this.args[0], reply, this.args[2].toTag);
    if (res.status >= 200) return Promise.reject(new RangeError(`sendProvisional needs a 1xx status, got ${res.status}`));
    return this.args[2].respond(res);
  }

  /**
   * Proxy the request (RFC 3261 §16) to one or more Request-URIs, statefully: Max-Forwards (483),
   * loop detection (482), our Via, Record-Route (default for dialog-creating requests; doubled
   * when the request changes transport), Route processing, parallel or sequential forking,
   * provisional and 2xx answers relayed at once, the best other answer when all branches are done,
   * CANCEL passed on. The handler's own return value no longer answers the request: return (or
   * await) the run, which resolves with the outcome; `run.responses` shows every branch's answers.
   */
  proxy(targets: string | readonly string[], opts?: ProxyOptions): ProxyRun {
    const proxy = this.args[5];
    if (proxy === undefined) throw new Error('ctx.proxy() needs a SipServer context (this one has no proxy)');
    return proxy.forward(this.args[2], typeof targets === 'string' ? [targets] : targets, opts);
  }

  /**
   * INVITE answered 2xx: resolves with the ACK when it arrives (at once if it already did; on an ACK
   * event's context, that ACK), or with undefined when it never came (64*T1, RFC 3261 §13.3.1.4; the
   * server also logs it). Resolves undefined as soon as the INVITE is answered non-2xx (that ACK is
   * absorbed by the transaction), and for other requests.
   */
  whenAcknowledged(): Promise<SipRequest | undefined> {
    const txn = this.args[2];
    if (this.ack !== undefined) return Promise.resolve(this.ack);
    // Not an INVITE, or answered non-2xx (that ACK is the transaction's), or over: no ACK to wait for.
    if (!txn.isInvite || !waitsForAck(txn.state)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const settle = (ack: SipRequest | undefined): void => {
        txn.off('ack', onAck);
        txn.off('state', onState);
        txn.off('unacked', onUnacked);
        resolve(ack);
      };
      const onAck = (ack: SipRequest): void => settle(ack);
      const onUnacked = (): void => settle(undefined);
      const onState = (state: string): void => {
        if (!waitsForAck(state)) settle(this.ack);
      };
      txn.on('ack', onAck);
      txn.on('state', onState);
      txn.on('unacked', onUnacked);
    });
  }
}

/** INVITE transaction states in which the application may still get an ACK (for a 2xx). */
function waitsForAck(state: string): boolean {
  return state === 'proceeding' || state === 'accepted';
}
