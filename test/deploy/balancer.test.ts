// The deployment kit (issue 15 §3) on one machine: two example instances started by
// deploy/run-instances.mjs behind Kamailio running deploy/kamailio/kamailio.cfg. Calls (sipp, the
// echo test through the balancer) are spread over both by the hash of their Call-ID, and each
// call's ACK and BYE reach the instance that took its INVITE (record-route / loose-route), for TCP
// callers too (Kamailio reaches the instances over UDP, record-routing twice). Then
// one instance is killed (SIGKILL) under call load: only the calls in progress on it may fail (the
// test counts them and states the bound); the calls the hash gives it afterwards wait FR_TIMER
// (2 s here) and move on (failure_route, ds_mark_dst, ds_next_dst), the OPTIONS probes keep it
// inactive, and calls after that go straight to the live one. With both dead the balancer answers
// 503 itself, and its readiness OPTIONS says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askOnce, startBalancer, startInstances, type Balancer, type Instances } from '../helpers/deploy.js';
import { peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp, startSipp, type SippOptions, type SippResult } from '../helpers/sipp.js';
import { sippOk } from '../client/support.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const ready = peerTool('kamailio').available && peerTool('sipp').available;
const INVITES = 'sip_requests_received_total{method="INVITE"}';
const BYES = 'sip_requests_received_total{method="BYE"}';
const INVITE_5XX = 'sip_responses_sent_total{method="INVITE",class="5xx"}';

describe.skipIf(!ready)('deploy/: two instances behind Kamailio', () => {
  let app: Instances;
  let lb: Balancer;
  beforeAll(async () => {
    app = await startInstances({ count: 2 });
    lb = await startBalancer(app.listFile);
  }, 60_000);
  afterAll(async () => {
    killAllSipp();
    await lb?.stop();
    await app?.stop();
  });

  /** `n` echo calls through the balancer (sipp: INVITE, ACK and BYE along the route set). */
  const sippCalls = (n: number, rate: number): SippOptions => ({
    scenario: 'proxy-call.xml',
    target: `127.0.0.1:${lb.port}`,
    calls: n,
    rate,
    limit: 20,
    timeout: 30,
    keys: { server: `127.0.0.1:${lb.port}`, proto: 'udp' },
    args: ['-s', 'echo'],
  });
  const calls = (n: number, rate: number): Promise<SippResult> => runSipp(sippCalls(n, rate));
  /** The Call-IDs of the INVITEs instance `i` answered 200, and of the BYEs it took. */
  const seen = (i: number): { invites: Set<string>; byes: Set<string> } => {
    const t = app.transactions(i);
    return { invites: new Set(t.filter((e) => e.method === 'INVITE' && e.status === 200).map((e) => e.callId)), byes: new Set(t.filter((e) => e.method === 'BYE').map((e) => e.callId)) };
  };
  const dispatchedIds = (): string[] => [...lb.log().matchAll(/dispatch INVITE to \S+ ci=(\S+)/g)].map((m) => m[1]!);

  it('the balancer answers OPTIONS to itself 200 (ready) and lists both instances active', async () => {
    expect(await askOnce(lb.port, 'OPTIONS', `sip:127.0.0.1:${lb.port}`)).toMatch(/^SIP\/2\.0 200 Ready\r\n/);
    const states = lb.states();
    expect(Object.keys(states).sort()).toEqual(app.list.map((i) => `sip:127.0.0.1:${i.sipPort}`).sort());
    // A: active (P once probed, X before the first probe).
    for (const f of Object.values(states)) expect(f).toMatch(/^A[PX]$/);
  });

  it('20 calls are spread over both instances by Call-ID, and each BYE reaches the instance that took its INVITE', async () => {
    const r = await calls(20, 20);
    expect(sippOk(r)).toMatchObject({ successful: 20, failed: 0, errors: '' });
    // Their log lines pass through the runner: wait for all of them.
    await waitUntil(() => seen(0).byes.size + seen(1).byes.size === 20, 3000, 'the BYE lines of both instances').catch(() => undefined);
    const [a, b] = [seen(0), seen(1)];
    console.log(`deploy: 20 calls through Kamailio, instance 0 took ${a.invites.size}, instance 1 took ${b.invites.size}`);
    expect(a.invites.size + b.invites.size).toBe(20);
    expect(a.invites.size, 'instance 0 took calls').toBeGreaterThan(0);
    expect(b.invites.size, 'instance 1 took calls').toBeGreaterThan(0);
    // Affinity, call by call: the BYEs an instance got are exactly the calls it answered.
    expect([...a.byes].sort()).toEqual([...a.invites].sort());
    expect([...b.byes].sort()).toEqual([...b.invites].sort());
    // The same from each instance's own /metrics.
    for (const i of [0, 1]) {
      const invites = await app.metric(i, INVITES);
      expect(await app.metric(i, BYES)).toBe(invites);
      expect(invites).toBe(seen(i).invites.size);
    }
    // And Kamailio dispatched each call once (no failover while both are up).
    expect(lb.log()).not.toMatch(/failover/);
  }, 40_000);

  it('callers over TCP too: Kamailio takes the call on TCP, reaches the instances over UDP, and each BYE finds the instance that took its call', async () => {
    const before = [seen(0), seen(1)];
    const r = await runSipp({ ...sippCalls(10, 10), transport: 't1', keys: { server: `127.0.0.1:${lb.port}`, proto: 'tcp' } });
    expect(sippOk(r)).toMatchObject({ successful: 10, failed: 0, errors: '' });
    await waitUntil(() => seen(0).byes.size + seen(1).byes.size === before[0]!.byes.size + before[1]!.byes.size + 10, 3000, 'the BYE lines').catch(() => undefined);
    for (const i of [0, 1]) {
      const now = seen(i);
      expect([...now.byes].sort()).toEqual([...now.invites].sort());
      // From Kamailio, over UDP.
      expect(app.transactions(i).every((t) => t.from.startsWith('udp:127.0.0.1:'))).toBe(true);
    }
    expect(seen(0).invites.size + seen(1).invites.size).toBe(before[0]!.invites.size + before[1]!.invites.size + 10);
  }, 30_000);

  it('one instance killed (SIGKILL) under call load: only calls in progress on it may fail, later calls fail over, then the probes keep it out', async () => {
    const [victim, survivor] = [app.list[0]!, app.list[1]!];
    const victimUri = `sip:127.0.0.1:${victim.sipPort}`;
    const before = dispatchedIds().length;
    // 60 calls, 20 a second; the kill comes once the victim has taken 5 of them.
    const load = startSipp(sippCalls(60, 20));
    const invites0 = await app.metric(0, INVITES);
    for (const end = Date.now() + 10_000; (await app.metric(0, INVITES)) < invites0 + 5; ) {
      if (Date.now() > end) throw new Error('the victim took no calls');
      await sleep(20);
    }
    const byesDone = await app.metric(0, BYES);
    process.kill(victim.pid, 'SIGKILL');
    await sleep(50);
    // Calls the victim had (dispatched to it, including the last 50 ms) minus those whose BYE it
    // had answered: the calls in progress there. Only these may fail.
    const toVictim = [...lb.log().matchAll(/dispatch INVITE to (\S+) ci=/g)].filter((m) => m[1] === victimUri).length;
    const bound = toVictim - byesDone;
    const r = await load.done;
    const failovers = [...lb.log().matchAll(/failover INVITE to (\S+) ci=(\S+)/g)];
    // On a starved machine the survivor's overload control may shed a call (503 when its event
    // loop lags): that call fails too (it has no third instance to go to), and is counted apart.
    const shed = await app.metric(1, INVITE_5XX);
    console.log(`deploy: 60 calls under load, one of 2 instances killed: ${r.failed} failed (bound: ${bound} in progress on it + ${shed} shed by the survivor), ${failovers.length} moved on by failure_route`);
    expect(r.successful + r.failed, r.stdout.slice(-1500)).toBe(60);
    expect(r.failed, `${r.errors.slice(-3000)}\n${lb.log().split('\n').filter((l) => /answer|refused|failover|down|up:/.test(l)).join('\n').slice(-3000)}`).toBeLessThanOrEqual(bound + shed);
    expect(bound, 'a handful of calls at most are in progress at 20 calls/s').toBeLessThanOrEqual(5);
    // Calls the hash gave the dead instance before it was marked down waited FR_TIMER (2 s), then went on.
    expect(failovers.length, 'calls moved on by failure_route').toBeGreaterThan(0);
    for (const f of failovers) expect(f[1]).toBe(`sip:127.0.0.1:${survivor.sipPort}`);
    expect(lb.log()).toMatch(new RegExp(`instance sip:127\\.0\\.0\\.1:${victim.sipPort} did not answer INVITE ci=\\S+: marked down`));
    // Marked down by the failed call and kept down by the probes: inactive (and still probed).
    await waitUntil(() => lb.states()[victimUri] === 'IP', 5000, 'the dead instance to be inactive');
    expect(lb.states()[`sip:127.0.0.1:${survivor.sipPort}`]).toMatch(/^A/);
    // Now every call goes straight to the live instance: none fails, none needs a failover.
    const r2 = await calls(20, 20);
    expect(sippOk(r2)).toMatchObject({ successful: 20, failed: 0, errors: '' });
    expect([...lb.log().matchAll(/failover INVITE/g)].length).toBe(failovers.length);
    expect(dispatchedIds().length - before).toBe(80);
    // The survivor answered every BYE of the calls it took.
    await waitUntil(() => seen(1).byes.size === seen(1).invites.size, 3000, 'the last BYE lines').catch(() => undefined);
    const s = seen(1);
    expect(s.invites.size).toBeGreaterThanOrEqual(20 + 20);
    expect([...s.byes].sort()).toEqual([...s.invites].sort());
    // Readiness: still one instance, still ready.
    expect(await askOnce(lb.port, 'OPTIONS', `sip:127.0.0.1:${lb.port}`)).toMatch(/^SIP\/2\.0 200 /);
  }, 60_000);

  it('both instances dead: the balancer answers 503 with Retry-After itself, and its readiness OPTIONS is 503', async () => {
    const last = app.list[1]!;
    process.kill(last.pid, 'SIGKILL');
    await waitUntil(() => Object.values(lb.states()).every((f) => f === 'IP'), 6000, 'both instances inactive');
    const invite = await askOnce(lb.port, 'INVITE', `sip:echo@127.0.0.1:${lb.port}`);
    expect(invite).toMatch(/^SIP\/2\.0 503 No Instance Available\r\n/);
    expect(invite).toMatch(/\r\nRetry-After: 5\r\n/);
    const options = await askOnce(lb.port, 'OPTIONS', `sip:127.0.0.1:${lb.port}`);
    expect(options).toMatch(/^SIP\/2\.0 503 /);
    // The runner reports it (it does not restart instances unless --restart).
    await waitUntil(() => app.log().includes('every instance has exited'), 5000, 'the runner to give up').catch(() => undefined);
    expect(app.log()).toContain('run-instances: every instance has exited');
  }, 20_000);
});
