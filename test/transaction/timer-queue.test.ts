import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/transaction/clock.js';
import { TimerQueue, type TimerEntry, type TimerTarget } from '../../src/transaction/timer-queue.js';

function recorder(clock: ManualClock) {
  const fired: { id: number; at: number }[] = [];
  const target = (id: number): TimerTarget => ({ onTimer: () => fired.push({ id, at: clock.now() }) });
  return { fired, target };
}

describe('TimerQueue', () => {
  it('fires in due order, at the due time, with one real timer armed', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const { fired, target } = recorder(clock);
    q.schedule(300, target(3));
    q.schedule(100, target(1));
    q.schedule(200, target(2));
    q.schedule(100, target(11)); // same due: scheduling order
    expect(clock.pending).toBe(1);
    expect(q.size).toBe(4);
    clock.advance(1000);
    expect(fired).toEqual([
      { id: 1, at: 100 },
      { id: 11, at: 100 },
      { id: 2, at: 200 },
      { id: 3, at: 300 },
    ]);
    expect(q.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('re-arms the real timer only when a new entry is earlier', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const { target } = recorder(clock);
    q.schedule(1000, target(1));
    expect(clock.armed).toBe(1);
    for (let i = 0; i < 100; i++) q.schedule(2000 + i, target(i));
    expect(clock.armed).toBe(1); // later entries do not touch the real timer
    q.schedule(10, target(0));
    expect(clock.armed).toBe(2);
    expect(clock.pending).toBe(1);
  });

  it('cancel is lazy and O(1); cancelled entries never fire; double cancel is harmless', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const { fired, target } = recorder(clock);
    const a = q.schedule(100, target(1));
    const b = q.schedule(200, target(2));
    q.cancel(a);
    q.cancel(a);
    q.cancel(undefined);
    expect(a.active).toBe(false);
    expect(q.size).toBe(1);
    clock.advance(500);
    expect(fired).toEqual([{ id: 2, at: 200 }]);
    q.cancel(b); // already fired
    expect(q.size).toBe(0);
  });

  it('compacts when dead entries dominate (memory stays bounded)', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const { fired, target } = recorder(clock);
    const entries: TimerEntry[] = [];
    for (let i = 0; i < 10000; i++) entries.push(q.schedule(1000 + i, target(i)));
    for (let i = 0; i < 10000; i++) if (i % 100 !== 0) q.cancel(entries[i]);
    expect(q.size).toBe(100);
    expect((q as unknown as { heap: unknown[] }).heap.length).toBeLessThan(300);
    clock.advance(20000);
    expect(fired.map((f) => f.id)).toEqual(Array.from({ length: 100 }, (_, k) => k * 100));
  });

  it('timers scheduled from a callback run in order; a throwing callback does not stop the queue', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const errors: unknown[] = [];
    q.onError = (e) => errors.push(e);
    const log: string[] = [];
    q.schedule(10, {
      onTimer: () => {
        log.push('a@' + clock.now());
        q.schedule(5, { onTimer: () => log.push('c@' + clock.now()) });
        throw new Error('boom');
      },
    });
    q.schedule(12, { onTimer: () => log.push('b@' + clock.now()) });
    clock.advance(100);
    expect(log).toEqual(['a@10', 'b@12', 'c@15']);
    expect(errors).toHaveLength(1);
  });

  it('passes the kind to the target', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const kinds: number[] = [];
    const t: TimerTarget = { onTimer: (k) => kinds.push(k) };
    q.schedule(1, t, 7);
    q.schedule(2, t, 3);
    clock.advance(5);
    expect(kinds).toEqual([7, 3]);
  });

  it('clear() and close() drop everything, including the real timer', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const { fired, target } = recorder(clock);
    q.schedule(10, target(1));
    q.clear();
    expect(clock.pending).toBe(0);
    q.schedule(10, target(2));
    clock.advance(20);
    expect(fired.map((f) => f.id)).toEqual([2]);
    q.schedule(10, target(3));
    q.close();
    expect(clock.pending).toBe(0);
    expect(() => q.schedule(1, target(4))).toThrow(/closed/);
  });

  it('property: matches a reference model under random schedule/cancel/advance', () => {
    type Op = { t: 'sched'; delay: number } | { t: 'cancel'; pick: number } | { t: 'adv'; ms: number };
    const op = fc.oneof(
      fc.record({ t: fc.constant('sched' as const), delay: fc.integer({ min: 0, max: 2000 }) }),
      fc.record({ t: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ t: fc.constant('adv' as const), ms: fc.integer({ min: 0, max: 700 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops: Op[]) => {
        const clock = new ManualClock();
        const q = new TimerQueue(clock);
        const fired: { id: number; at: number }[] = [];
        const model: { id: number; due: number; live: boolean }[] = [];
        const entries: TimerEntry[] = [];
        const expected: { id: number; at: number }[] = [];
        let id = 0;
        const runModel = (until: number) => {
          for (;;) {
            let best: (typeof model)[number] | undefined;
            for (const m of model) if (m.live && m.due <= until && (best === undefined || m.due < best.due || (m.due === best.due && m.id < best.id))) best = m;
            if (best === undefined) return;
            best.live = false;
            expected.push({ id: best.id, at: best.due });
          }
        };
        for (const o of ops) {
          if (o.t === 'sched') {
            const my = id++;
            entries.push(q.schedule(o.delay, { onTimer: () => fired.push({ id: my, at: clock.now() }) }));
            model.push({ id: my, due: clock.now() + o.delay, live: true });
          } else if (o.t === 'cancel') {
            if (entries.length === 0) continue;
            const k = o.pick % entries.length;
            q.cancel(entries[k]);
            model[k]!.live = false;
          } else {
            runModel(clock.now() + o.ms);
            clock.advance(o.ms);
          }
          if (clock.pending > 1) return false;
          if (q.size !== model.filter((m) => m.live).length) return false;
        }
        runModel(clock.now() + 10000);
        clock.advance(10000);
        expect(fired).toEqual(expected);
        expect(q.size).toBe(0);
        expect(clock.pending).toBe(0);
        return true;
      }),
      { numRuns: 300 },
    );
  });
  it('property: callbacks that cancel many timers (compaction) or schedule more keep the order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ delay: fc.integer({ min: 0, max: 3000 }), cancels: fc.array(fc.nat(), { maxLength: 120, size: 'medium' }), spawn: fc.option(fc.integer({ min: 0, max: 500 })) }), {
          minLength: 50,
          maxLength: 400,
        }),
        (specs) => {
          const clock = new ManualClock();
          const q = new TimerQueue(clock);
          const entries: TimerEntry[] = [];
          const due: number[] = [];
          const cancelled = new Set<number>();
          const fired: { id: number; at: number }[] = [];
          const add = (delay: number, spec: (typeof specs)[number] | undefined) => {
            const id = entries.length;
            due.push(clock.now() + delay);
            entries.push(
              q.schedule(delay, {
                onTimer: () => {
                  fired.push({ id, at: clock.now() });
                  if (spec === undefined) return;
                  for (const c of spec.cancels) {
                    const k = c % entries.length;
                    if (entries[k]!.active) cancelled.add(k);
                    q.cancel(entries[k]);
                  }
                  if (spec.spawn !== null) add(spec.spawn, undefined);
                },
              }),
            );
          };
          for (const spec of specs) add(spec.delay, spec);
          clock.advance(10000);
          // every fire at its due time, in (due, id) order, never a cancelled one, every other one fired once
          for (let i = 0; i < fired.length; i++) {
            const f = fired[i]!;
            if (f.at !== due[f.id]) return false;
            if (cancelled.has(f.id)) return false;
            if (i > 0) {
              const p = fired[i - 1]!;
              if (due[p.id]! > due[f.id]! || (due[p.id] === due[f.id] && p.id > f.id)) return false;
            }
          }
          const firedIds = new Set(fired.map((f) => f.id));
          if (firedIds.size !== fired.length) return false;
          for (let id = 0; id < entries.length; id++) if (!cancelled.has(id) && !firedIds.has(id)) return false;
          return q.size === 0 && clock.pending === 0;
        },
      ),
      { numRuns: 150 },
    );
  });
});
