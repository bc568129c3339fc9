import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, describe, expect, test } from 'vitest';
import { createResponse } from '../../src/message/index.js';
import {
  ConnectRefusedError,
  ConnectTimeoutError,
  InvalidOptionsError,
  PoolClosedError,
  SocketPool,
  TooManyConnectionsError,
} from '../../src/transport/index.js';
import { blackhole, closeAll, closedPort, createPool, LOOPBACKS, rawListener, request, resourceCounts, sleep, StreamPeer, UdpPeer, waitUntil } from './helpers.js';
import { makeTestPki } from './tls-certs.js';

afterEach(closeAll);

describe.each(LOOPBACKS)('connect failures over %s', (_name, host) => {
  test('refused: every pending send rejects with ConnectRefusedError, one attempt', async () => {
    const port = await closedPort(host);
    const pool = await createPool({ proto: 'tcp', host, port: 0 });
    const sends = Array.from({ length: 5 }, () => pool.sendto(Buffer.from(request()), { addr: host, port }).catch((e) => e));
    const errs = await Promise.all(sends);
    for (const e of errs) expect(e).toBeInstanceOf(ConnectRefusedError);
    expect(errs.every((e) => e === errs[0])).toBe(true);
    expect(pool.stats).toMatchObject({ connectFailures: 1, connectionsOpen: 0 });
    expect(pool.connections).toBe(0);
  });

  test('timed out: a connect that never completes rejects after CONNECT_TIMEOUT', async () => {
    const port = await blackhole(host);
    const pool = await createPool({ proto: 'tcp', host, port: 0, limits: { CONNECT_TIMEOUT: 0.3 } });
    const t0 = Date.now();
    const errs = await Promise.all([1, 2].map(() => pool.sendto(Buffer.from(request()), { addr: host, port }).catch((e) => e)));
    expect(errs[0]).toBeInstanceOf(ConnectTimeoutError);
    expect(errs[1]).toBe(errs[0]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(pool.stats.connectFailures).toBe(1);
    await waitUntil(() => pool.connections === 0);
  });

  test('timed out: a TLS server that accepts TCP but never answers the handshake', async () => {
    const { port } = await rawListener(host);
    const pki = makeTestPki();
    const pool = await createPool({ proto: 'tls', host, port: 0, tls: { ...pki.a, ca: pki.ca }, limits: { CONNECT_TIMEOUT: 0.3 } });
    await expect(pool.sendto(Buffer.from(request()), { addr: host, port })).rejects.toBeInstanceOf(ConnectTimeoutError);
  });

  test('closing the pool settles sends waiting for a connect with PoolClosedError', async () => {
    const port = await blackhole(host);
    const pool = await createPool({ proto: 'tcp', host, port: 0 });
    const pending = pool.sendto(Buffer.from(request()), { addr: host, port }).catch((e) => e);
    await sleep(20);
    await pool.close();
    expect(await pending).toBeInstanceOf(PoolClosedError);
  });
});

test('MAX_CONNECTIONS bounds inbound and outgoing connections', async () => {
  const other = await createPool({ proto: 'tcp', host: '127.0.0.1', port: 0 });
  const pool = await createPool({ proto: 'tcp', host: '127.0.0.1', port: 0, limits: { MAX_CONNECTIONS: 2, MAX_CONNECTIONS_PER_SOURCE: 2 } });
  pool.attach(() => {});
  await StreamPeer.connect(pool.local.port, '127.0.0.1');
  await StreamPeer.connect(pool.local.port, '127.0.0.1');
  await waitUntil(() => pool.connections === 2);
  const third = await StreamPeer.connect(pool.local.port, '127.0.0.1').catch(() => undefined);
  if (third) await third.waitEnded();
  await expect(pool.sendto(Buffer.from(request()), { addr: '127.0.0.1', port: other.local.port })).rejects.toBeInstanceOf(TooManyConnectionsError);
  expect(pool.stats.connectionsRejected).toBeGreaterThanOrEqual(2);
  expect(pool.connections).toBe(2);
});

test('bad options are rejected with InvalidOptionsError; a taken port with the bind error', async () => {
  await expect(SocketPool.create({ proto: 'sctp' as never, host: '127.0.0.1', port: 0 })).rejects.toBeInstanceOf(InvalidOptionsError);
  await expect(SocketPool.create({ proto: 'udp', host: '127.0.0.1', port: 0, limits: { MIN_EXPIRE: -1 } })).rejects.toBeInstanceOf(InvalidOptionsError);
  await expect(SocketPool.create({ proto: 'udp', host: '127.0.0.1', port: 0, limits: { MIN_EXPIRE: 10, MAX_EXPIRE: 5 } })).rejects.toBeInstanceOf(InvalidOptionsError);
  await expect(SocketPool.create({ proto: 'udp', host: '127.0.0.1', port: 0, limits: { NOPE: 1 } as never })).rejects.toBeInstanceOf(InvalidOptionsError);
  await expect(SocketPool.create({ proto: 'udp', host: '127.0.0.1', port: 0, connected: true })).rejects.toBeInstanceOf(InvalidOptionsError);
  await expect(SocketPool.create({ proto: 'tls', host: '127.0.0.1', port: 0, socket: net.createServer() })).rejects.toBeInstanceOf(InvalidOptionsError);
  const tcp = await createPool({ proto: 'tcp', host: '127.0.0.1', port: 0 });
  await expect(SocketPool.create({ proto: 'tcp', host: '127.0.0.1', port: tcp.local.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  const udp = await createPool({ proto: 'udp', host: '127.0.0.1', port: 0 });
  await expect(SocketPool.create({ proto: 'udp', host: '127.0.0.1', port: udp.local.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
});

test('an existing socket or server can be wrapped, and is owned (closed) by the pool', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const pool = await createPool({ proto: 'tcp', host: '127.0.0.1', port: 0, socket: server });
  expect(pool.master).toBe(server);
  expect(pool.local.port).toBe((server.address() as net.AddressInfo).port);
  pool.attach((m, from) => {
    if (m.isRequest()) void pool.sendto(createResponse(m, 200), from);
  });
  const peer = await StreamPeer.connect(pool.local.port, '127.0.0.1');
  peer.send(request());
  await peer.message(1);
  await pool.close();
  expect(server.listening).toBe(false);
});

test('after close() no socket, timer or listener remains (issue 3 #9)', async () => {
  const pki = makeTestPki();
  await sleep(20);
  const before = resourceCounts();
  const udp = await SocketPool.create({ proto: 'udp', host: '127.0.0.1', port: 0 });
  const tcpA = await SocketPool.create({ proto: 'tcp', host: '::1', port: 0, limits: { MIN_EXPIRE: 5 } });
  const tcpB = await SocketPool.create({ proto: 'tcp', host: '::1', port: 0 });
  const tlsA = await SocketPool.create({ proto: 'tls', host: '127.0.0.1', port: 0, tls: { ...pki.a, ca: pki.ca } });
  const tlsB = await SocketPool.create({ proto: 'tls', host: '127.0.0.1', port: 0, tls: { ...pki.b, ca: pki.ca, verifyClient: 1 } });
  for (const p of [udp, tcpB, tlsB]) {
    p.attach((m, from) => {
      if (m.isRequest()) void p.sendto(createResponse(m, 200), from).catch(() => {});
    });
  }
  const answers: unknown[] = [];
  tcpA.attach((m) => answers.push(m));
  tlsA.attach((m) => answers.push(m));
  await tcpA.sendto(Buffer.from(request()), { addr: '::1', port: tcpB.local.port });
  await tlsA.sendto(Buffer.from(request({ transport: 'TLS' })), { addr: '127.0.0.1', port: tlsB.local.port });
  const u = await UdpPeer.bind('127.0.0.1');
  await u.send(request({ transport: 'UDP' }), udp.local.port, '127.0.0.1');
  await u.waitFor(1);
  await waitUntil(() => answers.length === 2);
  // A connect still pending when the pool closes.
  const port = await blackhole('127.0.0.1');
  const hanging = tcpA.sendto(Buffer.from(request()), { addr: '127.0.0.1', port }).catch((e) => e);
  // An inbound TLS client in the middle of its handshake.
  const raw = net.connect(tlsB.local.port, '127.0.0.1');
  raw.on('error', () => {});
  await sleep(20);
  const closes = [udp, tcpA, tcpB, tlsA, tlsB].map((p) => p.close());
  expect(udp.close()).toBe(closes[0]); // idempotent: the same promise
  await Promise.all(closes);
  expect(await hanging).toBeInstanceOf(PoolClosedError);
  await closeAll();
  raw.destroy();
  // The blackhole child was SIGKILLed: on a loaded machine its reaping (ProcessWrap, its pipe) can take longer than a tick or two.
  const same = (): boolean => {
    const now = resourceCounts();
    return now.size === before.size && [...before].every(([k, n]) => now.get(k) === n);
  };
  await waitUntil(same, 3000).catch(() => undefined);
  expect(Object.fromEntries(resourceCounts())).toEqual(Object.fromEntries(before));
  for (const p of [tcpA, tcpB]) {
    const server = p.master as net.Server;
    expect(server.listening).toBe(false);
    expect(server.listenerCount('connection') + server.listenerCount('error')).toBe(0);
    expect((p as unknown as { transport: { timer: { armed: boolean } } }).transport.timer.armed).toBe(false);
  }
  expect((tlsB.master as tls.Server).listenerCount('secureConnection')).toBe(0);
  expect(udp.listenerCount('error')).toBe(0);
});
