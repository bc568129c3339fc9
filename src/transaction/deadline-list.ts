import type { TimerEntry, TimerQueue, TimerTarget } from './timer-queue.js';

/** A member of a DeadlineList: the links live in the member itself (no entry object per deadline). */
export interface Deadlined {
  dlPrev: Deadlined | undefined;
  dlNext: Deadlined | undefined;
  dlDue: number;
  dlList: DeadlineList | undefined;
  /** Its deadline passed (it is out of the list by then). */
  onDeadline(): void;
}

/**
 * Deadlines that all lie the same `ms` after they are set (a server transaction's application
 * timeout): they fall due in the order they were set, so a FIFO list does what a heap entry per
 * deadline did. Adding and removing are O(1) and allocate nothing, and one timer of the queue
 * waits for the oldest. At thousands of requests per second, nearly every deadline is removed
 * (answered) within milliseconds of being set.
 */
export class DeadlineList implements TimerTarget {
  private head: Deadlined | undefined = undefined;
  private tail: Deadlined | undefined = undefined;
  private timer: TimerEntry | undefined = undefined;
  /** Members now. */
  size = 0;

  constructor(
    private readonly queue: TimerQueue,
    readonly ms: number,
  ) {}

  /** Its timer is set (it stays set when the list empties: one wake-up later, rather than a cancel and a new timer per member). */
  get armed(): boolean {
    return this.timer !== undefined && this.timer.active;
  }

  /** Due `ms` from now (moved to the end when it was in a list already). */
  add(x: Deadlined): void {
    if (x.dlList !== undefined) x.dlList.remove(x);
    x.dlDue = this.queue.clock.now() + this.ms;
    x.dlList = this;
    x.dlPrev = this.tail;
    x.dlNext = undefined;
    if (this.tail !== undefined) this.tail.dlNext = x;
    else this.head = x;
    this.tail = x;
    this.size++;
    this.arm(this.ms);
  }

  /** Wait `delay` for the head, unless already waiting (`active`: the queue may have been cleared since). */
  private arm(delay: number): void {
    if (this.timer === undefined || !this.timer.active) this.timer = this.queue.schedule(delay, this);
  }

  /** Out of the list (nothing when it is not in this one). */
  remove(x: Deadlined): void {
    if (x.dlList !== this) return;
    const p = x.dlPrev;
    const n = x.dlNext;
    if (p !== undefined) p.dlNext = n;
    else this.head = n;
    if (n !== undefined) n.dlPrev = p;
    else this.tail = p;
    x.dlPrev = x.dlNext = x.dlList = undefined;
    this.size--;
  }

  onTimer(): void {
    this.timer = undefined;
    const now = this.queue.clock.now();
    // `head` is read afresh each turn: onDeadline may add or remove members.
    for (let x = this.head; x !== undefined && x.dlDue <= now; x = this.head) {
      this.remove(x);
      try {
        x.onDeadline();
      } catch (err) {
        this.queue.onError(err);
      }
    }
    if (this.head !== undefined) this.arm(this.head.dlDue - now);
  }
}
