import { describe, expect, it } from 'vitest';
import { parseMessage, type SipRequest } from '../../src/message/index.js';
import { ADMIT, AdmissionGate, DROP, REJECT } from '../../src/transaction/admission.js';
import { ManualClock } from '../../src/transaction/clock.js';

const request = (toTag?: string): SipRequest =>
  parseMessage(
    `OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>${toTag ? `;tag=${toTag}` : ''}\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
  ) as SipRequest;
const fresh = request();
const inDialog = request('t1');

describe('admission gate (overload control)', () => {
  it('per source: the limit per window, then 503 once per window and silence, for a block that doubles on repeat', () => {
    const clock = new ManualClock();
    const gate = new AdmissionGate({ perSource: { limit: 3, window: 1000, block: 2000 } }, clock);
    const run = (n: number, addr = '192.0.2.1') => Array.from({ length: n }, () => gate.check(addr, fresh, 0));
    expect(run(3)).toEqual([ADMIT, ADMIT, ADMIT]);
    expect(run(3)).toEqual([REJECT, DROP, DROP]);
    expect(gate.check('192.0.2.2', fresh, 0)).toBe(ADMIT); // another source is served
    clock.advance(1000); // new window, still blocked: one 503 again, then silence
    expect(run(2)).toEqual([REJECT, DROP]);
    clock.advance(1000); // block over (2 s)
    expect(run(3)).toEqual([ADMIT, ADMIT, ADMIT]);
    expect(run(1)).toEqual([REJECT]); // second offence: 4 s
    clock.advance(3000);
    expect(run(1)).toEqual([REJECT]);
    clock.advance(1000);
    expect(run(1)).toEqual([ADMIT]);
    expect(gate.stats.sourcesBlocked).toBe(2);
  });

  it("per source: 'drop' never answers a blocked source; exempt addresses are never limited", () => {
    const gate = new AdmissionGate({ perSource: { limit: 1, action: 'drop', exempt: ['10.0.0.1'] } }, new ManualClock());
    expect([gate.check('192.0.2.1', fresh, 0), gate.check('192.0.2.1', fresh, 0)]).toEqual([ADMIT, DROP]);
    for (let i = 0; i < 100; i++) expect(gate.check('10.0.0.1', fresh, 0)).toBe(ADMIT);
  });

  it('the source table is bounded: spoofed sources push the oldest out', () => {
    const gate = new AdmissionGate({ perSource: { maxSources: 100 } }, new ManualClock());
    for (let i = 0; i < 10_000; i++) gate.check(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, fresh, 0);
    expect(gate.trackedSources).toBe(100);
  });

  it('lag over maxLag: 503; over twice: dropped; in-dialog requests still go through', () => {
    const gate = new AdmissionGate({ maxLag: 100, perSource: false, refusalInterval: 0 }, new ManualClock());
    gate.lag = 50;
    expect(gate.check('192.0.2.1', fresh, 0)).toBe(ADMIT);
    gate.lag = 150;
    expect([gate.check('192.0.2.1', fresh, 0), gate.check('192.0.2.1', inDialog, 0)]).toEqual([REJECT, ADMIT]);
    gate.lag = 250;
    expect([gate.check('192.0.2.1', fresh, 0), gate.check('192.0.2.1', inDialog, 0)]).toEqual([DROP, ADMIT]);
    expect([gate.stats.overloaded, gate.stats.shed]).toEqual([1, 1]);
  });

  it('UDP queue delay over maxQueueDelay: a share of new requests gets 503, cut while the wait stays over (by a third, in proportion to the wait far over it, at most once per 10 ms), raised under half of it by a twentieth per 20 ms; in-dialog requests pass', () => {
    const clock = new ManualClock();
    const gate = new AdmissionGate({ maxQueueDelay: 5, perSource: false, refusalInterval: 0 }, clock);
    const admitted = (n: number) => Array.from({ length: n }, () => gate.check('192.0.2.1', fresh, 0)).filter((v) => v === ADMIT).length;
    gate.noteQueueDelay(4);
    expect(admitted(100)).toBe(100);
    gate.noteQueueDelay(6); // just over: two thirds admitted, evenly spread
    expect(gate.admitShare).toBeCloseTo(0.66);
    expect(admitted(100)).toBe(66);
    expect(gate.check('192.0.2.1', inDialog, 0)).toBe(ADMIT);
    clock.advance(5);
    gate.noteQueueDelay(9); // measured again within 10 ms: no second cut yet
    expect(gate.admitShare).toBeCloseTo(0.66);
    clock.advance(5);
    gate.noteQueueDelay(20); // far over: in proportion (5/20)
    expect(gate.admitShare).toBeCloseTo(0.165);
    clock.advance(10);
    gate.noteQueueDelay(500); // never below a tenth in one cut
    expect(gate.admitShare).toBeCloseTo(0.0165);
    for (let i = 0; i < 10; i++) {
      clock.advance(10);
      gate.noteQueueDelay(40); // stays over: cut again each time, never below 1 %
    }
    expect(gate.admitShare).toBe(0.01);
    expect(admitted(1000)).toBeGreaterThanOrEqual(10);
    expect(gate.stats.overloaded).toBeGreaterThan(900);
    clock.advance(20);
    gate.noteQueueDelay(3); // between half the bound and the bound: held
    expect(gate.admitShare).toBe(0.01);
    for (let i = 0; i < 8; i++) {
      clock.advance(5);
      gate.noteQueueDelay(1); // under half, every 5 ms: a quarter of a twentieth each time
    }
    expect(gate.admitShare).toBeCloseTo(0.11);
    for (let i = 0; i < 20; i++) {
      clock.advance(20);
      gate.noteQueueDelay(1);
    }
    expect(gate.admitShare).toBe(1);
    expect(admitted(100)).toBe(100);
  });

  it('the live-transaction cap: new requests over it get 503, in-dialog ones pass', () => {
    const gate = new AdmissionGate({ maxTransactions: 10, perSource: false, refusalInterval: 0 }, new ManualClock());
    expect(gate.check('192.0.2.1', fresh, 9)).toBe(ADMIT);
    expect(gate.check('192.0.2.1', fresh, 10)).toBe(REJECT);
    expect(gate.check('192.0.2.1', inDialog, 10)).toBe(ADMIT);
  });

  it('refused for load: 503s per source paced to one per refusalInterval after a burst of 10, the rest dropped; another source still gets its 503; the table is bounded', () => {
    const clock = new ManualClock();
    const gate = new AdmissionGate({ maxTransactions: 1, perSource: { maxSources: 3 } }, clock);
    const flood = Array.from({ length: 100 }, () => gate.check('192.0.2.1', fresh, 5));
    expect(flood.filter((v) => v === REJECT)).toHaveLength(10);
    expect(flood.slice(0, 10).every((v) => v === REJECT)).toBe(true);
    expect(flood.filter((v) => v === DROP)).toHaveLength(90);
    expect(gate.check('192.0.2.2', fresh, 5)).toBe(REJECT); // a light client is answered
    expect(gate.check('192.0.2.2', inDialog, 5)).toBe(ADMIT);
    clock.advance(10);
    expect([gate.check('192.0.2.1', fresh, 5), gate.check('192.0.2.1', fresh, 5)]).toEqual([REJECT, DROP]);
    clock.advance(1000); // a quiet second refills the burst
    expect(Array.from({ length: 12 }, () => gate.check('192.0.2.1', fresh, 5)).filter((v) => v === REJECT)).toHaveLength(10);
    expect([gate.stats.overloaded, gate.stats.shed]).toEqual([22, 93]);
    // IPv6 by /64, like the per-source rate.
    const v6 = Array.from({ length: 11 }, (_, i) => gate.check(`2001:db8::${i + 1}`, fresh, 5));
    expect(v6.filter((v) => v === REJECT)).toHaveLength(10);
    for (let i = 0; i < 50; i++) gate.check(`198.51.100.${i}`, fresh, 5);
    expect((gate as unknown as { refusedAt: Map<string, number> }).refusedAt.size).toBe(3);
  });
});
