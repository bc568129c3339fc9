import type { SipPeer } from './types.js';
import type { TimerEntry, TimerQueue, TimerTarget } from './timer-queue.js';

/** Records outlive J by up to this much, so that the sweep takes them in batches. */
const SWEEP_SLACK_MS = 200;

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
 * to answer retransmissions, as compact records. Every record lives the same J, so they expire in
 * the order they came: one sweep timer for all of them (at most 200 ms late), no timer entry per
 * record (at 3,000 requests/s that is ~100,000 records). Bounded: past `max` the oldest goes
 * first (a late retransmission of it would be taken as a new request).
 */
export class CompletedResponses implements TimerTarget {
  private readonly map = new Map<string, CompletedResponse>();
  /**
   * Arrival order, as a queue (parallel arrays from `head`): eviction and the sweep take from its
   * front in O(1). Iterating the Map from its start instead would walk every deleted slot V8 has
   * not compacted yet, which made each eviction O(n) under load.
   */
  private qKeys: string[] = [];
  private qRecs: CompletedResponse[] = [];
  private head = 0;
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
    while (map.size >= this.max && this.head < this.qKeys.length) {
      if (this.dropFront()) this.evicted++;
    }
    // A flat copy of the key: built from slices of the request's text, it would keep that whole
    // text alive for J. Number() flattens a string in place (V8 reads only flat strings).
    Number(key);
    const rec: CompletedResponse = { wire, from, due: this.queue.clock.now() + ms };
    map.set(key, rec); // a key seen again: its older queue entry no longer matches and is skipped
    this.qKeys.push(key);
    this.qRecs.push(rec);
    if (this.timer === undefined) this.timer = this.queue.schedule(ms, this);
  }

  /** The sweep: drop every record whose J has passed, then wait for the next one's. */
  onTimer(): void {
    this.timer = undefined;
    const now = this.queue.clock.now();
    while (this.head < this.qKeys.length) {
      const due = this.qRecs[this.head]!.due;
      if (due > now) {
        // A little late on purpose: one sweep takes a batch, not one record per wake-up.
        this.timer = this.queue.schedule(due - now + SWEEP_SLACK_MS, this);
        break;
      }
      this.dropFront();
    }
    this.compactQueue();
  }

  clear(): void {
    this.map.clear();
    this.qKeys = [];
    this.qRecs = [];
    this.head = 0;
    this.queue.cancel(this.timer);
    this.timer = undefined;
  }

  /** Take the front of the queue; true when it was still the live record of its key. */
  private dropFront(): boolean {
    const h = this.head;
    const key = this.qKeys[h]!;
    const rec = this.qRecs[h]!;
    this.qKeys[h] = undefined as unknown as string;
    this.qRecs[h] = undefined as unknown as CompletedResponse;
    this.head = h + 1;
    if (this.map.get(key) !== rec) return false;
    this.map.delete(key);
    this.compactQueue();
    return true;
  }

  /** Drop the taken front of the queue arrays once it is more than half of them. */
  private compactQueue(): void {
    const h = this.head;
    if (h === 0 || (h !== this.qKeys.length && (h <= 1024 || h <= this.qKeys.length >>> 1))) return;
    this.qKeys = this.qKeys.slice(h);
    this.qRecs = this.qRecs.slice(h);
    this.head = 0;
  }
}
