import type { Clock } from './clock.js';

/**
 * Something a timer calls back: `onTimer(kind)` with the small integer given to `schedule`.
 * Transactions implement it themselves, so scheduling a timer allocates one small entry object
 * and no closure.
 */
export interface TimerTarget {
  onTimer(kind: number): void;
}

/** One scheduled timer. Treat it as opaque: keep it to cancel the timer. */
export class TimerEntry {
  /** Index in the heap, -1 once out of it. */
  index = -1;
  constructor(
    public due: number,
    public seq: number,
    public target: TimerTarget | null,
    public kind: number,
  ) {}
  /** True until the timer fires or is cancelled. */
  get active(): boolean {
    return this.target !== null;
  }
}

/**
 * All the timers of a transaction layer in one binary min-heap, ordered by due time (then by
 * scheduling order), driven by a single real timer armed for the earliest entry.
 *
 * - schedule: O(log n); the real timer is re-armed only when the new entry is the earliest.
 * - cancel: O(1) and lazy (the entry is marked dead and skipped when it reaches the top); when
 *   dead entries outnumber live ones the heap is compacted in O(n), so the amortised cost stays
 *   O(1) and memory is bounded by twice the live timers.
 * - firing: every entry whose due time has passed runs in order in one wake-up.
 *
 * At thousands of transactions per second this costs one heap entry per started timer and a
 * handful of `setTimeout` calls per second, instead of one `setTimeout` per timer.
 */
export class TimerQueue {
  private heap: TimerEntry[] = [];
  private dead = 0;
  private seq = 0;
  private handle: unknown = undefined;
  private armedDue = Infinity;
  private readonly fire = (): void => this.onFire();
  private closed = false;

  /** Called when a timer callback throws (the queue keeps running). */
  onError: (err: unknown) => void = (err) => {
    queueMicrotask(() => {
      throw err;
    });
  };

  constructor(readonly clock: Clock) {}

  /** Live (scheduled, not cancelled) timers. */
  get size(): number {
    return this.heap.length - this.dead;
  }

  /** Due time of the earliest live timer, or undefined. */
  get nextDue(): number | undefined {
    this.dropDeadTop();
    return this.heap.length > 0 ? this.heap[0]!.due : undefined;
  }

  /** Call `target.onTimer(kind)` in `delay` ms. */
  schedule(delay: number, target: TimerTarget, kind = 0): TimerEntry {
    if (this.closed) throw new Error('TimerQueue is closed');
    const due = this.clock.now() + (delay > 0 ? delay : 0);
    const entry = new TimerEntry(due, this.seq++, target, kind);
    this.push(entry);
    if (due < this.armedDue) this.arm(due);
    return entry;
  }

  /** Cancel a timer; harmless on an entry that fired or was cancelled, and on undefined. */
  cancel(entry: TimerEntry | undefined | null): void {
    if (entry === undefined || entry === null || entry.target === null) return;
    entry.target = null;
    if (entry.index === -1) return;
    this.dead++;
    if (this.dead > 64 && this.dead > this.heap.length >>> 1) this.compact();
  }

  /** Drop every timer and the real timer; the queue can be used again afterwards. */
  clear(): void {
    for (const e of this.heap) {
      e.target = null;
      e.index = -1;
    }
    this.heap = [];
    this.dead = 0;
    this.disarm();
  }

  /** Clear and refuse further scheduling. */
  close(): void {
    this.clear();
    this.closed = true;
  }

  /** Run every timer due at `clock.now()` (what the real timer does); returns how many ran. */
  runDue(): number {
    const now = this.clock.now();
    let ran = 0;
    // this.heap is read afresh each turn: a callback may cancel (compact) or clear the queue.
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (top.target === null) {
        this.popTop();
        this.dead--;
        continue;
      }
      if (top.due > now) break;
      this.popTop();
      const target = top.target;
      top.target = null;
      ran++;
      try {
        target.onTimer(top.kind);
      } catch (err) {
        this.onError(err);
      }
    }
    return ran;
  }

  private onFire(): void {
    this.handle = undefined;
    this.armedDue = Infinity;
    this.runDue();
    this.dropDeadTop();
    if (this.heap.length > 0) this.arm(this.heap[0]!.due);
  }

  private arm(due: number): void {
    if (this.handle !== undefined) this.clock.clearTimer(this.handle);
    this.armedDue = due;
    const delay = Math.ceil(due - this.clock.now());
    this.handle = this.clock.setTimer(this.fire, delay > 0 ? delay : 0);
  }

  private disarm(): void {
    if (this.handle !== undefined) this.clock.clearTimer(this.handle);
    this.handle = undefined;
    this.armedDue = Infinity;
  }

  private dropDeadTop(): void {
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.target === null) {
      this.popTop();
      this.dead--;
    }
  }

  private compact(): void {
    // In place: filter the live entries to the front, then heapify.
    const live = this.heap;
    let w = 0;
    for (let r = 0; r < live.length; r++) {
      const e = live[r]!;
      if (e.target === null) e.index = -1;
      else {
        e.index = w;
        live[w++] = e;
      }
    }
    live.length = w;
    this.dead = 0;
    for (let i = (live.length >>> 1) - 1; i >= 0; i--) this.down(i);
    // The armed real timer may now be early (its entry died); onFire re-arms correctly then.
  }

  private static less(a: TimerEntry, b: TimerEntry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(e: TimerEntry): void {
    e.index = this.heap.length;
    this.heap.push(e);
    this.up(e.index);
  }

  private popTop(): TimerEntry {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    top.index = -1;
    if (last !== top) {
      heap[0] = last;
      last.index = 0;
      this.down(0);
    }
    return top;
  }

  private up(i: number): void {
    const heap = this.heap;
    const e = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >>> 1;
      const parent = heap[p]!;
      if (!TimerQueue.less(e, parent)) break;
      heap[i] = parent;
      parent.index = i;
      i = p;
    }
    heap[i] = e;
    e.index = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const e = heap[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && TimerQueue.less(heap[c + 1]!, heap[c]!)) c++;
      const child = heap[c]!;
      if (!TimerQueue.less(child, e)) break;
      heap[i] = child;
      child.index = i;
      i = c;
    }
    heap[i] = e;
    e.index = i;
  }
}
