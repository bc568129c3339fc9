// SIP over WebSocket (RFC 7118) at the socket pool: the handshake rules, one SIP message per
// WebSocket message, size limits, back-pressure, per-source cap and expiry, over real sockets with
// the `ws` client as the peer (and Node's own WebSocket for the wss leg).
import * as http from 'node:http';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { createResponse, parseMessage, SipRequest, type SipResponse } from '../../src/message/index.js';
import type { From, SocketPool, SocketPoolOptions } from '../../src/transport/index.js';
import { closeAll, createPool, onCleanup, request, sleep, waitUntil } from './helpers.js';
import { makeTestPki, type TestPki } from './tls-certs.js';

afterEach(closeAll);
let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

/** A pool answering every request 200, remembering where requests came from. */
async function answering(opts: Partial<SocketPoolOptions> = {}): Promise<{ pool: SocketPool; froms: From[] }> {
  const pool = await createPool({ proto: 'ws', host: '127.0.0.1', port: 0, ...opts } as SocketPoolOptions);
  pool.on('error', () => undefined);
  const froms: From[] = [];
  pool.attach((msg, from) => {
    froms.push(from);
    if (msg.isRequest() && msg.method !== 'ACK') void pool.sendto(createResponse(msg, 200), from).catch(() => undefined);
  });
  return { pool, froms };
}

/** A `ws` client: its messages parsed, its close code, its handshake refusal status. */
class Peer {
  readonly messages: (SipRequest | SipResponse)[] = [];
  closeCode: number | undefined;
  refused: number | undefined;
  opened: Promise<void>;
  constructor(
    readonly ws: WebSocket,
  ) {
    ws.on('message', (data: Buffer) => this.messages.push(parseMessage(data)));
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('unexpected-response', (_req, res) => {
      this.refused = res.statusCode;
      res.resume();
      ws.terminate();
    });
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('close', () => reject(new Error('closed before open')));
    });
    this.opened.catch(() => undefined);
    onCleanup(() => ws.terminate());
  }
  static open(url: string, protocols: string | string[] | undefined = 'sip', opts: import('ws').ClientOptions = {}): Peer {
    return new Peer(new WebSocket(url, protocols, opts));
  }
  async message(n: number, ms = 3000): Promise<SipRequest | SipResponse> {
    await waitUntil(() => this.messages.length >= n, ms, `message ${n}`);
    return this.messages[n - 1]!;
  }
}

const url = (pool: SocketPool, path = '/'): string => `ws://127.0.0.1:${pool.local.port}${path}`;
const wsRequest = (spec: Parameters<typeof request>[0] = {}): string => request({ transport: 'WS', sentBy: 'df7jal23ls0d.invalid', ...spec });

describe('ws leg on its own port', () => {
  test('a request over WebSocket is answered over the same connection; From names the connection (flow)', async () => {
    const { pool, froms } = await answering();
    const peer = Peer.open(url(pool));
    await peer.opened;
    expect(peer.ws.protocol).toBe('sip');
    peer.ws.send(wsRequest());
    const res = await peer.message(1);
    expect(res.isResponse() && res.status).toBe(200);
    expect(froms[0]!.proto).toBe('ws');
    expect(froms[0]!.addr).toBe('127.0.0.1');
    expect(typeof froms[0]!.flow).toBe('string');
    // A request to the client through its flow (its Contact has no reachable address).
    const req = new SipRequest({ method: 'MESSAGE', uri: 'sip:abc@df7jal23ls0d.invalid;transport=ws', headers: parseMessage(wsRequest({ method: 'MESSAGE' })).headers });
    await pool.sendto(req, { addr: '192.0.2.1', port: 9, flow: froms[0]!.flow });
    const got = await peer.message(2);
    expect(got.isRequest() && got.method).toBe('MESSAGE');
    // Binary messages are SIP too.
    peer.ws.send(Buffer.from(wsRequest({ method: 'OPTIONS' })), { binary: true });
    expect((await peer.message(3)).isResponse()).toBe(true);
  });

  test('a handshake without the sip subprotocol is refused with 400, nothing allocated', async () => {
    const { pool } = await answering();
    for (const protocols of [[], ['chat']]) {
      const peer = Peer.open(url(pool), protocols);
      await waitUntil(() => peer.refused !== undefined, 3000, 'refused');
      expect(peer.refused).toBe(400);
    }
    expect(pool.connections).toBe(0);
    expect(pool.stats.connectionsAccepted).toBe(0);
    expect(pool.stats.handshakesRefused).toBe(2);
  });

  test('an Origin not in the allow-list is refused with 403; an allowed one and none pass', async () => {
    const { pool } = await answering({ ws: { origins: ['https://app.example.com'] } });
    const bad = Peer.open(url(pool), 'sip', { origin: 'https://evil.example.net' });
    await waitUntil(() => bad.refused !== undefined, 3000, 'refused');
    expect(bad.refused).toBe(403);
    const good = Peer.open(url(pool), 'sip', { origin: 'https://app.example.com' });
    await good.opened;
    const none = Peer.open(url(pool), 'sip');
    await none.opened;
    expect(pool.connections).toBe(2);
  });

  test('other paths get 404, plain HTTP on the path 426', async () => {
    const { pool } = await answering({ ws: { path: '/sip' } });
    const wrong = Peer.open(url(pool, '/other'));
    await waitUntil(() => wrong.refused !== undefined, 3000, 'refused');
    expect(wrong.refused).toBe(404);
    const res = await fetch(`http://127.0.0.1:${pool.local.port}/sip`);
    expect(res.status).toBe(426);
    const ok = Peer.open(url(pool, '/sip'));
    await ok.opened;
  });

  test('a WebSocket message over the size limits is closed with 1009', async () => {
    const { pool } = await answering({ limits: { MAX_SIP_HEADER: 2048, MAX_SIP_BODY: 4096 } });
    const peer = Peer.open(url(pool));
    await peer.opened;
    peer.ws.send(wsRequest({ body: 'x'.repeat(8000) }));
    await waitUntil(() => peer.closeCode !== undefined, 3000, 'closed');
    expect(peer.closeCode).toBe(1009);
  });

  test('two SIP messages in one WebSocket message: 400, and the connection reads on', async () => {
    const { pool, froms } = await answering();
    const peer = Peer.open(url(pool));
    await peer.opened;
    peer.ws.send(wsRequest({ callId: 'two' }) + wsRequest());
    const res = await peer.message(1);
    expect(res.isResponse() && res.status).toBe(400);
    expect(res.callId).toBe('two');
    expect(froms.length).toBe(0);
    peer.ws.send(wsRequest());
    expect((await peer.message(2)).isResponse() && (peer.messages[1] as SipResponse).status).toBe(200);
  });

  test('a partial message: a short body gets 400; a cut header (nothing to answer) closes', async () => {
    const { pool, froms } = await answering();
    const peer = Peer.open(url(pool));
    await peer.opened;
    const whole = wsRequest({ body: 'v=0\r\n' });
    peer.ws.send(whole.slice(0, -3));
    const res = await peer.message(1);
    expect(res.isResponse() && res.status).toBe(400);
    peer.ws.send(whole.slice(0, 40));
    await waitUntil(() => peer.closeCode !== undefined, 3000, 'closed');
    expect(peer.closeCode).toBe(1002);
    expect(froms.length).toBe(0);
  });

  test('a client that never reads is closed when its queue passes MAX_QUEUED_BYTES', async () => {
    const { pool, froms } = await answering({ limits: { MAX_QUEUED_BYTES: 64 * 1024 } });
    const peer = Peer.open(url(pool));
    await peer.opened;
    peer.ws.send(wsRequest());
    await peer.message(1);
    // Stop reading: the kernel buffers fill, then ws buffers, then the pool's limit.
    (peer.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const flow = froms[0]!.flow;
    const big = new SipRequest({ method: 'MESSAGE', uri: 'sip:abc@df7jal23ls0d.invalid', headers: parseMessage(wsRequest({ method: 'MESSAGE' })).headers, body: 'y'.repeat(30000) });
    // Sends settle only when written (they never are): fire them, count the refusals.
    let err: Error | undefined;
    for (let i = 0; i < 2000 && err === undefined; i++) {
      pool.sendto(big, { addr: '127.0.0.1', port: 1, flow }).catch((e: Error) => (err ??= e));
      if (i % 10 === 0) await sleep(1);
    }
    expect(err?.name).toBe('QueueFullError');
    await waitUntil(() => pool.connections === 0, 3000, 'closed by the pool');
    expect(pool.stats.queueFull).toBeGreaterThan(0);
    await expect(pool.sendto(big, { addr: '127.0.0.1', port: 1, flow })).rejects.toThrow(/gone/);
  });

  test('per-source connection cap: the next connection of a full source is dropped, others are served', async () => {
    const { pool } = await answering({ host: '0.0.0.0', limits: { MAX_CONNECTIONS: 8, MAX_CONNECTIONS_PER_SOURCE: 2 } });
    const port = pool.local.port;
    const hog = [Peer.open(`ws://127.0.0.1:${port}/`, 'sip', { localAddress: '127.0.0.1' }), Peer.open(`ws://127.0.0.1:${port}/`, 'sip', { localAddress: '127.0.0.1' })];
    await Promise.all(hog.map((p) => p.opened));
    const third = Peer.open(`ws://127.0.0.1:${port}/`, 'sip', { localAddress: '127.0.0.1' });
    await expect(third.opened).rejects.toThrow();
    expect(pool.stats.connectionsRejectedPerSource).toBe(1);
    const other = Peer.open(`ws://127.0.0.1:${port}/`, 'sip', { localAddress: '127.0.0.2' });
    await other.opened;
    other.ws.send(wsRequest());
    expect((await other.message(1)).isResponse()).toBe(true);
  });

  test('idle connections expire per the pool formula; pings are activity', async () => {
    const { pool } = await answering({ limits: { MIN_EXPIRE: 0.3, MAX_EXPIRE: 0.3 } });
    const idle = Peer.open(url(pool));
    const pinging = Peer.open(url(pool));
    await Promise.all([idle.opened, pinging.opened]);
    const timer = setInterval(() => pinging.ws.ping(), 50);
    onCleanup(() => clearInterval(timer));
    await waitUntil(() => idle.closeCode !== undefined, 3000, 'idle one expired');
    expect(pinging.closeCode).toBeUndefined();
    expect(pool.stats.connectionsExpired).toBe(1);
    expect(pool.stats.keepAlives).toBeGreaterThan(0);
  });

  test('a held connection is not expired; a response whose connection is gone fails (no address to fall back to)', async () => {
    const pool = await createPool({ proto: 'ws', host: '127.0.0.1', port: 0, limits: { MIN_EXPIRE: 0.2, MAX_EXPIRE: 0.2 } });
    let req: SipRequest | undefined;
    let from: From | undefined;
    pool.attach((m, f) => {
      if (m.isRequest()) {
        req = m;
        from = f;
      }
    });
    const peer = Peer.open(url(pool));
    await peer.opened;
    peer.ws.send(wsRequest({ method: 'INVITE' }));
    await waitUntil(() => req !== undefined, 3000, 'request');
    expect(pool.hold(req!)).toBe(true);
    await sleep(600);
    expect(peer.closeCode).toBeUndefined();
    pool.release(req!);
    await waitUntil(() => peer.closeCode !== undefined, 3000, 'expired after release');
    await expect(pool.sendto(createResponse(req!, 200), from)).rejects.toThrow(/gone/);
  });
});

test('a held connection idle for the expiry time is pinged: a peer that pongs stays, one that does not is closed', async () => {
  const pool = await createPool({ proto: 'ws', host: '127.0.0.1', port: 0, limits: { MIN_EXPIRE: 0.2, MAX_EXPIRE: 0.2 } });
  const reqs: SipRequest[] = [];
  pool.attach((m) => {
    if (m.isRequest()) reqs.push(m);
  });
  const alive = Peer.open(url(pool));
  const dead = Peer.open(url(pool), 'sip', { autoPong: false });
  await Promise.all([alive.opened, dead.opened]);
  let pings = 0;
  alive.ws.on('ping', () => pings++);
  alive.ws.send(wsRequest({ method: 'INVITE' }));
  dead.ws.send(wsRequest({ method: 'INVITE' }));
  await waitUntil(() => reqs.length === 2, 3000, 'requests');
  for (const r of reqs) expect(pool.hold(r)).toBe(true);
  await waitUntil(() => dead.closeCode !== undefined, 3000, 'the silent peer closed');
  expect(pings).toBeGreaterThan(0);
  expect(alive.closeCode).toBeUndefined();
  expect(pool.connections).toBe(1);
});

describe('ws leg on a shared HTTP server', () => {
  test('REST and SIP over WebSocket on one port; other upgrade paths are left alone; the server outlives the pool', async () => {
    const server = http.createServer((_req, res) => res.end('rest'));
    onCleanup(() => new Promise<void>((r) => server.close(() => r())));
    const pool = await createPool({ proto: 'ws', host: '', port: 0, ws: { server, path: '/sip' } });
    // Not listening yet (Nest starts microservices before app.listen()): the port reads 0 until it does.
    expect(pool.local.port).toBe(0);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as import('node:net').AddressInfo).port;
    expect(pool.local.port).toBe(port);
    pool.attach((msg, from) => {
      if (msg.isRequest()) void pool.sendto(createResponse(msg, 200), from);
    });
    expect(await (await fetch(`http://127.0.0.1:${port}/x`)).text()).toBe('rest');
    let otherUpgrades = 0;
    server.on('upgrade', (req, socket) => {
      if (req.url === '/other') {
        otherUpgrades++;
        socket.destroy();
      }
    });
    const other = Peer.open(`ws://127.0.0.1:${port}/other`);
    await expect(other.opened).rejects.toThrow();
    expect(otherUpgrades).toBe(1);
    const peer = Peer.open(`ws://127.0.0.1:${port}/sip`);
    await peer.opened;
    peer.ws.send(wsRequest());
    expect((await peer.message(1)).isResponse()).toBe(true);
    await pool.close();
    expect(server.listening).toBe(true);
    expect(server.listenerCount('upgrade')).toBe(1);
    await waitUntil(() => peer.closeCode !== undefined, 3000, 'connection closed with the pool');
  });
});

describe('wss', () => {
  test('wss leg with a certificate: a client trusting its CA gets through, one that does not is refused', async () => {
    const { pool } = await answering({ proto: 'wss', tls: { ...pki.a, ca: pki.ca } });
    const port = pool.local.port;
    const peer = Peer.open(`wss://localhost:${port}/`, 'sip', { ca: pki.ca });
    await peer.opened;
    peer.ws.send(request({ transport: 'WSS', sentBy: 'df7jal23ls0d.invalid' }));
    const res = await peer.message(1);
    expect(res.isResponse() && res.status).toBe(200);
    const untrusting = Peer.open(`wss://localhost:${port}/`, 'sip');
    await expect(untrusting.opened).rejects.toThrow();
  });

  test('client certificates: verifyClient 1 refuses a client without one; the one it accepts is readable from From.socket', async () => {
    const { pool, froms } = await answering({ proto: 'wss', tls: { ...pki.a, ca: pki.ca, verifyClient: 1 } });
    const port = pool.local.port;
    const anonymous = Peer.open(`wss://localhost:${port}/`, 'sip', { ca: pki.ca });
    await expect(anonymous.opened).rejects.toThrow();
    const known = Peer.open(`wss://localhost:${port}/`, 'sip', { ca: pki.ca, cert: pki.b.cert, key: pki.b.key });
    await known.opened;
    known.ws.send(request({ transport: 'WSS', sentBy: 'df7jal23ls0d.invalid' }));
    await known.message(1);
    const cert = (froms[0]!.socket as import('node:tls').TLSSocket).getPeerCertificate();
    expect(cert.subject.CN).toBe('b');
    expect(pool.stats.connectionsAccepted).toBe(1);
  });

  test('pool to pool: a ws(s) leg connects out, with the sip subprotocol, and reuses the connection both ways', async () => {
    for (const proto of ['ws', 'wss'] as const) {
      const tlsOpts = proto === 'wss' ? { ...pki.a, ca: pki.ca } : undefined;
      const { pool: server } = await answering({ proto, tls: tlsOpts });
      const client = await createPool({ proto, host: '127.0.0.1', port: 0, tls: tlsOpts });
      const got: (SipRequest | SipResponse)[] = [];
      client.attach((m) => got.push(m as SipRequest | SipResponse));
      const req = parseMessage(request({ transport: proto.toUpperCase(), sentBy: `127.0.0.1:${client.local.port}` })) as SipRequest;
      await client.sendto(req, { addr: '127.0.0.1', port: server.local.port, servername: proto === 'wss' ? 'localhost' : undefined });
      await waitUntil(() => got.length === 1, 3000, `${proto} response`);
      expect(client.connections).toBe(1);
      expect(server.connections).toBe(1);
    }
  });
});
