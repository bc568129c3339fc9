// Completed non-INVITE responses kept for Timer J (issue 16), in the layer's ServerTable: one sweep
// timer for all records (they expire in arrival order), bounded, keys kept as bytes and found by a
// hash that different keys may share (a hit is checked against the key).
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/transaction/clock.js';
import type { ServerTransaction } from '../../src/transaction/server-transaction.js';
import { ServerTable } from '../../src/transaction/server-table.js';
import { TimerQueue } from '../../src/transaction/timer-queue.js';
import type { SipPeer } from '../../src/transaction/types.js';

const peer: SipPeer = { addr: '192.0.2.1', port: 5060, family: 4, proto: 'udp' };
const wire = Buffer.from('SIP/2.0 200 OK\r\n\r\n');

/** Just what the table reads of a server transaction (a corner-case stand-in, no state machine). */
function fakeTxn(key: string, from: SipPeer = peer): ServerTransaction {
  return { key, from, _hash: 0, _index: -1 } as unknown as ServerTransaction;
}

/** A table and the two steps a transaction takes in it: open, then Completed for `ms`. */
function table(max: number, clock = new ManualClock(), q = new TimerQueue(clock)) {
  const t = new ServerTable(q, max);
  const open = (key: string, from?: SipPeer): ServerTransaction => {
    const txn = fakeTxn(key, from);
    t.add(txn, t.hash(key));
    return txn;
  };
  const retain = (key: string, w: Buffer, from: SipPeer, ms: number): void => t.retain(open(key, from), w, ms);
  const get = (key: string) => {
    const v = t.find(key, t.hash(key));
    return typeof v === 'number' ? t.record(v) : undefined;
  };
  return { t, q, clock, open, retain, get };
}

describe('ServerTable: Completed records (CompletedResponses)', () => {
  it('keeps each record J ms (at most 200 ms more) with a single timer for all of them, and drops them in order', () => {
    const { t, q, clock, retain, get } = table(1000);
    for (let i = 0; i < 100; i++) {
      retain(`k${i}`, wire, peer, 32_000);
      clock.advance(10);
    }
    expect(q.size).toBe(1); // not one timer entry per record
    expect(t.completedSize).toBe(100);
    clock.advance(32_000 - 1000 - 1); // t = 31,999: nothing has expired
    expect(get('k0')).toBeDefined();
    clock.advance(1); // t = 32,000: k0's J
    expect(get('k0')).toBeUndefined();
    expect(get('k1')).toBeDefined();
    clock.advance(215); // t = 32,215: the next sweep (k1's J + 200 ms) took k1..k21 at once
    expect(get('k21')).toBeUndefined();
    expect(get('k22')).toBeDefined();
    expect(get('k99')?.wire).toEqual(wire);
    clock.advance(1200);
    expect(t.completedSize).toBe(0);
    expect(q.size).toBe(0);
  });

  it('is bounded: past max the oldest goes first', () => {
    const { t, retain, get } = table(10);
    for (let i = 0; i < 25; i++) retain(`k${i}`, wire, peer, 32_000);
    expect(t.completedSize).toBe(10);
    expect(t.evicted).toBe(15);
    expect(get('k14')).toBeUndefined();
    expect(get('k15')).toBeDefined();
  });

  it('clear() drops everything and its timer', () => {
    const { t, q, retain, get } = table(10);
    retain('a', wire, peer, 1000);
    t.clear();
    expect(t.completedSize).toBe(0);
    expect(q.size).toBe(0);
    expect(get('a')).toBeUndefined();
  });

  it('grows past its first ring, keeps each record\'s own bytes and peer, and frees chunks as records expire', () => {
    const { t, clock, retain, get } = table(1_000_000);
    const big = Buffer.alloc(40_000, 0x41);
    for (let i = 0; i < 5000; i++) {
      const w = i % 1000 === 7 ? big : Buffer.from(`SIP/2.0 200 OK\r\nX-N: ${i}\r\n\r\n`);
      retain(`k${i}`, w, { ...peer, port: 1000 + (i % 60000) }, 32_000);
      if (i % 100 === 0) clock.advance(100); // 5 s of records
    }
    expect(t.completedSize).toBe(5000);
    for (const i of [0, 1, 1023, 1024, 2047, 4999]) {
      const r = get(`k${i}`)!;
      expect(r.wire.toString()).toBe(`SIP/2.0 200 OK\r\nX-N: ${i}\r\n\r\n`);
      expect(r.from).toMatchObject({ addr: '192.0.2.1', port: 1000 + i, family: 4, proto: 'udp' });
    }
    expect(get('k1007')!.wire).toEqual(big);
    const records = (t as unknown as { records: { chunks: Buffer[] } }).records;
    const chunks = records.chunks.length;
    clock.advance(32_000 - 5_000 + 2_400); // t = 34,400: the records of the first 2.4 s (and a sweep's slack) have expired
    expect(get('k0')).toBeUndefined();
    expect(get('k2000')).toBeUndefined();
    expect(get('k4999')!.wire.toString()).toContain('X-N: 4999');
    expect(records.chunks.length).toBeLessThan(chunks);
    clock.advance(60_000);
    expect(t.completedSize).toBe(0);
    expect(records.chunks.length).toBe(0);
  });

  it('the bound holds for the bytes too: the chunks of evicted records are released (and reused) at once, not at the next sweep', () => {
    const { t, retain, get } = table(1000);
    const records = (t as unknown as { records: { chunks: Buffer[]; spare: Buffer[] } }).records;
    const w = Buffer.alloc(1000, 0x41); // ~1 KB records: 1,000 of them fill about four 256 KB chunks
    for (let i = 0; i < 50_000; i++) retain(`k${i}`, w, peer, 32_000); // no time passes: no sweep
    expect(t.completedSize).toBe(1000);
    expect(records.chunks.length).toBeLessThanOrEqual(6);
    expect(records.chunks.length + records.spare.length).toBeLessThanOrEqual(14);
    expect(get('k48999')).toBeUndefined();
    expect(get('k49000')!.wire).toEqual(w);
    expect(get('k49999')!.wire).toEqual(w);
  });

  it('eviction by the bound works across a grown ring', () => {
    const { t, retain, get } = table(3000);
    for (let i = 0; i < 10_000; i++) retain(`k${i}`, wire, peer, 32_000);
    expect(t.completedSize).toBe(3000);
    expect(t.evicted).toBe(7000);
    expect(get('k6999')).toBeUndefined();
    expect(get('k7000')!.wire).toEqual(wire);
  });

  it('answers the first of 150,000 records from its own bytes (ring and index grown many times), and none after J', () => {
    const { t, clock, retain, get } = table(200_000);
    for (let i = 0; i < 150_000; i++) retain(`z9hG4bK-${i}\u0001192.0.2.1:5060\u0001OPTIONS`, Buffer.from(`SIP/2.0 200 OK\r\nX-N: ${i}\r\n\r\n`), peer, 32_000);
    expect(t.completedSize).toBe(150_000);
    for (const i of [0, 1, 65_535, 65_536, 131_071, 149_999]) expect(get(`z9hG4bK-${i}\u0001192.0.2.1:5060\u0001OPTIONS`)!.wire.toString()).toContain(`X-N: ${i}\r\n`);
    expect(get('z9hG4bK-150000\u0001192.0.2.1:5060\u0001OPTIONS')).toBeUndefined();
    expect(get('z9hG4bK-0\u0001192.0.2.1:5060\u0001INVITE')).toBeUndefined();
    clock.advance(32_300);
    expect(t.completedSize).toBe(0);
    expect(get('z9hG4bK-0\u0001192.0.2.1:5060\u0001OPTIONS')).toBeUndefined();
  });

  it('keys that are not ASCII are kept and told apart', () => {
    const { retain, get } = table(100);
    retain('z9hG4bK-é\u0001h\u0001OPTIONS', Buffer.from('one'), peer, 32_000);
    retain('z9hG4bK-€\u0001h\u0001OPTIONS', Buffer.from('two'), peer, 32_000);
    expect(get('z9hG4bK-é\u0001h\u0001OPTIONS')!.wire.toString()).toBe('one');
    expect(get('z9hG4bK-€\u0001h\u0001OPTIONS')!.wire.toString()).toBe('two');
    expect(get('z9hG4bK-e\u0001h\u0001OPTIONS')).toBeUndefined();
    expect(get('z9hG4bK-\u00e9\u0001h\u0001OPTION')).toBeUndefined();
  });

  it('gives each record its own socket and proto back, and bounds the sockets it keeps (the ones of live records)', () => {
    const { t, clock, retain, get } = table(100_000);
    const sockets = Array.from({ length: 5000 }, (_, n) => ({ n }));
    // 4,096 sockets at once are kept; with all of them live, a record from a 4,097th is not.
    for (let n = 0; n < 4097; n++) retain(`a${n}`, wire, { ...peer, addr: `10.0.${n >> 8}.${n & 255}`, socket: sockets[n] }, 1000);
    expect(t.completedSize).toBe(4096);
    expect(get('a4096')).toBeUndefined();
    expect(get('a17')!.from).toEqual({ addr: '10.0.0.17', port: 5060, family: 4, proto: 'udp', socket: sockets[17] });
    clock.advance(500);
    retain('b', wire, { ...peer, proto: 'ws', socket: sockets[17] }, 1000); // same socket, another proto: another kind, not kept either
    expect(get('b')).toBeUndefined();
    clock.advance(600); // the a records expire: their sockets are let go when room is needed
    for (let n = 4097; n < 5000; n++) retain(`c${n}`, wire, { ...peer, socket: sockets[n] }, 1000);
    retain('d', wire, { ...peer, addr: '2001:db8::1', family: 6, proto: 'ws', socket: sockets[17] }, 1000);
    expect(t.completedSize).toBe(904);
    expect(get('c4999')!.from.socket).toBe(sockets[4999]);
    expect(get('c4097')!.from.socket).toBe(sockets[4097]);
    expect(get('d')!.from).toEqual({ addr: '2001:db8::1', port: 5060, family: 6, proto: 'ws', socket: sockets[17] });
    const kinds = (t as unknown as { records: { kinds: unknown[] } }).records.kinds;
    expect(kinds.length).toBeLessThanOrEqual(4096);
  });
});

describe('ServerTable: keys sharing one hash', () => {
  it('tells open transactions and records apart by their keys when every key has the same hash', () => {
    const clock = new ManualClock();
    const { t, open, retain, get } = table(1000, clock);
    // Every key hashes to 7: each lookup must check each candidate against its key.
    Object.defineProperty(t, 'hash', { value: () => 7 });
    const a = open('a');
    const b = open('b');
    retain('c', Buffer.from('record c'), peer, 1000);
    expect(t.find('a', 7)).toBe(a);
    expect(t.find('b', 7)).toBe(b);
    expect(get('c')!.wire.toString()).toBe('record c');
    expect(t.find('e', 7)).toBeUndefined(); // a new request is never matched to another's record
    t.retain(a, Buffer.from('record a'), 1000); // a completes: its entry becomes its record's
    expect(get('a')!.wire.toString()).toBe('record a');
    retain('d', Buffer.from('record d'), peer, 2000);
    expect(get('d')!.wire.toString()).toBe('record d');
    expect(t.find('b', 7)).toBe(b);
    t.remove(b);
    expect(t.find('b', 7)).toBeUndefined();
    clock.advance(1100); // c and a expire, d stays
    expect(get('c')).toBeUndefined();
    expect(get('a')).toBeUndefined();
    expect(get('d')!.wire.toString()).toBe('record d');
    for (let i = 0; i < 3000; i++) retain(`k${i}`, Buffer.from(`r${i}`), peer, 5000); // ring and index grow, d is evicted by the bound
    expect(get('d')).toBeUndefined();
    expect(get('k2999')!.wire.toString()).toBe('r2999');
    expect(get('k2000')!.wire.toString()).toBe('r2000');
    expect(get('k1999')).toBeUndefined();
  });
});
