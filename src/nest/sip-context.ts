import { BaseRpcContext } from '@nestjs/microservices';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { SipRequest } from '../message/index.js';
import type { ServerTransaction, SipPeer } from '../transaction/index.js';
import { toSipResponse, type SipReply } from './sip-reply.js';

export type SipContextArgs = [request: SipRequest, from: SipPeer, transaction: ServerTransaction];

/**
 * What `@Ctx()` gives a SIP handler: the request, who sent it (address, port, transport, socket and
 * TLS certificate), the server transaction, cancellation, and provisional responses.
 */
export class SipContext extends BaseRpcContext<SipContextArgs> {
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

  /** The socket the request arrived on (the UDP socket, or the TCP/TLS connection). */
  getSocket(): unknown {
    return this.args[1].socket;
  }

  /** For TLS: the certificate the peer presented (undefined when none, or not TLS). */
  getPeerCertificate(): PeerCertificate | undefined {
    const from = this.args[1];
    if (from.proto !== 'tls') return undefined;
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
   * INVITE answered 2xx: resolves with the ACK when it arrives, or with undefined when it never came
   * (64*T1, RFC 3261 §13.3.1.4; the server also logs it). Resolves undefined for other requests.
   */
  whenAcknowledged(): Promise<SipRequest | undefined> {
    const txn = this.args[2];
    if (!txn.isInvite) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      txn.on('ack', (ack) => resolve(ack));
      txn.on('unacked', () => resolve(undefined));
      txn.on('terminated', () => resolve(undefined));
    });
  }
}
