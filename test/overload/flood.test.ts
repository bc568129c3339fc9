// Overload control over real UDP sockets: a raw sender floods from 127.0.0.1 while a probe on
// 127.0.0.2 keeps asking; the codes each one sees are asserted, never timings.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sipRequest, startApp, UdpClient, uniq, waitUntil, type RunningApp } from '../server/support.js';

@Controller()
class Handlers {
  @MessagePattern('OPTIONS')
  options() {
    return 200;
  }

  @MessagePattern('MESSAGE')
  slow() {
    // 2 ms of work each, in the event loop: a burst takes longer to serve than to arrive, on any machine.
    const until = performance.now() + 2;
    while (performance.now() < until);
    return 200;
  }

  @MessagePattern('INVITE')
  invite() {
    return new Promise(() => undefined); // never answers: the transaction stays live
  }
}

@Module({ controllers: [Handlers] })
class FloodModule {}

describe('overload control', () => {
  const apps: RunningApp[] = [];
  const clients: UdpClient[] = [];
  const open = async (host = '127.0.0.1'): Promise<UdpClient> => {
    const c = await UdpClient.open(host);
    clients.push(c);
    return c;
  };
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(apps.map((a) => a.close()));
  });

  describe('per-source rate limit', () => {
    let app: RunningApp;
    beforeAll(async () => {
      // A receive buffer that holds the whole burst: the kernel must not drop the probe before the gate sees it.
      app = await startApp(FloodModule, {
        listen: [{ transport: 'udp', host: '0.0.0.0', port: 0 }],
        limits: { UDP_RCVBUF: 4 * 1024 * 1024 },
        // The load check off: this test is about the per-source rule alone (a burst can busy the loop).
        overload: { maxLoad: 0, perSource: { limit: 50, window: 60_000, block: 60_000 } },
      });
      apps.push(app);
    });

    it('a flooding source gets its limit served, one 503 with Retry-After, then silence; another source is still served', async () => {
      const flood = await open('127.0.0.1');
      const probe = await open('127.0.0.2');
      const port = app.port('udp');
      const sent: string[] = [];
      for (let i = 0; i < 400; i++) {
        const callId = `flood-${uniq()}`;
        sent.push(callId);
        await flood.send(sipRequest({ callId, sentBy: `127.0.0.1:${flood.port}` }), port);
      }
      const probeId = `probe-${uniq()}`;
      await probe.send(sipRequest({ callId: probeId, sentBy: `127.0.0.2:${probe.port}` }), port, '127.0.0.1');
      expect((await probe.response(probeId)).status).toBe(200);
      await waitUntil(() => flood.statuses.length >= 51, 5000, 'the flood answers');
      // Give stragglers a moment to show up if the server (wrongly) kept answering.
      await new Promise((r) => setTimeout(r, 300));
      const statuses = flood.statuses;
      expect(statuses.filter((s) => s === 200)).toHaveLength(50);
      expect(statuses.filter((s) => s === 503)).toHaveLength(1);
      expect(statuses).toHaveLength(51); // the other 349 were dropped: no reflection
      const busy = flood.responses().find((r) => r.status === 503)!;
      expect(busy.headers.get('retry-after')).toBe('5');
      const gate = app.server.transactions!.admission!;
      expect([gate.stats.sourcesBlocked, gate.stats.sourceRejected, gate.stats.sourceDropped]).toEqual([1, 1, 349]);
    });
  });

  describe('live-transaction cap', () => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await startApp(FloodModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], overload: { maxTransactions: 3, maxLoad: 0, perSource: false }, timers: { serverInviteTimeout: 60_000 } });
      apps.push(app);
    });

    it('new requests over the cap get 503 without a transaction; in-dialog requests still pass the gate', async () => {
      const c = await open();
      const port = app.port('udp');
      const ids = [0, 1, 2, 3].map(() => `cap-${uniq()}`);
      for (const callId of ids.slice(0, 3)) await c.send(sipRequest({ method: 'INVITE', callId, sentBy: `127.0.0.1:${c.port}` }), port);
      await waitUntil(() => app.server.transactions!.serverCount === 3, 3000, 'three live INVITEs');
      await c.send(sipRequest({ method: 'INVITE', callId: ids[3], sentBy: `127.0.0.1:${c.port}` }), port);
      expect((await c.response(ids[3]!)).status).toBe(503);
      expect(app.server.transactions!.serverCount).toBe(3);
      // In a (here unknown) dialog: admitted by the gate, then refused by the dialog layer.
      const bye = `cap-bye-${uniq()}`;
      await c.send(sipRequest({ method: 'BYE', callId: bye, toTag: 'some-dialog', sentBy: `127.0.0.1:${c.port}` }), port);
      expect((await c.response(bye)).status).toBe(481);
    });

    it('a source refused for load gets its 503s paced (a burst of 10, then one per 10 ms) and the rest dropped; another source still gets its 503', async () => {
      const c = await open('127.0.0.3'); // a source of its own: the test above took one 503 of 127.0.0.1's budget
      const port = app.port('udp');
      const stats = app.server.transactions!.admission!.stats;
      const before = { overloaded: stats.overloaded, shed: stats.shed };
      const n = 100; // fits the socket's default buffer (no kernel drop), read well within 900 ms
      for (let i = 0; i < n; i++) void c.send(sipRequest({ method: 'OPTIONS', callId: `paced-${i}-${uniq()}`, sentBy: `127.0.0.3:${c.port}` }), port);
      await waitUntil(() => stats.overloaded + stats.shed - before.overloaded - before.shed === n, 5000, 'every request of the burst refused');
      const answered = stats.overloaded - before.overloaded;
      expect(answered).toBeGreaterThanOrEqual(10);
      expect(stats.shed - before.shed).toBeGreaterThan(0);
      await waitUntil(() => c.statuses.length === answered, 3000, 'the 503s');
      expect(new Set(c.statuses)).toEqual(new Set([503]));
      const other = await open('127.0.0.2');
      const id = `paced-other-${uniq()}`;
      await other.send(sipRequest({ method: 'OPTIONS', callId: id, sentBy: `127.0.0.2:${other.port}` }), port);
      expect((await other.response(id)).status).toBe(503);
    });
  });

  describe('UDP queue delay (the probe)', () => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await startApp(FloodModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], overload: { maxQueueDelay: 5, perSource: false } });
      apps.push(app);
    });

    it('a burst the server cannot read at once: the probe sees the wait, and part of the burst gets 503 instead of waiting', async () => {
      const c = await open();
      const port = app.port('udp');
      const n = 150; // about 300 ms of work, arriving at once
      for (let i = 0; i < n; i++) void c.send(sipRequest({ method: 'MESSAGE', callId: `burst-${i}-${uniq()}`, sentBy: `127.0.0.1:${c.port}` }), port);
      // A burst may lose datagrams in the kernel's buffers (that is what the gate is for): wait until answers stop coming.
      await waitUntil(() => c.statuses.length > 0, 5000, 'the first answers');
      for (let last = -1; c.statuses.length !== last; ) {
        last = c.statuses.length;
        await new Promise((r) => setTimeout(r, 300));
      }
      const statuses = c.statuses;
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
      expect(app.server.transactions!.admission!.stats.overloaded).toBe(statuses.filter((s) => s === 503).length);
    });
  });
});
