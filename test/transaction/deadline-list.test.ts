import { describe, expect, it } from 'vitest';
import { DeadlineList, type Deadlined } from '../../src/transaction/deadline-list.js';
import { TimerQueue } from '../../src/transaction/timer-queue.js';
import { ManualClock } from '../../src/transaction/clock.js';

class Member implements Deadlined {
  dlPrev: Deadlined | undefined = undefined;
  dlNext: Deadlined | undefined = undefined;
  dlDue = 0;
  dlList: DeadlineList | undefined = undefined;
  fired = 0;
  constructor(private readonly onFire?: () => void) {}
  onDeadline(): void {
    this.fired++;
    this.onFire?.();
  }
}

describe('DeadlineList (application timeouts of server transactions)', () => {
  it('fires members in order at their own deadline, not those removed, and one timer serves all', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const list = new DeadlineList(q, 1000);
    const a = new Member();
    const b = new Member();
    const c = new Member();
    list.add(a);
    clock.advance(100);
    list.add(b);
    clock.advance(100);
    list.add(c);
    expect(list.size).toBe(3);
    expect(q.size).toBe(1);
    list.remove(b);
    list.remove(b); // twice: nothing
    expect(list.size).toBe(2);
    clock.advance(800); // t = 1000: a is due
    expect([a.fired, b.fired, c.fired]).toEqual([1, 0, 0]);
    clock.advance(199); // t = 1199: c not yet (due 1200)
    expect(c.fired).toBe(0);
    clock.advance(1);
    expect(c.fired).toBe(1);
    expect(list.size).toBe(0);
    expect(q.size).toBe(0); // empty after firing: no timer left
  });

  it('an emptied list keeps its timer for one wake-up; a member added again is due from then', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const list = new DeadlineList(q, 1000);
    const a = new Member();
    list.add(a);
    list.remove(a);
    expect(list.armed).toBe(true);
    clock.advance(600);
    list.add(a); // due at 1600
    clock.advance(400); // the old timer fires at 1000: a is not due, the timer is set for it
    expect(a.fired).toBe(0);
    expect(list.armed).toBe(true);
    clock.advance(600);
    expect(a.fired).toBe(1);
    expect(list.armed).toBe(false);
  });

  it('a member whose deadline throws does not stop the others; one added from a deadline is kept', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const errors: unknown[] = [];
    q.onError = (e) => errors.push(e);
    const list = new DeadlineList(q, 100);
    const late = new Member();
    const a = new Member(() => {
      throw new Error('boom');
    });
    const b = new Member(() => list.add(late));
    list.add(a);
    list.add(b);
    clock.advance(100);
    expect([a.fired, b.fired]).toEqual([1, 1]);
    expect(errors).toHaveLength(1);
    expect(late.dlList).toBe(list);
    clock.advance(100);
    expect(late.fired).toBe(1);
  });

  it('works again after the queue was cleared (a layer closed and reused)', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const list = new DeadlineList(q, 100);
    const a = new Member();
    list.add(a);
    q.clear();
    expect(list.armed).toBe(false);
    list.remove(a);
    list.add(a);
    clock.advance(100);
    expect(a.fired).toBe(1);
  });
});
