import { SipRequest, type SipResponse } from '../message/index.js';
import type { DialogFlow } from '../dialog/index.js';
import { buildAckFor2xx, type SipDestination, type SipPeer } from '../transaction/index.js';
import { AckMemory, ackKey } from './ack-memory.js';
import type { ClientRouting } from './client-routing.js';
import type { OutboundHeaders } from './outbound-headers.js';
import type { SipAckOptions } from './sip-client-options.js';
import type { SipEndpoint } from './sip-endpoint.js';
import type { SipTransportName } from './sip-resolver.js';

/** What the ACKs need from their client. */
export interface AckHost {
  readonly endpoint: SipEndpoint | undefined;
  connect(): Promise<SipEndpoint>;
  reportError(err: unknown): void;
}

/**
 * A SipClient's ACKs of 2xx (RFC 3261 §13.2.2.4): sent automatically or by the caller, each
 * remembered for 64*T1 and sent again for a retransmitted 2xx (during the INVITE's Accepted state
 * and after it ended), the INVITEs whose 2xx waits for the caller (`autoAck: false`).
 */
export class ClientAcks {
  private readonly memory = new AckMemory();
  /** Automatic ACKs still being sent, by the 2xx. */
  private readonly sending = new WeakMap<SipResponse, Promise<void>>();
  /** A dialog's re-INVITE as last sent (credentials included), by its 2xx. */
  private readonly reinvites = new WeakMap<SipResponse, SipRequest>();

  constructor(
    private readonly host: AckHost,
    private readonly routing: ClientRouting,
    private readonly headers: OutboundHeaders,
  ) {}

  /** SipClient.ack(): the caller ACKs a 2xx, of `invite` or of the INVITE this client remembers for it. */
  async ack(invite: SipRequest | undefined, response: SipResponse, opts: SipAckOptions): Promise<void> {
    if (invite === undefined) {
      invite = this.memory.inviteAwaiting(ackKey(response));
      if (invite === undefined) throw new Error('SipClient.ack(response): no INVITE of this client awaits an ACK for this response; use ack(invite, response)');
    }
    if (response.status < 200 || response.status >= 300) throw new TypeError(`ack(): only a 2xx is ACKed by the caller (got ${response.status}); non-2xx are ACKed by the transaction`);
    const ep = await this.host.connect();
    this.memory.forgetAwaiting(ackKey(response));
    const ack = buildAckFor2xx(invite, response, { body: opts.body as Buffer | string | undefined, contentType: opts.contentType });
    const dst = await this.routing.ackDestination(ack, invite);
    this.remember(ack, response, dst, ep);
    await ep.layer.sendStateless(ack, dst);
  }

  /** A dialog's ACK of a 2xx to its re-INVITE, with the credentials of the INVITE (RFC 3261 §13.2.2.4). */
  sendAck(ack: SipRequest, response: SipResponse, transport: SipTransportName, flow?: DialogFlow): Promise<void> {
    const invite = this.reinvites.get(response);
    if (invite !== undefined) for (const key of ['authorization', 'proxy-authorization']) invite.headers.copyTo(ack.headers, key);
    // At once when it can (connected, an address, a bound leg): it must leave before the next request.
    const ep = this.host.endpoint;
    if (ep !== undefined) {
      try {
        const dst = this.routing.openFlow(ep, ack, flow) ?? this.routing.destinationSync(ack, ack, transport);
        if (dst !== undefined) {
          this.remember(ack, response, dst, ep);
          return ep.layer.sendStateless(ack, dst);
        }
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.sendAckLater(ack, response, transport, flow);
  }

  private async sendAckLater(ack: SipRequest, response: SipResponse, transport: SipTransportName, flow?: DialogFlow): Promise<void> {
    const ep = await this.host.connect();
    const dst = this.routing.openFlow(ep, ack, flow) ?? (await this.routing.destinationFor(ack, ack, transport));
    this.remember(ack, response, dst, ep);
    await ep.layer.sendStateless(ack, dst);
  }

  /** An ACK the caller emitted (`emit('ACK', ...)`): no INVITE waits for it any more; repeated for retransmissions. */
  emitted(ack: SipRequest, dst: SipDestination, ep: SipEndpoint): void {
    let key: string | undefined;
    try {
      key = ackKey(ack);
    } catch {
      return;
    }
    this.memory.forgetAwaiting(key);
    this.memory.remember(key, ack, dst, this.ttl(ep));
  }

  /** A dialog's re-INVITE got this 2xx: the dialog's ACK of it is sent with sendAck. */
  inDialog2xx(invite: SipRequest, res: SipResponse): void {
    if (invite.headers.has('authorization') || invite.headers.has('proxy-authorization')) this.reinvites.set(res, invite);
  }

  /** The automatic ACK of a 2xx is on its way (invite() resolves once it left). */
  ackSending(res: SipResponse, sending: Promise<void>): void {
    this.sending.set(
      res,
      sending.catch((e: unknown) => this.host.reportError(e)),
    );
  }

  /** The automatic ACK of this 2xx, settled when it left (or failed). */
  ackSent(res: SipResponse): Promise<void> {
    return this.sending.get(res) ?? Promise.resolve();
  }

  /** Send the ACK for a 2xx (and remember it for retransmissions); with `bye`, end the call right away. */
  async ack2xx(invite: SipRequest, res: SipResponse, bye: boolean, ep: SipEndpoint | undefined = this.host.endpoint): Promise<void> {
    if (ep === undefined) return;
    const key = ackKey(res);
    const building = this.memory.addressingFor(key);
    if (building !== undefined) await building.catch(() => undefined); // a retransmission while the first ACK is being addressed
    const known = this.memory.sentFor(key);
    if (known !== undefined) {
      // The same ACK again for a retransmitted 2xx (RFC 3261 §13.2.2.4).
      await ep.layer.sendStateless(known.ack, known.dst);
      return;
    }
    if (building !== undefined) return; // the first one failed (and was reported)
    const ack = buildAckFor2xx(invite, res);
    const addressing = this.routing.ackDestination(ack, invite);
    const dst = addressing instanceof Promise ? await this.memory.address(key, addressing) : addressing;
    this.remember(ack, res, dst, ep);
    await ep.layer.sendStateless(ack, dst);
    if (bye) {
      const byeReq = new SipRequest({ method: 'BYE', uri: ack.uri, headers: ack.headers.clone() });
      byeReq.headers.delete('via');
      byeReq.headers.delete('content-type');
      byeReq.headers.set('CSeq', `${invite.cseq.seq + 1} BYE`);
      const pool = ep.poolFor(dst);
      if (pool !== undefined) this.headers.fill(byeReq, pool, dst.proto);
      const txn = ep.layer.request(byeReq, dst);
      void txn.result.catch(() => undefined);
    }
  }

  /** autoAck false: a 2xx the caller has to ACK; `ack(response)` finds its INVITE here. */
  awaitAck(invite: SipRequest, res: SipResponse): void {
    const ep = this.host.endpoint;
    if (ep !== undefined) this.memory.expectCallerAck(ackKey(res), invite, this.ttl(ep));
  }

  /** A retransmitted 2xx during the INVITE's Accepted state: repeat an ACK already sent (by the caller, with autoAck false). */
  reAck(res: SipResponse): void {
    const known = this.memory.sentFor(ackKey(res));
    const ep = this.host.endpoint;
    if (known !== undefined && ep !== undefined) void ep.layer.sendStateless(known.ack, known.dst).catch((e: unknown) => this.host.reportError(e));
  }

  /** A 2xx retransmitted after its transaction ended: repeat our ACK (RFC 3261 §13.2.2.4). */
  readonly strayListener = (res: SipResponse, _from: SipPeer): void => {
    if (res.status < 200 || res.status >= 300) return;
    let key: string;
    try {
      if (res.cseq.method !== 'INVITE') return;
      key = ackKey(res);
    } catch {
      return;
    }
    const known = this.memory.sentFor(key);
    const ep = this.host.endpoint;
    if (known !== undefined && ep !== undefined) void ep.layer.sendStateless(known.ack, known.dst).catch(() => undefined);
  };

  clear(): void {
    this.memory.clear();
  }

  private remember(ack: SipRequest, res: SipResponse, dst: SipDestination, ep: SipEndpoint): void {
    this.memory.remember(ackKey(res), ack, dst, this.ttl(ep));
  }

  /** How long an ACK is remembered: 64*T1, as long as the 2xx may be retransmitted. */
  private ttl(ep: SipEndpoint): number {
    return 64 * ep.layer.timers.unreliable.T1;
  }
}
