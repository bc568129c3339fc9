// A port scan against the TLS leg (issue 17, defect 1): TCP connections that never send a
// ClientHello, or connect and close at once, must be released: every slot comes back and a real
// TLS client is served afterwards. With real sockets.
import * as net from 'node:net';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createResponse } from '../../src/message/index.js';
import { closeAll, createPool, onCleanup, request, sleep, StreamPeer, waitUntil } from './helpers.js';
import { makeTestPki, type TestPki } from './tls-certs.js';

afterEach(closeAll);

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

async function tlsLeg(limits: Record<string, number>) {
  const pool = await createPool({ proto: 'tls', host: '127.0.0.1', port: 0, tls: { ...pki.a, ca: pki.ca }, limits });
  const errors: Error[] = [];
  pool.on('error', (e) => errors.push(e));
  pool.attach((msg, from) => {
    if (msg.isRequest()) void pool.sendto(createResponse(msg, 200), from).catch(() => undefined);
  });
  return { pool, errors };
}

type Probe = 'close' | 'reset' | 'silent';

/**
 * A scanner's connection: connects, then closes (FIN), resets (RST) or stays silent. Resolves with
 * whether it was closed within `waitMs` (a socket still open then is destroyed): after a FIN or
 * silence, only the server closing its side closes it.
 */
function probe(port: number, then: Probe, waitMs = 3000): Promise<{ closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    onCleanup(() => {
      s.destroy();
    });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ closed: false });
    }, waitMs);
    s.on('connect', () => {
      if (then === 'close') s.end();
      else if (then === 'reset') s.resetAndDestroy();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true });
    });
  });
}

/** A real TLS client: one OPTIONS, its 200 on the same connection. */
async function optionsRoundTrip(port: number): Promise<number | undefined> {
  const peer = await StreamPeer.connectTls(port, '127.0.0.1', { ca: pki.ca });
  peer.send(request({ transport: 'TLS' }));
  const res = await peer.message(1, 3000);
  peer.socket.destroy();
  return res.isResponse() ? res.status : undefined;
}

describe('TLS leg under a port scan', () => {
  test('connect+close and connect+reset probes over MAX_CONNECTIONS are released at once; a TLS client is served after', async () => {
    // The per-source limit as large as the total: this is about MAX_CONNECTIONS. CONNECT_TIMEOUT is
    // long, so the slots must come back from the close itself, not from the handshake timeout.
    const { pool } = await tlsLeg({ MAX_CONNECTIONS: 8, MAX_CONNECTIONS_PER_SOURCE: 8, CONNECT_TIMEOUT: 30 });
    const port = pool.local.port;
    const probes = await Promise.all(Array.from({ length: 20 }, (_, i) => probe(port, i % 2 === 0 ? 'close' : 'reset')));
    expect(probes.every((p) => p.closed)).toBe(true);
    await waitUntil(() => pool.stats.handshaking === 0 && pool.connections === 0, 3000, 'the probes released');
    expect(await optionsRoundTrip(port)).toBe(200);
    await waitUntil(() => pool.connections === 0, 3000, 'the client gone');
    expect(pool.stats.handshaking).toBe(0);
  });

  test('a silent TCP peer on the TLS port is dropped after CONNECT_TIMEOUT, reported once', async () => {
    const { pool, errors } = await tlsLeg({ MAX_CONNECTIONS: 5, MAX_CONNECTIONS_PER_SOURCE: 5, CONNECT_TIMEOUT: 0.3 });
    const port = pool.local.port;
    const silent = await Promise.all(Array.from({ length: 5 }, () => probe(port, 'silent')));
    expect(silent.every((s) => s.closed)).toBe(true);
    await waitUntil(() => pool.stats.handshaking === 0, 3000, 'the silent sockets released');
    expect(await optionsRoundTrip(port)).toBe(200);
    await sleep(100); // a second report of the same socket would come now
    expect(errors.filter((e) => /handshake/.test(e.message))).toHaveLength(5);
    expect(pool.stats.tlsFailures).toBe(5);
  });

  test('an established TLS connection is not counted as handshaking', async () => {
    const { pool } = await tlsLeg({});
    const peer = await StreamPeer.connectTls(pool.local.port, '127.0.0.1', { ca: pki.ca });
    peer.send(request({ transport: 'TLS' }));
    await peer.message(1, 3000);
    expect(pool.connections).toBe(1);
    expect(pool.stats.handshaking).toBe(0);
  });
});
