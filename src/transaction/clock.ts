/**
 * The time source of the transaction layer. Production code uses {@link systemClock} (monotonic
 * `performance.now()` and unref'd `setTimeout`); tests inject a {@link ManualClock} and move time
 * by hand, so every RFC 3261 timer can be checked to the millisecond without waiting.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number;
  /** Call `cb` once, `ms` milliseconds from now. The timer must not keep the process alive. */
  setTimer(cb: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(cb, ms) {
    const t = setTimeout(cb, ms);
    t.unref();
    return t;
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

interface ManualTimer {
  due: number;
  seq: number;
  cb: () => void;
  live: boolean;
}

/**
 * A clock that only moves when told to. `advance(ms)` runs every timer that falls due on the way,
 * in order of due time (then creation order), with `now()` equal to each timer's due time while
 * its callback runs. `advanceAsync` does the same but lets pending promise callbacks run after
 * each timer, which is what code that awaits `transport.send()` needs.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: ManualTimer[] = [];
  /** Number of `setTimer` calls so far (to check that a layer arms few real timers). */
  armed = 0;

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(cb: () => void, ms: number): unknown {
    const timer: ManualTimer = { due: this.t + Math.max(0, ms), seq: this.seq++, cb, live: true };
    this.timers.push(timer);
    this.armed++;
    return timer;
  }

  clearTimer(handle: unknown): void {
    const timer = handle as ManualTimer;
    if (!timer || !timer.live) return;
    timer.live = false;
    const i = this.timers.indexOf(timer);
    if (i !== -1) this.timers.splice(i, 1);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.timers.length;
  }

  /** Due time of the next timer, or undefined. */
  nextDue(): number | undefined {
    const next = this.pick();
    return next?.due;
  }

  private pick(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.timers) {
      if (best === undefined || timer.due < best.due || (timer.due === best.due && timer.seq < best.seq)) best = timer;
    }
    return best;
  }

  private fireNext(until: number): boolean {
    const next = this.pick();
    if (next === undefined || next.due > until) return false;
    this.timers.splice(this.timers.indexOf(next), 1);
    next.live = false;
    if (next.due > this.t) this.t = next.due;
    next.cb();
    return true;
  }

  /** Move time forward by `ms`, firing due timers synchronously. */
  advance(ms: number): void {
    const until = this.t + ms;
    while (this.fireNext(until));
    this.t = until;
  }

  /** Move time to an absolute instant (not backwards). */
  advanceTo(t: number): void {
    this.advance(Math.max(0, t - this.t));
  }

  /** Like `advance`, flushing promise callbacks before and after every timer. */
  async advanceAsync(ms: number): Promise<void> {
    const until = this.t + ms;
    await flushMicrotasks();
    while (this.fireNext(until)) await flushMicrotasks();
    this.t = until;
    await flushMicrotasks();
  }
}

/** Let queued promise callbacks (several hops deep) run. */
export async function flushMicrotasks(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
