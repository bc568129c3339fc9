// A port scan against the TLS leg (issue 17, defect 1): TCP connections that never send a
// ClientHello, or connect and close at once, must be released: every slot comes back and a real
// TLS client is served afterwards. With real sockets.
import * as net from 'node:net';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createResponse } from '../../src/message/index.js';
import { closeAll, createPool, request, StreamPeer, waitUntil } from './helpers.js';
import { makeTestPki, type TestPki } from './tls-certs.js';

afterEach(closeAll);

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

async function tlsLeg(limits: Record<string, number>) {
  const pool = await createPool({ proto: 'tls', host: '127.0.0.1', port: 0, tls: { ...pki.a, ca: pki.ca }, limits });
  pool.on('error', () => undefined);
  pool.attach((msg, from) => {
    if (msg.isRequest()) void pool.sendto(createResponse(msg, 200), from).catch(() => undefined);
  });
  return pool;
}

/** Connect; `then` decides what the scanner does next. Resolves when the socket is closed (by either side). */
function probe(port: number, then: 'close' | 'silent'): Promise<{ closedByServer: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let weClosed = false;
    s.on('connect', () => {
      if (then === 'close') {
        weClosed = true;
        s.end();
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve({ closedByServer: !weClosed }));
  });
}

async function servedByTls(port: number): Promise<boolean> {
  try {
    const peer = await StreamPeer.connectTls(port, '127.0.0.1', { ca: pki.ca });
    peer.send(request({ transport: 'TLS' }));
    await peer.message(1, 3000);
    peer.socket.destroy();
    return true;
  } catch {
    return false;
  }
}

describe('TLS leg under a port scan', () => {
  test('connect+close probes over MAX_CONNECTIONS: every slot comes back; a TLS client is served after', async () => {
    const pool = await tlsLeg({ MAX_CONNECTIONS: 5, CONNECT_TIMEOUT: 1 });
    const port = pool.local.port;
    await Promise.all(Array.from({ length: 12 }, () => probe(port, 'close')));
    await waitUntil(() => pool.stats.handshaking === 0, 3000, 'the probes released');
    expect(await servedByTls(port)).toBe(true);
  });

  test('a silent TCP peer on the TLS port is dropped after CONNECT_TIMEOUT', async () => {
    const pool = await tlsLeg({ MAX_CONNECTIONS: 5, CONNECT_TIMEOUT: 0.3 });
    const port = pool.local.port;
    const silent = await Promise.all(Array.from({ length: 5 }, () => probe(port, 'silent')));
    expect(silent.every((s) => s.closedByServer)).toBe(true);
    await waitUntil(() => pool.stats.handshaking === 0, 3000, 'the silent sockets released');
    expect(await servedByTls(port)).toBe(true);
  });
});

test('an established TLS connection is not counted as handshaking', async () => {
  const pool = await tlsLeg({});
  const peer = await StreamPeer.connectTls(pool.local.port, '127.0.0.1', { ca: pki.ca });
  peer.send(request({ transport: 'TLS' }));
  await peer.message(1, 3000);
  expect(pool.connections).toBe(1);
  expect(pool.stats.handshaking).toBe(0);
});
