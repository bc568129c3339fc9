// SipServer's life as a Nest transport: listen (port 0, addresses, EADDRINUSE), status, unwrap,
// on('error'), close (drain bound, 503 while closing, every socket freed), hybrid applications.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { NEVER } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { SipContext, SipServer, SocketPool, type SipRequest, type SipServerStatus } from 'nestjs-sip';
import { sipRequest, sleep, startApp, StreamClient, UdpClient, uniq, waitUntil, type RunningApp } from './support.js';

const aborted = new Map<string, unknown>();

@Controller()
class Handlers {
  @MessagePattern('OPTIONS')
  options() {
    return 200;
  }

  @MessagePattern('MESSAGE')
  async message(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    ctx.signal.addEventListener('abort', () => aborted.set(req.callId, ctx.signal.reason));
    if (req.requestUri.user === 'never') return NEVER;
    await sleep(200);
    return 200;
  }
}

@Module({ controllers: [Handlers] })
class AppModule {}

/** Active handles by type (UDPWRAP, TCPSERVERWRAP, TCPWRAP, Timeout...). */
function resources(): Record<string, number> {
  const m: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) m[r] = (m[r] ?? 0) + 1;
  return m;
}
const SOCKET_KINDS = ['UDPWrap', 'UDPWRAP', 'TCPServerWrap', 'TCPSERVERWRAP', 'TCPWrap', 'TCPWRAP', 'TLSWrap', 'TLSWRAP'];
const sockets = (r: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(r).filter(([k]) => SOCKET_KINDS.includes(k)));

function bindUdp(port: number, host = '127.0.0.1'): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    s.once('error', reject);
    s.bind(port, host, () => resolve(s));
  });
}
function listenTcp(port: number, host = '127.0.0.1'): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, host, () => resolve(s));
  });
}
/** Socket handles once libuv has finished closing what was closed (it drops them a loop turn or two after 'close'). */
async function settledSockets(): Promise<Record<string, number>> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  return sockets(resources());
}

/** Wait until the socket handles are back to `baseline` (fails with the difference otherwise). */
async function expectSocketsBackTo(baseline: Record<string, number>): Promise<void> {
  const end = Date.now() + 2000;
  while (JSON.stringify(sockets(resources())) !== JSON.stringify(baseline) && Date.now() < end) await sleep(5);
  expect(sockets(resources())).toEqual(baseline);
}

const closeUdp = (s: dgram.Socket): Promise<void> => new Promise((r) => s.close(() => r()));
const closeTcp = (s: net.Server): Promise<void> => new Promise((r) => s.close(() => r()));

/** A port free for both UDP and TCP right now. */
async function freePort(): Promise<number> {
  for (;;) {
    const t = await listenTcp(0);
    const port = (t.address() as net.AddressInfo).port;
    await closeTcp(t);
    try {
      await closeUdp(await bindUdp(port));
      return port;
    } catch {
      // taken for UDP: try another
    }
  }
}

const apps: RunningApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close().catch(() => {});
});

async function start(options: ConstructorParameters<typeof SipServer>[0]): Promise<RunningApp> {
  const a = await startApp(AppModule, options!, false);
  apps.push(a);
  return a;
}

describe('SipServer lifecycle', () => {
  it('port 0: every leg gets its own real port, readable after listen; unwrap() gives the pools', async () => {
    const server = new SipServer({
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
        { transport: 'udp', host: '::1', port: 0 },
        { transport: 'tcp', host: '::1', port: 0 },
      ],
    });
    expect(server.addresses).toEqual([]);
    expect(() => server.unwrap()).toThrow(/listen/);
    const app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: false });
    await app.listen();
    try {
      const addrs = server.addresses;
      expect(addrs.map((a) => [a.proto, a.addr, a.family])).toEqual([
        ['udp', '127.0.0.1', 4],
        ['tcp', '127.0.0.1', 4],
        ['udp', '::1', 6],
        ['tcp', '::1', 6],
      ]);
      for (const a of addrs) expect(a.port).toBeGreaterThan(0);
      const pools = server.unwrap<SocketPool[]>();
      expect(pools).toHaveLength(4);
      for (const [i, p] of pools.entries()) {
        expect(p).toBeInstanceOf(SocketPool);
        expect(p.local).toEqual(addrs[i]);
      }
      // And they answer: IPv6 UDP and TCP.
      const u = await UdpClient.open('::1');
      await u.send(sipRequest({ callId: 'v6u', sentBy: '[::1]:9' }), addrs[2]!.port, '::1');
      expect((await u.response('v6u')).status).toBe(200);
      await u.close();
      const t = await StreamClient.connect(addrs[3]!.port, '::1');
      t.send(sipRequest({ callId: 'v6t', transport: 'TCP', sentBy: '[::1]:9' }));
      expect((await t.response('v6t')).status).toBe(200);
      t.close();
    } finally {
      await app.close();
    }
  });

  it("a leg on '::' (dual stack) serves IPv4 and IPv6 clients, UDP and TCP", async () => {
    const a = await start({
      listen: [
        { transport: 'udp', host: '::', port: 0 },
        { transport: 'tcp', host: '::', port: 0 },
      ],
    });
    for (const host of ['127.0.0.1', '::1']) {
      const u = await UdpClient.open(host);
      const id = `ds-u-${uniq()}`;
      await u.send(sipRequest({ callId: id, viaParams: ';rport' }), a.port('udp', 6), host);
      const res = await u.response(id);
      expect(res.status).toBe(200);
      expect(res.topVia!.received ?? '127.0.0.1').toBe(host === '::1' ? '::1' : '127.0.0.1'); // plain IPv4, not ::ffff:
      await u.close();
      const t = await StreamClient.connect(a.port('tcp', 6), host);
      const id2 = `ds-t-${uniq()}`;
      t.send(sipRequest({ callId: id2, transport: 'TCP', sentBy: 'client.invalid' }));
      const r2 = await t.response(id2);
      expect(r2.status).toBe(200);
      expect(r2.topVia!.received).toBe(host);
      t.close();
    }
  });

  it('status emits listening, then closing and closed', async () => {
    const server = new SipServer({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    const seen: SipServerStatus[] = [];
    const sub = server.status.subscribe((s) => seen.push(s));
    const app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: false });
    await app.listen();
    expect(seen).toEqual(['listening']);
    await app.close();
    expect(seen).toEqual(['listening', 'closing', 'closed']);
    sub.unsubscribe();
  });

  it('EADDRINUSE: listen fails through the error path, status says error, nothing stays bound', async () => {
    const port = await freePort();
    const blocker = await listenTcp(port);
    const before = await settledSockets();
    try {
      // UDP binds first (succeeds), then TCP on the same port fails.
      const server = new SipServer({
        listen: [
          { transport: 'udp', host: '127.0.0.1', port },
          { transport: 'tcp', host: '127.0.0.1', port },
        ],
      });
      const seen: SipServerStatus[] = [];
      server.status.subscribe((s) => seen.push(s));
      const app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: false });
      await expect(app.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(seen).toEqual(['error']);
      expect(server.addresses).toEqual([]);
      expect(() => server.unwrap()).toThrow();
      // The UDP leg that had bound is free again.
      await closeUdp(await bindUdp(port));
      await expectSocketsBackTo(before);
      await app.close();
    } finally {
      await closeTcp(blocker);
    }
  });

  it('listen(cb) calls cb exactly once, with the error', async () => {
    const blocker = await listenTcp(0);
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const server = new SipServer({ listen: [{ transport: 'tcp', host: '127.0.0.1', port }] });
      const calls: unknown[] = [];
      server.listen((err) => calls.push(err));
      await sleep(100);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ code: 'EADDRINUSE' });
      await server.close();
    } finally {
      await closeTcp(blocker);
    }
  });

  it('close() while listen() is still binding: listen fails, nothing stays bound', async () => {
    const before = await settledSockets();
    const server = new SipServer({
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
      ],
    });
    const seen: SipServerStatus[] = [];
    server.status.subscribe((s) => seen.push(s));
    const result = new Promise<unknown>((resolve) => server.listen((err) => resolve(err ?? 'ok')));
    await server.close(); // before the legs are bound
    expect(await result).toBeInstanceOf(Error);
    expect(server.addresses).toEqual([]);
    expect(seen).not.toContain('listening');
    await expectSocketsBackTo(before);
  });

  it('close() frees every socket (UDP, TCP listener, accepted connections): the same ports bind again', async () => {
    const before = await settledSockets();
    const a = await start({
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
      ],
    });
    const udpPort = a.port('udp');
    const tcpPort = a.port('tcp');
    // A client connection that stays open across the close.
    const c = await StreamClient.connect(tcpPort);
    c.send(sipRequest({ callId: 'held', transport: 'TCP' }));
    expect((await c.response('held')).status).toBe(200);
    expect(sockets(resources())).not.toEqual(before);
    await a.close();
    await waitUntil(() => c.closed, 2000, 'the server to close the accepted connection');
    await expectSocketsBackTo(before);
    const u = await bindUdp(udpPort);
    const t = await listenTcp(tcpPort);
    await closeUdp(u);
    await closeTcp(t);
  });

  it('close() lets a running transaction finish: its answer still goes out, then close resolves', async () => {
    const a = await start({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], closeTimeout: 3000 });
    const c = await UdpClient.open();
    try {
      const callId = `drain-${uniq()}`;
      await c.send(sipRequest({ method: 'MESSAGE', uri: 'sip:slow@127.0.0.1', callId }), a.port('udp'));
      await sleep(30); // the handler is running (200 ms)
      const t0 = Date.now();
      await a.close();
      expect((await c.response(callId, 1, 100)).status).toBe(200); // already there when close() resolved
      expect(Date.now() - t0).toBeLessThan(2500); // ended with the transaction, not at closeTimeout
    } finally {
      await c.close();
    }
  });

  it('while closing: new requests get 503 with Retry-After; a handler that never answers is cut at closeTimeout (signal aborted)', async () => {
    const a = await start({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], closeTimeout: 300 });
    const c = await UdpClient.open();
    try {
      const stuck = `stuck-${uniq()}`;
      await c.send(sipRequest({ method: 'MESSAGE', uri: 'sip:never@127.0.0.1', callId: stuck }), a.port('udp'));
      await sleep(30);
      const closed = a.close();
      const late = `late-${uniq()}`;
      await c.send(sipRequest({ callId: late }), a.port('udp'));
      const res = await c.response(late);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      await closed;
      expect(aborted.get(stuck)).toMatchObject({ code: 'ERR_SIP_LAYER_CLOSED' });
      expect(a.server.addresses).toEqual([]);
    } finally {
      await c.close();
    }
  });

  it("on('error') gets errors nobody else can be told about (a failed inbound TLS handshake)", async () => {
    const { makeTestPki } = await import('../transport/tls-certs.js');
    const pki = makeTestPki();
    const a = await start({ listen: [{ transport: 'tls', host: '127.0.0.1', port: 0, tls: { cert: pki.a.cert, key: pki.a.key } }] });
    const errors: unknown[] = [];
    a.server.on('error', (err: unknown) => errors.push(err));
    const s = net.connect(a.port('tls'), '127.0.0.1');
    s.on('error', () => {});
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write('OPTIONS sip:x@y SIP/2.0\r\n\r\n'); // plain text to a TLS port
    await waitUntil(() => errors.length > 0, 3000, 'an error event');
    s.destroy();
  });

  it('a hybrid application: connectMicroservice() + startAllMicroservices() on an application without HTTP server', async () => {
    // No HTTP platform is installed: an adapter whose every method does nothing stands in for it.
    const noHttp = new Proxy({ patch: () => {} } as Record<string | symbol, unknown>, {
      get: (t, p) => (p in t ? t[p] : p === 'then' ? undefined : () => undefined),
    });
    const app = await NestFactory.create(AppModule, noHttp as never, { logger: false });
    const strategy = new SipServer({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    app.connectMicroservice({ strategy });
    await app.startAllMicroservices();
    await app.init();
    const c = await UdpClient.open();
    try {
      await c.send(sipRequest({ callId: 'hybrid' }), strategy.addresses[0]!.port);
      expect((await c.response('hybrid')).status).toBe(200);
    } finally {
      await c.close();
      await app.close();
    }
    expect(strategy.addresses).toEqual([]);
  });
});
