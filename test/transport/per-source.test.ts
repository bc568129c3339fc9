// Issue 17, defect 5: one source holding connections (kept alive with CRLF pings) must not take
// every slot: over MAX_CONNECTIONS_PER_SOURCE its new connections are closed, and another source
// address (127.0.0.2) is still served. Real sockets, TCP and TLS.
import type * as tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createResponse } from '../../src/message/index.js';
import { resolveLimits, type SocketPool } from '../../src/transport/index.js';
import { closeAll, createPool, request, StreamPeer, waitUntil } from './helpers.js';
import { makeTestPki, type TestPki } from './tls-certs.js';

afterEach(closeAll);
let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

function answering(pool: SocketPool): SocketPool {
  pool.on('error', () => undefined);
  pool.attach((msg, from) => {
    if (msg.isRequest()) void pool.sendto(createResponse(msg, 200), from).catch(() => undefined);
  });
  return pool;
}

describe.each(['tcp', 'tls'] as const)('per-source connection limit over %s', (proto) => {
  test('a source at its limit gets its next connection closed; another source is served', async () => {
    const pool = answering(await createPool({ proto, host: '0.0.0.0', port: 0, tls: proto === 'tls' ? { ...pki.a, ca: pki.ca } : undefined, limits: { MAX_CONNECTIONS: 8, MAX_CONNECTIONS_PER_SOURCE: 3 } }));
    const port = pool.local.port;
    const connect = (localAddress: string) =>
      proto === 'tls' ? StreamPeer.connectTls(port, '127.0.0.1', { ca: pki.ca, localAddress } as tls.ConnectionOptions) : StreamPeer.connect(port, '127.0.0.1', { localAddress });
    const hog = await Promise.all([0, 1, 2].map(() => connect('127.0.0.1')));
    for (const p of hog) p.socket.write('\r\n\r\n'); // keep-alive pings: they stay
    await waitUntil(() => hog.every((p) => p.pongs > 0), 3000, 'pongs');
    const fourth = await connect('127.0.0.1').catch(() => undefined);
    if (fourth !== undefined) await waitUntil(() => fourth.ended || fourth.closed, 3000, 'the fourth connection closed by the server');
    expect(pool.stats.connectionsRejectedPerSource).toBe(1);
    const other = await connect('127.0.0.2');
    other.send(request({ transport: proto.toUpperCase() }));
    const res = await other.message(1, 3000);
    expect(res.isResponse()).toBe(true);
    expect(hog.every((p) => !p.closed)).toBe(true);
  });
});

test('the default is a quarter of MAX_CONNECTIONS', () => {
  expect(resolveLimits({}).MAX_CONNECTIONS_PER_SOURCE).toBe(1024);
  expect(resolveLimits({ MAX_CONNECTIONS: 50 }).MAX_CONNECTIONS_PER_SOURCE).toBe(13);
  expect(resolveLimits({ MAX_CONNECTIONS: 50, MAX_CONNECTIONS_PER_SOURCE: 50 }).MAX_CONNECTIONS_PER_SOURCE).toBe(50);
});
