// The deployment kit with shared state (issue 15): two instances on SIP_REDIS_URL (a redis-server of
// the test's own) behind Kamailio. A phone registers through the balancer, which hashes the
// REGISTER onto one instance; calls to it through the balancer are hashed over both, and the
// instance that did not take the REGISTER finds the binding in Redis and proxies the call to the
// phone (a sipp UAS), ACK and BYE following the route set (Kamailio, the instance, the phone).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAs, startBalancer, startInstances, statusLine, type Balancer, type Instances } from '../helpers/deploy.js';
import { peerTool } from '../helpers/peers.js';
import { killAllRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { sippOk, startUas, type Uas } from '../client/support.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const ready = peerTool('kamailio').available && peerTool('sipp').available && peerTool('redis-server').available;

describe.skipIf(!ready)('deploy/: registrations shared in Redis behind Kamailio', () => {
  let redis: TestRedis;
  let app: Instances;
  let lb: Balancer;
  let phone: Uas;
  beforeAll(async () => {
    redis = await startRedis();
    app = await startInstances({ count: 2, env: { SIP_REDIS_URL: redis.url, SIP_CALLS: 'proxy', SIP_MIN_EXPIRES: '1' } });
    lb = await startBalancer(app.listFile);
  }, 60_000);
  afterAll(async () => {
    killAllSipp();
    await lb?.stop();
    await app?.stop();
    await redis?.stop();
    killAllRedis();
  });

  it('a phone registered through the balancer on one instance is called through both', async () => {
    phone = await startUas({ scenario: 'kamailio-uas-awaits-bye.xml', mode: 'u1', calls: 10, timeout: 30 });
    expect(statusLine(await registerAs(lb.port, 'bob', { contact: `<sip:bob@127.0.0.1:${phone.port}>`, expires: 300 }))).toBe('SIP/2.0 200 OK');
    await waitUntil(() => [0, 1].some((i) => app.transactions(i).some((t) => t.method === 'REGISTER')), 3000, 'the REGISTER line');
    const registrar = [0, 1].find((i) => app.transactions(i).some((t) => t.method === 'REGISTER' && t.status === 200))!;
    const other = 1 - registrar;
    const r = await runSipp({
      scenario: 'proxy-call.xml',
      target: `127.0.0.1:${lb.port}`,
      calls: 10,
      rate: 10,
      limit: 5,
      timeout: 30,
      keys: { server: `127.0.0.1:${lb.port}`, proto: 'udp' },
      args: ['-s', 'bob'],
    });
    expect(sippOk(r)).toMatchObject({ successful: 10, failed: 0, errors: '' });
    const phoneDone = await phone.done;
    expect(phoneDone.successful).toBe(10);
    await waitUntil(() => app.transactions(0).concat(app.transactions(1)).filter((t) => t.method === 'BYE').length === 10, 3000, 'the BYE lines').catch(() => undefined);
    const took = (i: number) => app.transactions(i).filter((t) => t.method === 'INVITE' && t.status === 200).length;
    console.log(`deploy: bob registered on instance ${registrar}; 10 calls to him through Kamailio: instance ${registrar} took ${took(registrar)}, instance ${other} took ${took(other)} (binding from Redis)`);
    expect(took(0) + took(1)).toBe(10);
    expect(took(other), 'the instance without the REGISTER found the binding in Redis').toBeGreaterThan(0);
    // Each call's BYE went through the instance that proxied its INVITE (it record-routed itself).
    for (const i of [0, 1]) {
      const t = app.transactions(i);
      const invites = t.filter((e) => e.method === 'INVITE' && e.status === 200).map((e) => e.callId).sort();
      expect(t.filter((e) => e.method === 'BYE').map((e) => e.callId).sort()).toEqual(invites);
    }
  }, 60_000);

  it('an unregister and an expiry through the balancer are seen by both instances (each asked directly)', async () => {
    /** The contacts instance `i` lists for carol (a REGISTER query sent to it, not through the balancer). */
    const contactsAt = async (i: number): Promise<string[]> => {
      const answer = await registerAs(app.list[i]!.sipPort, 'carol');
      expect(answer).toMatch(/^SIP\/2\.0 200 /);
      return [...answer.matchAll(/^Contact: <([^>]+)>/gim)].map((m) => m[1]!);
    };
    expect(await registerAs(lb.port, 'carol', { contact: '<sip:carol@127.0.0.1:9>', expires: 300, callId: 'carol-1', cseq: 1 })).toMatch(/^SIP\/2\.0 200 /);
    for (const i of [0, 1]) expect(await contactsAt(i)).toEqual(['sip:carol@127.0.0.1:9']);
    // Unregister (Contact: *), through the balancer: whichever instance takes it, both see it gone.
    expect(await registerAs(lb.port, 'carol', { contact: '*', expires: 0, callId: 'carol-1', cseq: 2 })).toMatch(/^SIP\/2\.0 200 /);
    for (const i of [0, 1]) expect(await contactsAt(i)).toEqual([]);
    // A binding for 2 s: listed by both, then gone for both (Redis expires it, no instance removes it).
    expect(await registerAs(lb.port, 'carol', { contact: '<sip:carol@127.0.0.1:10>', expires: 2, callId: 'carol-2', cseq: 1 })).toMatch(/^SIP\/2\.0 200 /);
    for (const i of [0, 1]) expect(await contactsAt(i)).toEqual(['sip:carol@127.0.0.1:10']);
    await sleep(2500);
    for (const i of [0, 1]) expect(await contactsAt(i)).toEqual([]);
  }, 30_000);
});
