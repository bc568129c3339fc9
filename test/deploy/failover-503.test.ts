// The deployment kit (issue 15 §3): an instance that refuses calls with 503 (here: the example's
// echo answers 503 + Retry-After when its media port cannot be bound, and the test holds every
// port of instance 1's range) is passed over by Kamailio: each call it refuses moves on to the next
// instance (failure_route, ds_next_dst) and the caller never sees the 503. A 503 does not mark the
// instance down (it is alive, and it answers the OPTIONS probes): once its ports are free it takes
// its share of calls again, at once.
import * as dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBalancer, startInstances, type Balancer, type Instances } from '../helpers/deploy.js';
import { peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp, type SippResult } from '../helpers/sipp.js';
import { sippOk } from '../client/support.js';

const ready = peerTool('kamailio').available && peerTool('sipp').available;
const INVITES = 'sip_requests_received_total{method="INVITE"}';
const BYES = 'sip_requests_received_total{method="BYE"}';
const INVITE_5XX = 'sip_responses_sent_total{method="INVITE",class="5xx"}';

describe.skipIf(!ready)('deploy/: an instance answering 503 behind Kamailio', () => {
  let app: Instances;
  let lb: Balancer;
  const held: dgram.Socket[] = [];
  const release = (): void => {
    for (const s of held.splice(0)) s.close();
  };
  beforeAll(async () => {
    app = await startInstances({ count: 2 });
    // Every RTP port of instance 1 taken: its echo answers each INVITE 503 (Retry-After).
    const [first, last] = app.list[1]!.media;
    for (let p = first + (first % 2); p <= last; p += 2) {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(p, '127.0.0.1', () => resolve());
      });
      held.push(s);
    }
    lb = await startBalancer(app.listFile);
  }, 60_000);
  afterAll(async () => {
    release();
    killAllSipp();
    await lb?.stop();
    await app?.stop();
  });

  const calls = (n: number, rate: number): Promise<SippResult> =>
    runSipp({ scenario: 'proxy-call.xml', target: `127.0.0.1:${lb.port}`, calls: n, rate, limit: 20, timeout: 25, keys: { server: `127.0.0.1:${lb.port}`, proto: 'udp' }, args: ['-s', 'echo'] });
  const refusingUri = (): string => `sip:127.0.0.1:${app.list[1]!.sipPort}`;

  it('every call the refusing instance answers 503 moves on to the other one: 20 calls, none failed', async () => {
    // Every call the hash gives instance 1 is refused there and moved on.
    const r = await calls(20, 10);
    expect(sippOk(r)).toMatchObject({ successful: 20, failed: 0, errors: '' });
    const refused = await app.metric(1, INVITES);
    console.log(`deploy: 20 calls, ${refused} refused with 503 by instance 1 and moved on to instance 0, 0 failed`);
    expect(refused, 'the hash gave instance 1 some calls').toBeGreaterThan(0);
    expect(await app.metric(1, INVITE_5XX)).toBe(refused);
    expect(await app.metric(1, BYES)).toBe(0);
    // Instance 0 took every call, and their BYEs.
    expect(await app.metric(0, INVITES)).toBe(20);
    expect(await app.metric(0, BYES)).toBe(20);
    const failed = [...lb.log().matchAll(/instance (\S+) refused INVITE \(503\) ci=(\S+)/g)];
    const moved = [...lb.log().matchAll(/failover INVITE to (\S+) ci=(\S+)/g)];
    expect(failed.length).toBe(refused);
    expect(failed.every((m) => m[1] === refusingUri())).toBe(true);
    expect(moved.map((m) => m[2]).sort()).toEqual(failed.map((m) => m[2]).sort());
    expect(moved.every((m) => m[1] === `sip:127.0.0.1:${app.list[0]!.sipPort}`)).toBe(true);
  }, 40_000);

  it('a 503 does not take the refusing instance out (its probes decide): it takes calls as soon as it can', async () => {
    expect(lb.states()[refusingUri()]).toMatch(/^A/);
    expect(lb.log()).not.toMatch(/marked down/);
    release();
    const before = [await app.metric(0, INVITES), await app.metric(1, INVITES)];
    const failovers = [...lb.log().matchAll(/failover INVITE/g)].length;
    const r = await calls(20, 20);
    expect(sippOk(r)).toMatchObject({ successful: 20, failed: 0, errors: '' });
    const took = [(await app.metric(0, INVITES)) - before[0]!, (await app.metric(1, INVITES)) - before[1]!];
    expect(took[0]! + took[1]!).toBe(20);
    expect(took[1], 'instance 1 takes calls again').toBeGreaterThan(0);
    expect(await app.metric(1, BYES)).toBe(took[1]);
    expect([...lb.log().matchAll(/failover INVITE/g)].length).toBe(failovers);
  }, 30_000);
});
