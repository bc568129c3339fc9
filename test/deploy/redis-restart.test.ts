// Issue 15, "Redis restarted under load": two example instances on SIP_REDIS_URL (a redis-server of
// the test's own) behind the deploy kit's Kamailio, sipp registering phones through the balancer the
// whole time (a new Call-ID per REGISTER, so the hash spreads them over both instances). Redis is
// killed by its pid: the instances answer 503 with Retry-After (the balancer tries the other one,
// then answers 503 with Retry-After itself), report it on /health, and do not crash. Redis started
// again on the same port: both instances answer 200 again, the same processes (no restart). Codes
// are read where they are decided: each instance's transaction log, and what sipp received.
// Then "Redis down at start": instances started while no Redis listens on their SIP_REDIS_URL start
// anyway, say so in their log and on /health, answer REGISTERs 503 with Retry-After, and take them
// as soon as a redis-server comes up on that port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAs, startBalancer, startInstances, type Balancer, type Instances } from '../helpers/deploy.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { freePort, killAllRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { killAllSipp, startSipp } from '../helpers/sipp.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const tools = ['kamailio', 'sipp', 'redis-server'] as const;
const ready = tools.every((t) => peerTool(t).available);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!ready && !inCI())('deploy/: Redis restarted under load behind Kamailio', () => {
  it('has kamailio, sipp and redis-server installed (required in CI)', () => {
    for (const t of tools) expect(peerTool(t).available, `${t} is required in CI`).toBe(true);
  });

  let redis: TestRedis;
  let app: Instances;
  let lb: Balancer;
  beforeAll(async () => {
    redis = await startRedis();
    app = await startInstances({ count: 2, env: { SIP_REDIS_URL: redis.url } });
    lb = await startBalancer(app.listFile);
  }, 60_000);
  afterAll(async () => {
    killAllSipp();
    await lb?.stop();
    await app?.stop();
    await redis?.stop();
    killAllRedis();
  });

  /** The REGISTERs instance `i` answered (its transaction log), from the `from`-th on. */
  const registers = (i: number, from = 0) => app.transactions(i).filter((t) => t.method === 'REGISTER').slice(from);
  const counts = () => [0, 1].map((i) => registers(i).length);
  const health = async (i: number) => {
    const r = await fetch(`http://127.0.0.1:${app.list[i]!.httpPort}/health`);
    return { status: r.status, body: await r.text() };
  };

  it('sipp registering through the balancer: 503 with Retry-After while Redis is away, no crash; Redis back on its port: 200s from both instances, not restarted', async () => {
    const pids = app.list.map((i) => i.pid);
    // 40 REGISTERs a second for as long as the test needs (it is stopped at the end).
    const load = startSipp({
      scenario: 'register.xml',
      target: `127.0.0.1:${lb.port}`,
      calls: 100_000,
      rate: 40,
      limit: 100,
      timeout: 300,
      // No BYE for a REGISTER refused (sipp's default for an aborted call: the balancer would answer it 404).
      args: ['-s', 'loadphone', '-default_behaviors', 'all,-bye'],
    });
    try {
      // Redis up: both instances take REGISTERs.
      await waitUntil(() => [0, 1].every((i) => registers(i).filter((t) => t.status === 200).length >= 3), 30_000, 'both instances to answer REGISTERs 200');
      expect((await health(0)).status).toBe(200);

      await redis.kill(); // SIGKILL by its pid: a crash, as the clients see it
      const down = counts();
      await waitUntil(() => [0, 1].every((i) => registers(i, down[i]).some((t) => t.status === 503)), 30_000, 'both instances to answer 503 while Redis is away');
      // Reported: /health names the location store (the balancer's probes are OPTIONS, which need no store).
      for (const i of [0, 1]) {
        const h = await health(i);
        expect(h.status).toBe(503);
        expect(h.body).toMatch(/location store/);
      }
      // While it is away an instance answers REGISTER only 503 (a 200 may still be in flight from before the kill).
      const during = counts();
      await waitUntil(() => [0, 1].every((i) => registers(i, during[i]).length >= 10), 30_000, 'more REGISTERs while Redis is away');
      for (const i of [0, 1]) expect(new Set(registers(i, during[i]).map((t) => t.status))).toEqual(new Set([503]));
      expect(pids.every(alive)).toBe(true);

      await redis.restart(); // the same port, empty (nothing was saved)
      const back = counts();
      await waitUntil(() => [0, 1].every((i) => registers(i, back[i]).some((t) => t.status === 200)), 60_000, 'both instances to answer REGISTERs 200 again');
      for (const i of [0, 1]) {
        for (let k = 0; k < 300 && (await health(i)).status !== 200; k++) await sleep(100);
        expect((await health(i)).status).toBe(200);
      }
      // The same processes all along: the runner restarted nothing, no instance exited.
      expect(pids.every(alive)).toBe(true);
      expect(app.log()).not.toMatch(/^run-instances: instance \d+ pid \d+ exited/m);
      const after = counts();
      await waitUntil(() => [0, 1].every((i) => registers(i, after[i]).length >= 10), 30_000, 'more REGISTERs after Redis is back');
      for (const i of [0, 1]) expect(new Set(registers(i, after[i]).map((t) => t.status))).toEqual(new Set([200]));
    } finally {
      load.child.kill('SIGINT');
    }
    // What the callers got: 200, or 503 with Retry-After (the balancer's own, once both instances had
    // refused a REGISTER) and nothing else (no 500, no timeout).
    const r = await load.done;
    const tally = (i: number): string => {
      const n = new Map<number | undefined, number>();
      for (const t of registers(i)) n.set(t.status, (n.get(t.status) ?? 0) + 1);
      return [...n].map(([k, v]) => `${v}x ${k}`).join(', ');
    };
    console.log(`deploy: Redis restarted under load: instance 0 answered ${tally(0)}; instance 1 ${tally(1)}; sipp ${r.successful} registered, ${r.failed} refused`);
    const events = r.errors.split(/(?=\d{4}-\d\d-\d\d\t)/).filter((e) => e.includes("received 'SIP/2.0"));
    const refused = events.filter((e) => e.includes('Aborting call'));
    expect(refused.length, r.errors.slice(0, 3000)).toBeGreaterThan(0);
    for (const e of events) {
      expect(e, e).toMatch(/received 'SIP\/2\.0 (503|200) /);
      if (/received 'SIP\/2\.0 503 /.test(e)) expect(e, e).toMatch(/\nRetry-After: \d+/i);
    }
    expect(r.errors).not.toMatch(/timed out/i);
  }, 240_000);
});

describe.skipIf(!ready && !inCI())('deploy/: Redis down when the instances start', () => {
  let redis: TestRedis | undefined;
  let app: Instances;
  let lb: Balancer;
  let port: number;
  beforeAll(async () => {
    port = await freePort(); // nothing listens there yet
    app = await startInstances({ count: 2, env: { SIP_REDIS_URL: `redis://127.0.0.1:${port}` } });
    lb = await startBalancer(app.listFile);
  }, 60_000);
  afterAll(async () => {
    await lb?.stop();
    await app?.stop();
    await redis?.stop();
    killAllRedis();
  });

  it('they start and say so (log, /health), answer REGISTERs 503 with Retry-After, and take them once Redis is up', async () => {
    // Started: the runner saw both answer OPTIONS (startInstances waited for that); each reported Redis.
    await waitUntil(() => (app.log().match(/REGISTERs are answered 503 until it is back/g) ?? []).length >= 2, 20_000, 'both instances to report Redis unreachable');
    for (const i of [0, 1]) {
      const r = await fetch(`http://127.0.0.1:${app.list[i]!.httpPort}/health`);
      expect(r.status).toBe(503);
      expect(await r.text()).toMatch(/location store/);
    }
    // A REGISTER through the balancer: 503 with Retry-After (the instance's, then the balancer's own after both refused).
    const answer = await registerThrough(lb.port, 'early');
    expect(answer).toMatch(/^SIP\/2\.0 503 /);
    expect(answer).toMatch(/\r\nRetry-After: \d+\r\n/i);
    const pids = app.list.map((i) => i.pid);

    redis = await startRedis(port);
    let last = '';
    for (let k = 0; k < 100 && !last.startsWith('SIP/2.0 200 '); k++) {
      last = await registerThrough(lb.port, 'early');
      if (!last.startsWith('SIP/2.0 200 ')) await sleep(200);
    }
    expect(last.slice(0, last.indexOf('\r\n'))).toMatch(/^SIP\/2\.0 200 /);
    // Both instances take them, without a restart.
    const took200 = () => [0, 1].map((i) => app.transactions(i).some((t) => t.method === 'REGISTER' && t.status === 200));
    // Each instance's Redis client reconnects on its own back-off (longer on a loaded machine): keep
    // registering for a while rather than a fixed count of quick 503s.
    for (let k = 0, until = Date.now() + 30_000; Date.now() < until && !took200().every(Boolean); k++) {
      await registerThrough(lb.port, `early${k}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(took200()).toEqual([true, true]);
    expect(pids.every(alive)).toBe(true);
    expect(app.log()).not.toMatch(/^run-instances: instance \d+ pid \d+ exited/m);
  }, 90_000);
});

/** A REGISTER for `user`@127.0.0.1 through the balancer, its Contact the sending socket; the whole final answer. */
const registerThrough = (lbPort: number, user: string): Promise<string> =>
  registerAs(lbPort, user, { contact: (local) => `<sip:${user}@127.0.0.1:${local}>`, expires: 300 });
