import type { SipRequest, SipResponse } from '../message/index.js';
import type { SipDestination } from '../transaction/index.js';

/** Call-ID, CSeq number and To tag: what ties an ACK to the 2xx it acknowledges. */
export const ackKey = (msg: SipResponse | SipRequest): string => `${msg.callId}\n${msg.cseq.seq}\n${msg.to.tag ?? ''}`;

/** An ACK sent for a 2xx, and where it went. */
export interface SentAck {
  ack: SipRequest;
  dst: SipDestination;
}

/**
 * What a client remembers about the ACKs of 2xx responses, by `ackKey`: the ACKs it sent (repeated
 * for a retransmitted 2xx, RFC 3261 §13.2.2.4), the ones still being addressed (DNS), and, with
 * `autoAck` off, the INVITEs whose 2xx waits for the caller's `ack()`. Every entry lives `ttl` ms
 * (64*T1); all live equally long, so expired ones leave from the front of the insertion order.
 */
export class AckMemory {
  private readonly sent = new Map<string, SentAck & { until: number }>();
  private readonly addressing = new Map<string, Promise<SipDestination>>();
  private readonly awaiting = new Map<string, { invite: SipRequest; until: number }>();

  remember(key: string, ack: SipRequest, dst: SipDestination, ttl: number): void {
    const now = Date.now();
    expire(this.sent, now);
    this.sent.delete(key);
    this.sent.set(key, { ack, dst, until: now + ttl });
  }

  sentFor(key: string): SentAck | undefined {
    return this.sent.get(key);
  }

  /** The ACK for `key` is being addressed: a retransmitted 2xx waits for `p`. */
  addressingFor(key: string): Promise<SipDestination> | undefined {
    return this.addressing.get(key);
  }

  async address(key: string, p: Promise<SipDestination>): Promise<SipDestination> {
    this.addressing.set(key, p);
    try {
      return await p;
    } finally {
      this.addressing.delete(key);
    }
  }

  /** autoAck off: the 2xx of `invite` waits for the caller's ack(). */
  expectCallerAck(key: string, invite: SipRequest, ttl: number): void {
    const now = Date.now();
    expire(this.awaiting, now);
    this.awaiting.set(key, { invite, until: now + ttl });
  }

  inviteAwaiting(key: string): SipRequest | undefined {
    return this.awaiting.get(key)?.invite;
  }

  forgetAwaiting(key: string): void {
    this.awaiting.delete(key);
  }

  clear(): void {
    this.sent.clear();
    this.addressing.clear();
    this.awaiting.clear();
  }
}

function expire(map: Map<string, { until: number }>, now: number): void {
  for (const [k, v] of map) {
    if (v.until >= now) break;
    map.delete(k);
  }
}
