// Issue 15, "A REGISTER storm from 10,000 AORs: stored with bounded memory in Redis and in the app".
// sipp registers 10,000 different phones (one AOR each) with the example over UDP:
// - with SIP_REDIS_URL (a redis-server of the test's own): Redis holds one key per AOR, each with a
//   native TTL (it goes away by itself), at a bounded size per AOR (under 2 KiB; about 680 bytes);
//   the app's store is not an in-memory table (connections of TCP/TLS/WS phones are, LocalFlows, capped);
// - with the in-memory store: one entry per AOR, and the table is capped: a 10,000-AOR storm at a
//   registrar whose store holds at most 4,000 stores exactly 4,000 and answers the rest 503 with
//   Retry-After (the example's store holds 100,000).
// sipp runs as fast as the app answers (-l 200); a REGISTER the app's overload gate sheds on a busy
// machine (503 with Retry-After) is counted, not stored, and must be the only other answer.
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryLocationStore, SipRegistrar, type SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { registerRequest } from '../registrar/register-request.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { killAllSipp, runSipp, type SippResult } from '../helpers/sipp.js';

const AORS = 10_000;
// The storm comes from one sipp: exempt its address from the per-source limit (1,000 requests a second,
// then blocked), as an operator exempts the balancer that all phones come through (deploy/README.md).
const FRONT = { SIP_FRONT_PROXIES: '127.0.0.1' };
const sipp = peerTool('sipp');
const redisServer = peerTool('redis-server');

async function storm(server: SipServer): Promise<SippResult> {
  const port = server.addresses.find((a) => a.proto === 'udp')!.port;
  return runSipp({
    scenario: '../scale/register-storm.xml',
    target: `127.0.0.1:${port}`,
    calls: AORS,
    rate: 2000,
    limit: 200, timeout: 180,
    // No BYE for a refused REGISTER (sipp's default for an aborted call).
    args: ['-s', 'storm.test', '-default_behaviors', 'all,-bye'],
  });
}

/** sipp's calls all answered: 200, or 503 with Retry-After (shed by the overload gate); nothing else, no timeout. */
function onlyShed(r: SippResult): void {
  console.log(`storm: sipp ${r.successful} registered, ${r.failed} refused`);
  expect(r.successful + r.failed, r.stdout.slice(-1500)).toBe(AORS);
  for (const e of r.errors.split(/(?=\d{4}-\d\d-\d\d\t)/).filter((x) => x.includes("received 'SIP/2.0"))) {
    // (a late 200 is a retransmitted REGISTER's answer arriving after the call ended)
    expect(e, e).toMatch(/received 'SIP\/2\.0 (503|200) /);
    if (e.includes("received 'SIP/2.0 503 ")) expect(e, e).toMatch(/\nRetry-After: \d+/i);
  }
  expect(r.errors).not.toMatch(/timed out/i);
  // The storm is stored, not shed: most of it gets through even on a loaded machine.
  expect(r.successful).toBeGreaterThanOrEqual(AORS / 2);
}

describe.skipIf(!sipp.available && !inCI())('a REGISTER storm from 10,000 AORs', () => {
  let app: INestApplicationContext | undefined;
  let redis: TestRedis | undefined;
  afterAll(async () => {
    killAllSipp();
    await app?.close();
    await redis?.stop();
    killAllRedis();
  });

  it.skipIf(!redisServer.available && !inCI())('in Redis (SIP_REDIS_URL): one key per AOR, each with a native TTL, bounded bytes per AOR; no AOR table in the app', async () => {
    expect(redisServer.available && sipp.available, 'redis-server and sipp are required in CI').toBe(true);
    redis = await startRedis();
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
      const before = await usedMemory();
      const started = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_REDIS_URL: redis.url, ...FRONT });
      app = started.app;
      const registrar = app.get(SipRegistrar);
      const r = await storm(started.server);
      onlyShed(r);
      // One hash per AOR that was answered 200, and nothing else.
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: 'sip:location:*', COUNT: 1000 })) keys.push(...(Array.isArray(batch) ? batch : [batch]));
      expect(keys.length).toBe(r.successful);
      expect(await client.dbSize()).toBe(r.successful);
      // Each key expires by itself: its TTL is at most the binding's 120 s plus the AOR's keep time (1 h).
      for (const k of keys.slice(0, 500)) {
        const ttl = await client.ttl(k);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(120 + 3600);
      }
      const perAor = ((await usedMemory()) - before) / r.successful;
      console.log(`storm: ${r.successful} AORs registered in Redis (${r.failed} shed with 503), ${Math.round(perAor)} bytes of Redis memory per AOR`);
      expect(perAor).toBeLessThan(2048);
      // The app keeps no table of AORs with Redis: its store is not the in-memory one.
      expect(registrar.store).not.toBeInstanceOf(MemoryLocationStore);
    } finally {
      await client.close();
      await app?.close();
      app = undefined;
    }
  }, 240_000);

  it('in memory: one entry per AOR; a store capped at 4,000 holds 4,000 and answers the rest 503 with Retry-After', async () => {
    const started = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', ...FRONT });
    app = started.app;
    const registrar = app.get(SipRegistrar);
    const r = await storm(started.server);
    onlyShed(r);
    expect(registrar.store).toBeInstanceOf(MemoryLocationStore);
    expect((registrar.store as MemoryLocationStore).size).toBe(r.successful);
    await app.close();
    app = undefined;

    // The cap, under the same storm (the registrar alone, no sockets: the bound is the store's).
    const capped = new SipRegistrar({ store: new MemoryLocationStore({ maxAors: 4000 }) });
    const statuses = new Map<number, number>();
    let retryAfter = 0;
    for (let i = 0; i < AORS; i++) {
      const a = await capped.register(registerRequest({ aor: `sip:storm${i}@storm.test`, callId: `storm-${i}`, contacts: [`<sip:storm${i}@192.0.2.1:5060>`], expires: 120 }));
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      if (a.status === 503 && Number(a.headers['Retry-After']) > 0) retryAfter++;
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 4000, 503: AORS - 4000 });
    expect(retryAfter).toBe(AORS - 4000);
    expect((capped.store as MemoryLocationStore).size).toBe(4000);
  }, 240_000);
});
