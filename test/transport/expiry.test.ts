import * as net from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createResponse, SipRequest } from '../../src/message/index.js';
import { ConnectionExpiredError, DEFAULT_LIMITS, expireAfterMs, resolveLimits, type SocketPool } from '../../src/transport/index.js';
import { closeAll, createPool, request, sleep, StreamPeer, waitUntil } from './helpers.js';

afterEach(closeAll);

const HOST = '127.0.0.1';

function answer(pool: SocketPool): void {
  pool.attach((m, from) => {
    if (m.isRequest()) void pool.sendto(createResponse(m, 200), from).catch(() => {});
  });
}

test("the seed's formula: MIN_EXPIRE + (MAX_EXPIRE - MIN_EXPIRE) / (N - 1)", () => {
  expect(expireAfterMs(DEFAULT_LIMITS, 2)).toBe(120_000);
  expect(expireAfterMs(DEFAULT_LIMITS, 8)).toBe(30_000);
  expect(expireAfterMs(DEFAULT_LIMITS, 100)).toBeCloseTo(16_060.6, 0);
  expect(expireAfterMs(resolveLimits({ MIN_EXPIRE: 0.1, MAX_EXPIRE: 0.5 }), 5)).toBeCloseTo(200, 6);
});

describe('idle expiry (issue 3 #7)', () => {
  test('the more connections, the sooner idle ones expire', async () => {
    const limits = { MIN_EXPIRE: 0.15, MAX_EXPIRE: 0.9 };
    const one = await createPool({ proto: 'tcp', host: HOST, port: 0, limits });
    const many = await createPool({ proto: 'tcp', host: HOST, port: 0, limits });
    const lone = await StreamPeer.connect(one.local.port, HOST);
    const crowd = await Promise.all(Array.from({ length: 9 }, () => StreamPeer.connect(many.local.port, HOST)));
    // N = 10: 0.15 + 0.75 / 9 = 0.23 s; N = 2: 0.9 s.
    await Promise.all(crowd.map((p) => p.waitEnded(2000)));
    expect(lone.ended).toBe(false);
    expect(many.stats.connectionsExpired).toBe(9);
    await lone.waitEnded(3000);
    expect(one.stats.connectionsExpired).toBe(1);
  });

  test('activity keeps a connection: messages in, writes out, CRLF keep-alives', async () => {
    // 0.4 s expiry, activity every 80 ms for 0.64 s: kept well past the expiry time.
    const pool = await createPool({ proto: 'tcp', host: HOST, port: 0, limits: { MIN_EXPIRE: 0.4, MAX_EXPIRE: 0.4 } });
    answer(pool);
    const talker = await StreamPeer.connect(pool.local.port, HOST);
    const pinger = await StreamPeer.connect(pool.local.port, HOST);
    for (let i = 0; i < 8; i++) {
      talker.send(request());
      pinger.send('\r\n\r\n');
      await sleep(80);
    }
    expect(talker.ended || pinger.ended).toBe(false);
    expect(talker.messages).toHaveLength(8);
    expect(pinger.pongs).toBe(8);
    await talker.waitEnded(2000);
    await pinger.waitEnded(2000);
    expect(pool.stats.connectionsExpired).toBe(2);
  });

  test('slowloris: a peer trickling bytes of an unfinished message is expired', async () => {
    const pool = await createPool({ proto: 'tcp', host: HOST, port: 0, limits: { MIN_EXPIRE: 0.3, MAX_EXPIRE: 0.3 } });
    answer(pool);
    const slow = await StreamPeer.connect(pool.local.port, HOST);
    const text = request();
    const t0 = Date.now();
    for (let i = 0; i < text.length - 1 && !slow.ended && !slow.closed; i++) {
      slow.send(text[i]!);
      await sleep(40);
    }
    await slow.waitEnded(100);
    // 0.3 s expiry against a message that would have needed > 10 s to arrive.
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(slow.messages).toHaveLength(0);
    expect(pool.stats.connectionsExpired).toBe(1);
  });

  test('hold() keeps the connection of an open transaction; release() lets it expire', async () => {
    const pool = await createPool({ proto: 'tcp', host: HOST, port: 0, limits: { MIN_EXPIRE: 0.15, MAX_EXPIRE: 0.15 } });
    let received: SipRequest | undefined;
    pool.attach((m) => {
      if (m.isRequest()) received = m;
    });
    const peer = await StreamPeer.connect(pool.local.port, HOST);
    peer.send(request({ method: 'INVITE' }));
    await waitUntil(() => received !== undefined);
    expect(pool.hold(received!)).toBe(true);
    await sleep(500);
    expect(peer.ended).toBe(false);
    // Still routable: the final response goes on the held connection.
    await pool.sendto(createResponse(received!, 486));
    expect((await peer.message(1)).isResponse()).toBe(true);
    pool.release(received!);
    await peer.waitEnded(2000);
    expect(pool.hold(received!)).toBe(false); // the connection is gone
  });

  test('holdFlow() keeps the connection a request came on (server transactions); releaseFlow() lets it expire', async () => {
    const pool = await createPool({ proto: 'tcp', host: HOST, port: 0, limits: { MIN_EXPIRE: 0.15, MAX_EXPIRE: 0.15 } });
    let received: SipRequest | undefined;
    let flow: string | undefined;
    pool.attach((m, from) => {
      if (m.isRequest()) {
        received = m;
        flow = from.flow;
      }
    });
    const peer = await StreamPeer.connect(pool.local.port, HOST);
    peer.send(request({ method: 'OPTIONS' }));
    await waitUntil(() => received !== undefined);
    expect(pool.holdFlow(flow!)).toBe(true);
    expect(pool.holdFlow(flow!)).toBe(true); // two transactions on it
    await sleep(500);
    expect(peer.ended).toBe(false);
    // The response names the connection: it goes there.
    await pool.sendto(createResponse(received!, 200), { addr: HOST, port: 1, flow });
    expect((await peer.message(1)).isResponse()).toBe(true);
    pool.releaseFlow(flow!);
    await sleep(400);
    expect(peer.ended).toBe(false); // still held once
    pool.releaseFlow(flow!);
    await peer.waitEnded(2000);
    await waitUntil(() => pool.connections === 0, 2000);
    expect(pool.holdFlow(flow!)).toBe(false); // the connection is gone
    pool.releaseFlow(flow!); // harmless
    expect(pool.holdFlow('no-such-flow')).toBe(false);
  });

  test('hold() on an outgoing request keeps its connection (client transactions)', async () => {
    const limits = { MIN_EXPIRE: 0.15, MAX_EXPIRE: 0.15 };
    const server = await createPool({ proto: 'tcp', host: HOST, port: 0 });
    server.attach(() => {});
    const pool = await createPool({ proto: 'tcp', host: HOST, port: 0, limits });
    const req = new SipRequest({ method: 'INVITE', uri: 'sip:b@x', headers: { Via: 'SIP/2.0/TCP me:5060;branch=z9hG4bKheld', 'Call-ID': 'held', CSeq: '1 INVITE' } });
    await pool.sendto(req, { addr: HOST, port: server.local.port });
    expect(pool.hold(pool.tidOf(req)!)).toBe(true);
    await sleep(450);
    expect(pool.connections).toBe(1);
    pool.release(req);
    await waitUntil(() => pool.connections === 0, 2000);
  });

  test('pending writes keep a connection; a stall of MAX_EXPIRE expires it and its sends reject', async () => {
    const limits = { MIN_EXPIRE: 0.1, MAX_EXPIRE: 1.0, MAX_QUEUED_BYTES: 1 << 26 };
    const pool = await createPool({ proto: 'tcp', host: HOST, port: 0, limits });
    const froms: { port: number }[] = [];
    pool.attach((_m, from) => froms.push(from));
    const idle = await Promise.all(Array.from({ length: 10 }, () => StreamPeer.connect(pool.local.port, HOST)));
    const stuck = await StreamPeer.connect(pool.local.port, HOST);
    stuck.socket.pause();
    stuck.send(request());
    await waitUntil(() => froms.length === 1);
    const big = Buffer.alloc(1 << 20, 0x43);
    const sends = Array.from({ length: 32 }, () => pool.sendto(big, froms[0] as never).then(() => 'ok', (e) => e));
    // N = 12: idle ones expire after 0.1 + 0.9 / 11 = 0.18 s; the stuck one has writes pending.
    await Promise.all(idle.map((p) => p.waitEnded(2000)));
    await waitUntil(() => pool.connections === 1, 2000);
    expect(stuck.ended || stuck.closed).toBe(false);
    const outcomes = await Promise.all(sends);
    expect(outcomes.some((o) => o instanceof ConnectionExpiredError)).toBe(true);
    expect(outcomes.every((o) => o === 'ok' || o instanceof ConnectionExpiredError)).toBe(true);
    await waitUntil(() => pool.connections === 0);
  });

  test('one sweep timer per pool, whatever the number of connections, unref\'d, gone after close', async () => {
    const made: NodeJS.Timeout[] = [];
    const real = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const t = real(fn, ms);
      made.push(t);
      return t;
    }) as typeof setTimeout);
    try {
      const pool = await createPool({ proto: 'tcp', host: HOST, port: 0, limits: { MIN_EXPIRE: 0.5, MAX_EXPIRE: 1 } });
      answer(pool);
      const peers = await Promise.all(Array.from({ length: 50 }, () => StreamPeer.connect(pool.local.port, HOST)));
      for (const p of peers) p.send(request());
      await Promise.all(peers.map((p) => p.message(1)));
      const live = made.filter((t) => !t.hasRef() && !(t as unknown as { _destroyed: boolean })._destroyed);
      expect(live.length).toBe(1);
      await pool.close();
      expect(made.filter((t) => !t.hasRef() && !(t as unknown as { _destroyed: boolean })._destroyed)).toHaveLength(0);
    } finally {
      spy.mockRestore();
    }
  });
});

test('1,000 concurrent inbound TCP connections are served, then expired', async () => {
  const pool = await createPool({ proto: 'tcp', host: HOST, port: 0, limits: { MIN_EXPIRE: 2, MAX_EXPIRE: 4 } });
  answer(pool);
  const N = 1000;
  const sockets: net.Socket[] = [];
  let answered = 0;
  let closed = 0;
  const req = request();
  // In waves, so that the listen backlog is never the limit.
  for (let wave = 0; wave < N / 200; wave++) {
    await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<void>((resolve, reject) => {
            const s = net.connect(pool.local.port, HOST, () => {
              s.write(req);
              resolve();
            });
            s.once('error', reject);
            s.once('data', () => answered++);
            s.once('close', () => closed++);
            sockets.push(s);
          }),
      ),
    );
  }
  try {
    await waitUntil(() => answered === N, 10_000, 'answers');
    expect(pool.connections).toBe(N);
    expect(pool.stats.connectionsAccepted).toBe(N);
    // N = 1001: they expire after about MIN_EXPIRE (2 s), all of them, and nothing else closes them.
    await waitUntil(() => closed === N, 10_000, 'expiry');
    expect(pool.stats.connectionsExpired).toBe(N);
    expect(pool.connections).toBe(0);
  } finally {
    for (const s of sockets) s.destroy();
  }
});
