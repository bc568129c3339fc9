import fc from 'fast-check';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindingKey, LocationStoreError, MemoryLocationStore, RedisLocationStore, type Binding, type BindingUpdate, type LocationStore } from 'nestjs-sip';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { sleep } from '../helpers/wait.js';

const redisServer = peerTool('redis-server');

/** One REGISTER's update, as SipRegistrar builds it. */
function update(o: { now: number; callId: string; cseq: number; add?: { uri: string; ttl: number }[]; remove?: string[]; removeAll?: boolean; max?: number; keep?: number }): BindingUpdate {
  const changes = [
    ...(o.add ?? []).map(({ uri, ttl }) => {
      const binding: Binding = { uri, params: '', expiresAt: o.now + ttl, updatedAt: o.now, callId: o.callId, cseq: o.cseq, source: { proto: 'udp', addr: '192.0.2.1', port: 5060, node: 'n1' } };
      return { key: bindingKey(binding), binding };
    }),
    ...(o.remove ?? []).map((uri) => ({ key: bindingKey({ uri }) })),
  ];
  return { callId: o.callId, cseq: o.cseq, now: o.now, removeAll: o.removeAll ?? false, changes, maxBindings: o.max ?? 10, keepUntil: o.now + (o.keep ?? 3_600_000) };
}

describe.skipIf(!redisServer.available && !inCI())('RedisLocationStore against a real redis-server', () => {
  it('has redis-server installed (required in CI)', () => {
    if (inCI()) expect(redisServer.available, 'redis-server (Debian redis-server) is required in CI').toBe(true);
  });

  let redis: TestRedis;
  let store: RedisLocationStore;
  const errors: Error[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    store = new RedisLocationStore({ url: redis.url, prefix: `t${process.pid}:`, timeout: 10_000, onError: (e) => errors.push(e) });
  });
  afterAll(async () => {
    await store?.close();
    await redis?.stop();
    killAllRedis();
  });

  it('gives the same answers as the in-memory store for any sequence of REGISTERs (ordering rule, removals, expiry, room making)', async () => {
    const uri = fc.constantFrom('sip:a@192.0.2.1', 'sip:b@192.0.2.1', 'sip:c@192.0.2.1', 'sip:d@192.0.2.1');
    const op = fc.record({
      dt: fc.constantFrom(0, 0, 600, 1600),
      callId: fc.constantFrom('c1', 'c2', 'c3'),
      cseq: fc.integer({ min: 1, max: 6 }),
      add: fc.uniqueArray(fc.record({ uri, ttl: fc.constantFrom(500, 1500, 3000) }), { selector: (a) => a.uri, maxLength: 3 }),
      remove: fc.array(uri, { maxLength: 2 }),
      removeAll: fc.boolean().map((b) => b && Math.random() < 0.3),
      max: fc.integer({ min: 1, max: 3 }),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const aor = `sip:model${run++}@example.test`;
        const memory: LocationStore = new MemoryLocationStore();
        let now = Date.now();
        for (const o of ops) {
          now += o.dt;
          const remove = o.remove.filter((r) => !o.add.some((a) => a.uri === r));
          const u = update({ now, callId: o.callId, cseq: o.cseq, add: o.removeAll ? [] : o.add, remove: o.removeAll ? [] : remove, removeAll: o.removeAll, max: o.max });
          const [m, r] = [await memory.update(aor, u), await store.update(aor, u)];
          expect(r).toEqual(m);
          expect(await store.get(aor, now)).toEqual(await memory.get(aor, now));
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it('two instances updating the same AOR at once lose no binding (each update is one atomic script)', async () => {
    const other = new RedisLocationStore({ url: redis.url, prefix: `t${process.pid}:`, timeout: 10_000 });
    try {
      const aor = 'sip:busy@example.test';
      const now = Date.now();
      const n = 150;
      const results = await Promise.all(
        Array.from({ length: 2 * n }, (_, i) =>
          (i % 2 === 0 ? store : other).update(aor, update({ now, callId: `phone-${i}`, cseq: 1, add: [{ uri: `sip:p${i}@192.0.2.1`, ttl: 60_000 }], max: 1000 })),
        ),
      );
      expect(results.every((r) => r.ok)).toBe(true);
      const all = await other.get(aor, now);
      expect(all?.map((b) => b.uri).sort()).toEqual(Array.from({ length: 2 * n }, (_, i) => `sip:p${i}@192.0.2.1`).sort());
      // Concurrent refreshes of one binding by the same phone through both instances: exactly one of each CSeq pair wins.
      const refresh = await Promise.all([1, 2, 3, 4, 5, 6].flatMap((c) => [store, other].map((s) => s.update(aor, update({ now, callId: 'phone-0', cseq: c + 1, add: [{ uri: 'sip:p0@192.0.2.1', ttl: 60_000 }], max: 1000 })))));
      const won = refresh.filter((r) => r.ok).length;
      expect(won).toBeGreaterThanOrEqual(1);
      expect(won).toBeLessThanOrEqual(6);
      expect((await store.get(aor, now))?.length).toBe(2 * n);
    } finally {
      await other.close();
    }
  });

  it('any interleaving of concurrent refreshes through two instances ends with every phone bound as its highest CSeq says (property)', async () => {
    // (Refreshes only: a removal that overtakes the REGISTER it should undo finds no binding and
    // leaves no trace, as RFC 3261 §10.3 has it, so the older REGISTER then adds the binding.)
    const other = new RedisLocationStore({ url: redis.url, prefix: `t${process.pid}:`, timeout: 10_000 });
    let run = 0;
    try {
      const phone = fc.array(fc.record({ expires: fc.constantFrom(60_000, 120_000, 180_000), via: fc.boolean() }), { minLength: 1, maxLength: 4 });
      await fc.assert(
        fc.asyncProperty(fc.array(phone, { minLength: 1, maxLength: 6 }), fc.scheduler(), async (phones, s) => {
          const aor = `sip:race${run++}@example.test`;
          const now = Date.now();
          // Every REGISTER of every phone at once, through either instance, in an order the scheduler picks.
          const sends = phones.flatMap((regs, p) =>
            regs.map((r, i) =>
              s
                .schedule(Promise.resolve(), `phone ${p} cseq ${i + 1}`)
                .then(() => (r.via ? store : other).update(aor, update({ now, callId: `phone-${p}`, cseq: i + 1, add: [{ uri: `sip:p${p}@192.0.2.1`, ttl: r.expires }], max: 100 }))),
            ),
          );
          await s.waitAll();
          const results = await Promise.all(sends);
          // The highest CSeq of each phone is never refused; lower ones only when it came first.
          let i = 0;
          for (const regs of phones) {
            expect(results[i + regs.length - 1]!.ok).toBe(true);
            i += regs.length;
          }
          const got = ((await store.get(aor, now)) ?? []).map((b) => [b.uri, b.cseq, b.expiresAt - now]).sort();
          const want = phones.map((regs, p) => [`sip:p${p}@192.0.2.1`, regs.length, regs[regs.length - 1]!.expires]).sort();
          expect(got).toEqual(want);
        }),
        { numRuns: 60 },
      );
    } finally {
      await other.close();
    }
  }, 120_000);

  it('the AOR key expires in Redis itself (a native TTL) when its last binding and its keep time have passed', async () => {
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      const aor = 'sip:brief@example.test';
      const now = Date.now();
      const r = await store.update(aor, update({ now, callId: 'c', cseq: 1, add: [{ uri: 'sip:x@192.0.2.1', ttl: 3000 }, { uri: 'sip:y@192.0.2.1', ttl: 1500 }], keep: 0 }));
      expect(r.ok).toBe(true);
      const key = `t${process.pid}:${aor}`;
      const pttl = await raw.pTTL(key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(3000);
      // Before then, the binding that expires first is no longer returned (a lookup at a later clock).
      expect((await store.get(aor, now + 2000))?.map((b) => b.uri)).toEqual(['sip:x@192.0.2.1']);
      // Redis deletes the key by itself (the test's timeout bounds the wait).
      while ((await raw.exists(key)) === 1) await sleep(50);
      expect(await raw.exists(key)).toBe(0);
      expect(await store.get(aor, Date.now())).toBeUndefined();
    } finally {
      raw.destroy();
    }
  });

  it('works with a client the application made (createClient), which it keeps', async () => {
    const client = createClient({ url: redis.url, disableOfflineQueue: true });
    await client.connect();
    const mine = new RedisLocationStore({ client, prefix: `own${process.pid}:` });
    const now = Date.now();
    expect((await mine.update('sip:own@example.test', update({ now, callId: 'c', cseq: 1, add: [{ uri: 'sip:o@192.0.2.1', ttl: 5000 }] }))).ok).toBe(true);
    expect((await mine.get('sip:own@example.test', now))?.map((b) => b.uri)).toEqual(['sip:o@192.0.2.1']);
    await mine.close();
    expect(client.isReady).toBe(true);
    client.destroy();
  });

  it('Redis stopped: commands fail at once with LocationStoreError (no 60 s wait); a stalled Redis fails at the timeout; both recover by themselves', async () => {
    const slowTimeout = new RedisLocationStore({ url: redis.url, prefix: `t${process.pid}:`, timeout: 60_000, onError: () => {} });
    const stall = new RedisLocationStore({ url: redis.url, prefix: `t${process.pid}:`, timeout: 300, onError: () => {} });
    try {
      const now = Date.now();
      expect((await slowTimeout.update('sip:f@example.test', update({ now, callId: 'c', cseq: 1, add: [{ uri: 'sip:f@192.0.2.1', ttl: 60_000 }] }))).ok).toBe(true);
      // Connected (its 300 ms may pass while this machine is busy: retried).
      await waitFor(async () => (await stall.get('sip:f@example.test', now)) !== undefined);
      await redis.kill();
      // The test's own 30 s timeout would fail this if the command waited for the store's 60 s.
      await expect(slowTimeout.update('sip:f@example.test', update({ now, callId: 'c', cseq: 2 }))).rejects.toThrow(LocationStoreError);
      await expect(slowTimeout.get('sip:f@example.test', now)).rejects.toThrow(/Redis location store: lookup failed/);
      await redis.restart();
      await waitFor(async () => (await slowTimeout.get('sip:f@example.test', Date.now())) === undefined);
      expect((await slowTimeout.update('sip:f@example.test', update({ now: Date.now(), callId: 'c', cseq: 3, add: [{ uri: 'sip:g@192.0.2.1', ttl: 60_000 }] }))).ok).toBe(true);
      // SIGSTOP: the connection stays up but nothing answers.
      await waitFor(async () => (await stall.get('sip:f@example.test', Date.now())) !== undefined);
      process.kill(redis.pid!, 'SIGSTOP');
      try {
        await expect(stall.get('sip:f@example.test', Date.now())).rejects.toThrow(/not answered within 300 ms/);
      } finally {
        process.kill(redis.pid!, 'SIGCONT');
      }
      await waitFor(async () => (await stall.get('sip:f@example.test', Date.now()))?.length === 1);
    } finally {
      await slowTimeout.close();
      await stall.close();
    }
  }, 30_000);
});

/** Retry `fn` until it says true (errors count as false); the test's timeout bounds it. */
async function waitFor(fn: () => Promise<boolean>): Promise<void> {
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
}
