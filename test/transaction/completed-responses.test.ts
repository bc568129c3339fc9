// Completed non-INVITE responses kept for Timer J (issue 16): one sweep timer for all records
// (they expire in arrival order), bounded, a key seen again moves to the end.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/transaction/clock.js';
import { CompletedResponses } from '../../src/transaction/completed-responses.js';
import { TimerQueue } from '../../src/transaction/timer-queue.js';

const peer = { addr: '192.0.2.1', port: 5060, family: 4 as const, proto: 'udp' as const };
const wire = Buffer.from('SIP/2.0 200 OK\r\n\r\n');

describe('CompletedResponses', () => {
  it('keeps each record J ms (at most 200 ms more) with a single timer for all of them, and drops them in order', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const c = new CompletedResponses(q, 1000, new Map());
    for (let i = 0; i < 100; i++) {
      c.retain(`k${i}`, wire, peer, 32_000);
      clock.advance(10);
    }
    expect(q.size).toBe(1); // not one timer entry per record
    expect(c.size).toBe(100);
    clock.advance(32_000 - 1000 - 1); // t = 31,999: nothing has expired
    expect(c.get('k0')).toBeDefined();
    clock.advance(1); // t = 32,000: k0's J
    expect(c.get('k0')).toBeUndefined();
    expect(c.get('k1')).toBeDefined();
    clock.advance(215); // t = 32,215: the next sweep (k1's J + 200 ms) took k1..k21 at once
    expect(c.get('k21')).toBeUndefined();
    expect(c.get('k22')).toBeDefined();
    expect(c.get('k99')?.wire).toEqual(wire);
    clock.advance(1200);
    expect(c.size).toBe(0);
    expect(q.size).toBe(0);
  });

  it('is bounded: past max the oldest goes first', () => {
    const clock = new ManualClock();
    const c = new CompletedResponses(new TimerQueue(clock), 10, new Map());
    for (let i = 0; i < 25; i++) c.retain(`k${i}`, wire, peer, 32_000);
    expect(c.size).toBe(10);
    expect(c.evicted).toBe(15);
    expect(c.get('k14')).toBeUndefined();
    expect(c.get('k15')).toBeDefined();
  });

  it('a key retained again lives from its new time', () => {
    const clock = new ManualClock();
    const c = new CompletedResponses(new TimerQueue(clock), 10, new Map());
    c.retain('a', wire, peer, 1000);
    c.retain('b', wire, peer, 1000);
    clock.advance(500);
    c.retain('a', wire, peer, 1000);
    clock.advance(800); // t = 1,300: b (due 1,000) swept at 1,200
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined(); // due 1,500
    clock.advance(500);
    expect(c.get('a')).toBeUndefined();
  });

  it('clear() drops everything and its timer', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const c = new CompletedResponses(q, 10, new Map());
    c.retain('a', wire, peer, 1000);
    c.clear();
    expect(c.size).toBe(0);
    expect(q.size).toBe(0);
  });

  it('grows past its first ring, keeps each record\'s own bytes and peer, and frees chunks as records expire', () => {
    const clock = new ManualClock();
    const q = new TimerQueue(clock);
    const c = new CompletedResponses(q, 1_000_000, new Map());
    const big = Buffer.alloc(40_000, 0x41);
    for (let i = 0; i < 5000; i++) {
      const w = i % 1000 === 7 ? big : Buffer.from(`SIP/2.0 200 OK\r\nX-N: ${i}\r\n\r\n`);
      c.retain(`k${i}`, w, { ...peer, port: 1000 + (i % 60000) }, 32_000);
      if (i % 100 === 0) clock.advance(100); // 5 s of records
      if (i === 2500) c.retain('k10', Buffer.from('again'), peer, 32_000); // seen again: lives on, new bytes
    }
    expect(c.size).toBe(5001); // k10's first record counts until its own J (size is records kept)
    for (const i of [0, 1, 1023, 1024, 2047, 4999]) {
      const r = c.get(`k${i}`)!;
      expect(r.wire.toString()).toBe(`SIP/2.0 200 OK\r\nX-N: ${i}\r\n\r\n`);
      expect(r.from).toMatchObject({ addr: '192.0.2.1', port: 1000 + i, family: 4, proto: 'udp' });
    }
    expect(c.get('k1007')!.wire).toEqual(big);
    expect(c.get('k10')!.wire.toString()).toBe('again');
    const chunks = (c as unknown as { chunks: Buffer[] }).chunks.length;
    clock.advance(32_000 - 5_000 + 2_400); // t = 34,400: the records of the first 2.4 s (and a sweep's slack) have expired
    expect(c.get('k0')).toBeUndefined();
    expect(c.get('k2000')).toBeUndefined();
    expect(c.get('k10')).toBeDefined(); // retained again at t = 2,500
    expect(c.get('k4999')!.wire.toString()).toContain('X-N: 4999');
    expect((c as unknown as { chunks: Buffer[] }).chunks.length).toBeLessThan(chunks);
    clock.advance(60_000);
    expect(c.size).toBe(0);
    expect((c as unknown as { chunks: Buffer[] }).chunks.length).toBe(0);
  });

  it('eviction by the bound works across a grown ring', () => {
    const clock = new ManualClock();
    const c = new CompletedResponses(new TimerQueue(clock), 3000, new Map());
    for (let i = 0; i < 10_000; i++) c.retain(`k${i}`, wire, peer, 32_000);
    expect(c.size).toBe(3000);
    expect(c.evicted).toBe(7000);
    expect(c.get('k6999')).toBeUndefined();
    expect(c.get('k7000')!.wire).toEqual(wire);
  });
});
