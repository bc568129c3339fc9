import type { SipPeer } from './types.js';
import type { TimerEntry, TimerQueue, TimerTarget } from './timer-queue.js';

/** What a completed non-INVITE UDP server transaction leaves behind until Timer J fires. */
export interface CompletedResponse {
  /** The final response as sent (a SipResponse would keep the request's strings alive too). */
  readonly wire: Buffer;
  readonly from: SipPeer;
  /** When Timer J fires (clock ms). */
  readonly due: number;
}

/**
 * The final responses of completed non-INVITE UDP server transactions, kept for Timer J (64*T1)
 * to answer retransmissions, as compact records in one insertion-ordered Map. Every record lives
 * the same J, so they expire in the order they came: one sweep timer for all of them, no timer
 * entry per record (at 3,000 requests/s that is ~100,000 records). Bounded: past `max` the oldest
 * goes first (a late retransmission of it would be taken as a new request).
 */
export class CompletedResponses implements TimerTarget {
  private readonly map = new Map<string, CompletedResponse>();
  private timer: TimerEntry | undefined = undefined;
  /** Records pushed out early by the bound. */
  evicted = 0;

  constructor(
    private readonly queue: TimerQueue,
    private readonly max: number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): CompletedResponse | undefined {
    return this.map.get(key);
  }

  retain(key: string, wire: Buffer, from: SipPeer, ms: number): void {
    const map = this.map;
    if (map.size >= this.max) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) {
        map.delete(oldest);
        this.evicted++;
      }
    }
    // A flat copy of the key: built from slices of the request's text, it would keep that whole
    // text alive for J. Number() flattens a string in place (V8 reads only flat strings).
    Number(key);
    map.delete(key); // a key seen again goes to the end, keeping the Map in expiry order
    const due = this.queue.clock.now() + ms;
    map.set(key, { wire, from, due });
    if (this.timer === undefined) this.timer = this.queue.schedule(ms, this);
  }

  /** The sweep: drop every record whose J has passed, then wait for the next one's. */
  onTimer(): void {
    this.timer = undefined;
    const now = this.queue.clock.now();
    for (const [key, rec] of this.map) {
      if (rec.due > now) {
        this.timer = this.queue.schedule(rec.due - now, this);
        return;
      }
      this.map.delete(key);
    }
  }

  clear(): void {
    this.map.clear();
    this.queue.cancel(this.timer);
    this.timer = undefined;
  }
}
