import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipClient, SipRegistrar, type SipResponse, type SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { freePort, killAllRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { sleep } from '../helpers/wait.js';

const redisServer = peerTool('redis-server');
const sipp = peerTool('sipp');
const sipsak = peerTool('sipsak');

/** sipsak, run without blocking the event loop (the servers under test live in this process). */
function sipsakRun(args: string[]): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(sipsak.command, args, { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }));
  });
}

interface Instance {
  app: INestApplicationContext;
  server: SipServer;
  registrar: SipRegistrar;
  udp: number;
  tcp: number;
}

/**
 * Scale-out: two instances of the example (two Nest SipServers on their own ports, in this process)
 * sharing one redis-server through SIP_REDIS_URL. What one instance registers, the other finds.
 */
describe.skipIf(!redisServer.available && !inCI())('two registrar instances sharing Redis (SIP_REDIS_URL)', () => {
  it('has redis-server installed (required in CI)', () => {
    if (inCI()) expect(redisServer.available, 'redis-server (Debian redis-server) is required in CI').toBe(true);
  });

  let redis: TestRedis;
  let a: Instance;
  let b: Instance;
  let client: SipClient;

  const start = async (): Promise<Instance> => {
    const { app, server } = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: '0', SIP_MIN_EXPIRES: '1', SIP_CALLS: 'redirect', SIP_REDIS_URL: redis.url });
    const port = (proto: 'udp' | 'tcp') => server.addresses.find((x) => x.proto === proto)!.port;
    return { app, server, registrar: app.get(SipRegistrar), udp: port('udp'), tcp: port('tcp') };
  };

  beforeAll(async () => {
    redis = await startRedis();
    a = await start();
    b = await start();
    client = new SipClient({ localHost: '127.0.0.1', non2xxAsValue: true });
    // Ready: each instance has reached Redis and its event loop has settled after the start (the
    // server's overload gate answers 503 while the start-up lag lasts): a REGISTER query gets 200.
    for (const at of [a, b]) for (let i = 0; i < 50 && (await register(at, 'nobody')).status !== 200; i++) await sleep(100);
  });
  afterAll(async () => {
    killAllSipp();
    await client?.close();
    await a?.app.close();
    await b?.app.close();
    await redis?.stop();
    killAllRedis();
  });

  const register = (at: Instance, user: string, o: { contact?: string; expires?: number; callId?: string; cseq?: number } = {}) =>
    lastValueFrom(
      client.send<SipResponse>('REGISTER', {
        uri: `sip:127.0.0.1:${at.udp}`,
        headers: {
          From: `<sip:${user}@example.test>`,
          To: `<sip:${user}@example.test>`,
          ...(o.contact === undefined ? {} : { Contact: o.contact }),
          ...(o.expires === undefined ? {} : { Expires: String(o.expires) }),
          ...(o.callId === undefined ? {} : { 'Call-ID': o.callId }),
          ...(o.cseq === undefined ? {} : { CSeq: `${o.cseq} REGISTER` }),
        },
      }),
    );
  const invite = (at: Instance, user: string) =>
    lastValueFrom(client.send<SipResponse>('INVITE', { uri: `sip:${user}@example.test`, host: '127.0.0.1', port: at.udp, headers: { Contact: '<sip:caller@127.0.0.1:9>' } }));
  const contactsAt = async (at: Instance, aor: string): Promise<string[] | number> => {
    const l = await at.registrar.lookup(aor);
    return l.status === 200 ? l.bindings.map((x) => x.uri).sort() : l.status;
  };

  it.skipIf(!sipp.available)('sipp registers through instance A (UDP); instance B finds the binding, with its source, and redirects a call to it', async () => {
    const r = await runSipp({ scenario: 'register.xml', target: `127.0.0.1:${a.udp}`, transport: 'u1', calls: 1, timeout: 15, args: ['-s', 'alice'] });
    expect(r.errors, r.stdout.slice(-2000)).toBe('');
    expect(r.successful).toBe(1);
    const l = await b.registrar.lookup('sip:alice@127.0.0.1');
    expect(l.status).toBe(200);
    if (l.status !== 200) return;
    expect(l.bindings).toHaveLength(1);
    expect(l.bindings[0]!.uri).toMatch(/^sip:alice@127\.0\.0\.1:\d+;transport=UDP$/i);
    // Where the REGISTER came from, as instance A saw it (the connection object stays in A).
    expect(l.bindings[0]!.source).toMatchObject({ proto: 'udp', addr: '127.0.0.1', node: expect.any(String) });
    expect(l.bindings[0]!.uri).toContain(`:${l.bindings[0]!.source!.port};`);
    const moved = await lastValueFrom(client.send<SipResponse>('INVITE', { uri: 'sip:alice@127.0.0.1', host: '127.0.0.1', port: b.udp, headers: { Contact: '<sip:caller@127.0.0.1:9>' } }));
    expect(moved.status).toBe(302);
    expect(moved.headers.get('contact')).toContain(l.bindings[0]!.uri);
  });

  it.skipIf(!sipsak.available)('sipsak registers through instance A over TCP; B sees the binding and its TCP source', async () => {
    const r = await sipsakRun(['-vvv', '-U', '-C', 'sip:carol@127.0.0.1:9', '-s', `sip:carol@127.0.0.1:${a.tcp}`, '-E', 'tcp', '-x', '300']);
    expect(r.stdout).toContain('SIP/2.0 200 OK');
    const l = await b.registrar.lookup('sip:carol@127.0.0.1');
    expect(l.status).toBe(200);
    if (l.status !== 200) return;
    expect(l.bindings.map((x) => x.uri)).toEqual(['sip:carol@127.0.0.1:9']);
    expect(l.bindings[0]!.source).toMatchObject({ proto: 'tcp', addr: '127.0.0.1' });
    // The TCP connection object is only in A's process; B knows which instance holds it.
    expect(l.bindings[0]!.source!.connection).toBeUndefined();
    expect(l.bindings[0]!.source!.node).toBe(a.registrar.node);
  });

  it('a REGISTER over TCP: the receiving instance looks the binding up with its connection, the other with the instance that holds it', async () => {
    const r = await lastValueFrom(
      client.send<SipResponse>('REGISTER', {
        uri: 'sip:example.test',
        host: '127.0.0.1',
        port: a.tcp,
        transport: 'tcp',
        headers: { From: '<sip:tess@example.test>', To: '<sip:tess@example.test>', Contact: '<sip:tess@127.0.0.1:9;transport=tcp>', Expires: '300' },
      }),
    );
    expect(r.status).toBe(200);
    const atA = await a.registrar.lookup('sip:tess@example.test');
    const atB = await b.registrar.lookup('sip:tess@example.test');
    if (atA.status !== 200 || atB.status !== 200) throw new Error(`lookups ${atA.status} ${atB.status}`);
    const conn = atA.bindings[0]!.source!.connection as { remotePort?: number; destroyed?: boolean } | undefined;
    expect(conn?.destroyed).toBe(false);
    expect(conn?.remotePort).toBe(atA.bindings[0]!.source!.port);
    expect(atB.bindings[0]!.source).toMatchObject({ proto: 'tcp', addr: '127.0.0.1', port: atA.bindings[0]!.source!.port, node: a.registrar.node });
    expect(atB.bindings[0]!.source!.connection).toBeUndefined();
  });

  it.skipIf(!sipp.available)('sipp refreshing the same AOR through A and through B at once: neither binding is lost', async () => {
    const both = await Promise.all(
      [a, b].map((at) => runSipp({ scenario: 'register.xml', target: `127.0.0.1:${at.udp}`, transport: 'u1', calls: 150, rate: 200, limit: 20, timeout: 30, args: ['-s', 'dora'] })),
    );
    for (const r of both) {
      // On a busy machine the servers' overload gate may shed some with a stateless 503; nothing else may fail.
      const unexpected = r.errors.split('\n').filter((l) => l.includes('Aborting call') && !l.includes("received 'SIP/2.0 503 Service Unavailable"));
      expect(unexpected, r.errors.slice(0, 2000)).toEqual([]);
      expect(r.successful + r.failed).toBe(150);
      expect(r.successful).toBeGreaterThanOrEqual(75);
    }
    // Each sipp is one phone (one contact, a new Call-ID per REGISTER): two bindings, whoever wrote last.
    for (const at of [a, b]) expect(await contactsAt(at, 'sip:dora@127.0.0.1')).toHaveLength(2);
  }, 60_000);

  it('ten phones registering concurrently, half through each instance, each refreshing three times: all ten bindings, seen alike by both', async () => {
    const phones = Array.from({ length: 10 }, (_, i) => i);
    const replies = await Promise.all(
      phones.flatMap((i) => [1, 2, 3].map((cseq) => register(cseq % 2 === i % 2 ? a : b, 'erin', { contact: `<sip:erin-${i}@127.0.0.1:9>`, expires: 300, callId: `erin-phone-${i}`, cseq }))),
    );
    // A REGISTER that lands after a higher CSeq of the same phone is refused (500); each phone has at least one 200.
    expect(replies.every((r) => r.status === 200 || r.status === 500)).toBe(true);
    const want = phones.map((i) => `sip:erin-${i}@127.0.0.1:9`).sort();
    expect(await contactsAt(a, 'sip:erin@example.test')).toEqual(want);
    expect(await contactsAt(b, 'sip:erin@example.test')).toEqual(want);
  });

  it('the Call-ID/CSeq ordering holds across instances, and an unregister through one is seen by the other', async () => {
    expect((await register(a, 'fred', { contact: '<sip:fred@127.0.0.1:9>', expires: 300, callId: 'fred-1', cseq: 5 })).status).toBe(200);
    const late = await register(b, 'fred', { contact: '<sip:fred@127.0.0.1:9>', expires: 0, callId: 'fred-1', cseq: 4 });
    expect(late.status).toBe(500);
    expect((await invite(a, 'fred')).status).toBe(302);
    expect((await register(b, 'fred', { contact: '*', expires: 0, callId: 'fred-1', cseq: 6 })).status).toBe(200);
    expect((await invite(a, 'fred')).status).toBe(480);
    expect((await invite(b, 'fred')).status).toBe(480);
  });

  it('a binding registered for 3 s through A expires for both', async () => {
    const r = await register(a, 'gina', { contact: '<sip:gina@127.0.0.1:9>', expires: 3 });
    expect(r.status).toBe(200);
    expect(await contactsAt(b, 'sip:gina@example.test')).toEqual(['sip:gina@127.0.0.1:9']);
    await sleep(3100);
    expect((await invite(b, 'gina')).status).toBe(480);
    expect((await invite(a, 'gina')).status).toBe(480);
  });

  it('Redis killed: REGISTERs and calls get 503 with Retry-After, nothing crashes; Redis back: both instances work again without a restart', async () => {
    expect((await register(a, 'hank', { contact: '<sip:hank@127.0.0.1:9>', expires: 300 })).status).toBe(200);
    const health = (at: Instance) => at.server.health({ checks: { 'location store': () => at.registrar.ping() } });
    expect((await health(a)).ok).toBe(true);
    await redis.kill();
    const sick = await health(a);
    expect(sick.ok).toBe(false);
    expect(sick.checks['location store']).toMatch(/Redis location store: ping failed/);
    for (const at of [a, b]) {
      const r = await register(at, 'hank', { contact: '<sip:hank@127.0.0.1:9>', expires: 300 });
      expect(r.status).toBe(503);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      const call = await invite(at, 'hank');
      expect(call.status).toBe(503);
      expect(call.headers.get('retry-after')).toBeDefined();
    }
    await redis.restart();
    // The clients reconnect by themselves (backing off up to 2 s): poll until A takes REGISTERs again.
    for (let i = 0; i < 100 && (await register(a, 'hank', { contact: '<sip:hank@127.0.0.1:9>', expires: 300 })).status !== 200; i++) await sleep(100);
    expect(await contactsAt(a, 'sip:hank@example.test')).toEqual(['sip:hank@127.0.0.1:9']);
    for (let i = 0; i < 100 && (await invite(b, 'hank')).status !== 302; i++) await sleep(100);
    expect((await invite(b, 'hank')).status).toBe(302);
    expect((await health(b)).ok).toBe(true);
  }, 30_000);

  it('an instance started while Redis is down starts, answers 503 with Retry-After, and takes REGISTERs once Redis is up', async () => {
    const port = await freePort();
    const { app, server } = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_CALLS: 'redirect', SIP_REDIS_URL: `redis://127.0.0.1:${port}` });
    let late: TestRedis | undefined;
    try {
      const c: Instance = { app, server, registrar: app.get(SipRegistrar), udp: server.addresses[0]!.port, tcp: 0 };
      let r = await register(c, 'ivan', { contact: '<sip:ivan@127.0.0.1:9>', expires: 300 });
      // Right after the start the overload gate may answer 503 too (start-up lag): wait for the registrar's own.
      for (let i = 0; i < 50 && r.reason !== 'Location Service Unavailable'; i++, await sleep(100)) r = await register(c, 'ivan', { contact: '<sip:ivan@127.0.0.1:9>', expires: 300 });
      expect(r.status).toBe(503);
      expect(r.reason).toBe('Location Service Unavailable');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      late = await startRedis(port);
      for (let i = 0; i < 100 && r.status !== 200; i++, await sleep(100)) r = await register(c, 'ivan', { contact: '<sip:ivan@127.0.0.1:9>', expires: 300 });
      expect(r.status).toBe(200);
      expect(await contactsAt(c, 'sip:ivan@example.test')).toEqual(['sip:ivan@127.0.0.1:9']);
    } finally {
      await app.close();
      await late?.stop();
    }
  }, 30_000);
});
