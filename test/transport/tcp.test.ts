import * as net from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { createResponse, SipRequest, type SipMessage } from '../../src/message/index.js';
import { ConnectionClosedError, QueueFullError, type From, type SocketPool } from '../../src/transport/index.js';
import { closeAll, createPool, LOOPBACKS, onCleanup, rawListener, request, sleep, StreamPeer, waitUntil } from './helpers.js';

afterEach(closeAll);

type Got = { msg: SipMessage; from: From };

function collect(pool: SocketPool): Got[] {
  const got: Got[] = [];
  pool.attach((msg, from) => got.push({ msg, from }));
  return got;
}

const hostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

describe.each(LOOPBACKS)('TCP over %s', (_name, host) => {
  test('inbound connections are accepted and answered on the same connection (issue 3 #2, #3)', async () => {
    const pool = await createPool({ proto: 'tcp', host, port: 0 });
    const got = collect(pool);
    const peer = await StreamPeer.connect(pool.local.port, host);
    peer.send(request());
    await waitUntil(() => got.length === 1);
    const { msg, from } = got[0]!;
    expect(from).toMatchObject({ addr: host, port: peer.socket.localPort, family: host === '::1' ? 6 : 4, proto: 'tcp' });
    expect(from.socket).toBeInstanceOf(net.Socket);
    await pool.sendto(createResponse(msg as SipRequest, 200), from);
    const res = await peer.message();
    expect(res.isResponse() && res.status).toBe(200);
    expect(pool.stats).toMatchObject({ connectionsAccepted: 1, connectionsOpen: 1, connectionsConnected: 0 });
  });

  test('an outgoing request reuses an inbound connection from that peer', async () => {
    const pool = await createPool({ proto: 'tcp', host, port: 0 });
    const got = collect(pool);
    const peer = await StreamPeer.connect(pool.local.port, host);
    peer.send(request());
    await waitUntil(() => got.length === 1);
    await pool.sendto(new SipRequest({ method: 'OPTIONS', uri: 'sip:x@y', headers: { Via: 'SIP/2.0/TCP a:1;branch=z9hG4bKout', 'Call-ID': 'c', CSeq: '1 OPTIONS' } }), got[0]!.from);
    const m = await peer.message();
    expect(m.isRequest() && m.method).toBe('OPTIONS');
    expect(pool.stats.connectionsConnected).toBe(0);
  });

  test('outgoing connections are opened once and reused; responses come back on them', async () => {
    const a = await createPool({ proto: 'tcp', host, port: 0 });
    const b = await createPool({ proto: 'tcp', host, port: 0 });
    const gotA = collect(a);
    b.attach((msg, from) => {
      if (msg.isRequest()) void b.sendto(createResponse(msg, 200), from);
    });
    const dst = { addr: host, port: b.local.port };
    // Concurrent sends to a peer being connected share one connect.
    await Promise.all(Array.from({ length: 20 }, () => a.sendto(Buffer.from(request()), dst)));
    await waitUntil(() => gotA.length === 20);
    await a.sendto(Buffer.from(request()), dst);
    await waitUntil(() => gotA.length === 21);
    expect(gotA.every((g) => g.msg.isResponse() && g.from.port === b.local.port)).toBe(true);
    expect(a.stats.connectionsConnected).toBe(1);
    expect(b.stats.connectionsAccepted).toBe(1);
    expect(a.connections).toBe(1);
    expect(b.connections).toBe(1);
  });

  test('responses follow the tid of their request, per connection (RFC 3261 branch and Call-ID/CSeq)', async () => {
    const pool = await createPool({ proto: 'tcp', host, port: 0 });
    const got = collect(pool);
    const p1 = await StreamPeer.connect(pool.local.port, host);
    const p2 = await StreamPeer.connect(pool.local.port, host);
    // Same sent-by, different branches; and an RFC 2543 request (no magic cookie) on each.
    p1.send(request({ branch: 'z9hG4bKone' }));
    await waitUntil(() => got.length === 1);
    p2.send(request({ branch: 'z9hG4bKtwo' }));
    await waitUntil(() => got.length === 2);
    p1.send(request({ branch: null, callId: 'old-1', cseq: 7 }));
    await waitUntil(() => got.length === 3);
    p2.send(request({ branch: 'oldstyle', callId: 'old-2', cseq: 7 }));
    await waitUntil(() => got.length === 4);
    // Answer in reverse order and without a destination: the tid alone routes them.
    for (const g of got.slice().reverse()) await pool.sendto(createResponse(g.msg as SipRequest, 200));
    await p1.message(2);
    await p2.message(2);
    expect(p1.messages.map((m) => m.callId)).toEqual([got[2]!.msg.callId, got[0]!.msg.callId]);
    expect(p2.messages.map((m) => m.callId)).toEqual([got[3]!.msg.callId, got[1]!.msg.callId]);
    expect(pool.tidOf(got[0]!.msg)).toBe(`z9hG4bKone client.invalid:5060`);
    expect(pool.tidOf(got[2]!.msg)).toBe('old-1 #7');
  });

  test('tid lists hold MAX_TIDLIST ids and never drop an id another connection owns', async () => {
    const { port: lport, peers: viaPeer } = await rawListener(host);
    {
      const pool = await createPool({ proto: 'tcp', host, port: 0, limits: { MAX_TIDLIST: 2 } });
      const got = collect(pool);
      const sentBy = hostPort(host, lport);
      const p1 = await StreamPeer.connect(pool.local.port, host);
      const p2 = await StreamPeer.connect(pool.local.port, host);
      const shared = request({ branch: 'z9hG4bKshared', sentBy });
      p1.send(shared);
      await waitUntil(() => got.length === 1);
      p2.send(shared); // a retransmission on another connection: p2 owns the id now
      await waitUntil(() => got.length === 2);
      p1.send(request({ branch: 'z9hG4bKp1a', sentBy }));
      p1.send(request({ branch: 'z9hG4bKp1b', sentBy })); // p1's list drops 'shared' (not its own anymore)
      p1.send(request({ branch: 'z9hG4bKp1c', sentBy })); // ... and drops p1a, which it owns
      await waitUntil(() => got.length === 5);
      await pool.sendto(createResponse(got[0]!.msg as SipRequest, 200));
      const onP2 = await p2.message(1);
      expect(onP2.isResponse() && onP2.topVia?.branch).toBe('z9hG4bKshared');
      // p1a was evicted from p1's list: without a destination its response goes where the Via says
      // (RFC 3261 §18.2.2). With got[2].from it would take p1, still open, which is right too.
      await pool.sendto(createResponse(got[2]!.msg as SipRequest, 200));
      await waitUntil(() => viaPeer.length === 1);
      const viaMsg = await viaPeer[0]!.message(1);
      expect(viaMsg.topVia?.branch).toBe('z9hG4bKp1a');
      // p1b / p1c are still routed to p1.
      await pool.sendto(createResponse(got[4]!.msg as SipRequest, 200));
      expect((await p1.message(1)).topVia?.branch).toBe('z9hG4bKp1c');
      expect(p1.messages).toHaveLength(1);
    }
  });

  test('a response whose connection is gone goes to Via received / sent-by, not the dead ephemeral port', async () => {
    const { port: lport, peers: arrived } = await rawListener(host);
    {
      const pool = await createPool({ proto: 'tcp', host, port: 0, limits: { MIN_EXPIRE: 0.2, MAX_EXPIRE: 0.4 } });
      const got = collect(pool);
      const client = await StreamPeer.connect(pool.local.port, host);
      const ephemeral = client.socket.localPort!;
      // sent-by names a host that does not resolve; received says where it really is; rport is the
      // ephemeral port and must not be used for TCP.
      client.send(request({ sentBy: `unknown.invalid:${lport}`, viaParams: `;received=${host};rport=${ephemeral}` }));
      await waitUntil(() => got.length === 1);
      client.socket.destroy();
      await waitUntil(() => pool.connections === 0);
      await pool.sendto(createResponse(got[0]!.msg as SipRequest, 486), got[0]!.from);
      await waitUntil(() => arrived.length === 1);
      const m = await arrived[0]!.message(1);
      expect(m.isResponse() && m.status).toBe(486);
      expect(pool.stats.connectionsConnected).toBe(1);
    }
  });

  test('stream framing: split reads, several messages per read, CRLF keep-alives (issue 3 #6)', async () => {
    const pool = await createPool({ proto: 'tcp', host, port: 0 });
    const got = collect(pool);
    const peer = await StreamPeer.connect(pool.local.port, host);
    const one = request({ body: 'v=0\r\n' });
    for (let i = 0; i < one.length; i += 7) {
      peer.send(one.slice(i, i + 7));
      await sleep(1);
    }
    await waitUntil(() => got.length === 1);
    expect(got[0]!.msg.body.toString()).toBe('v=0\r\n');
    peer.send(request() + request() + '\r\n\r\n' + request());
    await waitUntil(() => got.length === 4);
    await waitUntil(() => peer.pongs === 1);
    // A lone CRLF (a pong) gets nothing back.
    peer.send('\r\n');
    await sleep(30);
    expect(peer.pongs).toBe(1);
    expect(peer.raw).toBe('\r\n');
    expect(pool.stats.keepAlives).toBe(3);
  });

  test('over-limit request gets 513 then close; a well-framed malformed one gets 400 and the connection stays; garbage is closed', async () => {
    // Small expiry limits shorten the grace a closing connection gets to see the peer's FIN.
    const limits = { MAX_SIP_BODY: 100, MAX_SIP_HEADER: 2048, MIN_EXPIRE: 0.2, MAX_EXPIRE: 0.4 };
    const pool = await createPool({ proto: 'tcp', host, port: 0, limits });
    const got = collect(pool);
    const big = await StreamPeer.connect(pool.local.port, host);
    big.send(request({ body: 'x'.repeat(101) }));
    expect((await big.message(1)).isResponse() && (big.messages[0] as { status: number }).status).toBe(513);
    await big.waitEnded();

    const noLength = await StreamPeer.connect(pool.local.port, host);
    noLength.send(request().replace(/Content-Length: 0\r\n/, ''));
    const r = await noLength.message(1);
    expect(r.isResponse() && r.status).toBe(400);
    await noLength.waitEnded();

    // A well-framed message that does not parse: 400, and the connection stays open for the next one.
    const badParse = await StreamPeer.connect(pool.local.port, host);
    badParse.send(request().replace('Max-Forwards: 70', 'Max-Forwards: 9999'));
    const bad = await badParse.message(1);
    expect(bad.isResponse() && bad.status).toBe(400);
    badParse.send(request());
    await waitUntil(() => got.length > 0, 3000, 'the next request on the same connection');
    expect(badParse.ended).toBe(false);

    // A header that never ends: closed once MAX_SIP_HEADER bytes are buffered, no answer possible.
    const endless = await StreamPeer.connect(pool.local.port, host);
    endless.send('INVITE sip:x SIP/2.0\r\nX: ' + 'y'.repeat(4096));
    await endless.waitEnded();
    expect(endless.raw).toBe('');

    const garbage = await StreamPeer.connect(pool.local.port, host);
    garbage.send(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x0d, 0x41]));
    garbage.send('\r\n\r\n'.repeat(1) + 'not sip at all\r\n\r\n');
    await garbage.waitEnded();
    expect(got).toHaveLength(1); // the good request after the bad one
    badParse.socket.destroy();
    await waitUntil(() => pool.connections === 0);
    expect(pool.stats.connectionsFailed).toBe(4);
    expect(pool.stats.errorResponses).toBe(3);
  });

  test('a well-framed SIP message that is never answered (malformed ACK, malformed response) is dropped; the connection serves the next request', async () => {
    const pool = await createPool({ proto: 'tcp', host, port: 0 });
    const got: Got[] = [];
    pool.attach((msg, from) => {
      got.push({ msg, from });
      if (msg.isRequest()) void pool.sendto(createResponse(msg, 200), from).catch(() => {});
    });
    const peer = await StreamPeer.connect(pool.local.port, host);
    peer.send(request({ method: 'ACK' }).replace('Max-Forwards: 70', 'Max-Forwards: 9999'));
    peer.send(
      'SIP/2.0 abc OK\r\nVia: SIP/2.0/TCP client.invalid:5060;branch=z9hG4bKr\r\nFrom: <sip:a@b>;tag=1\r\n' +
        'To: <sip:c@d>;tag=2\r\nCall-ID: r1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
    );
    peer.send(request());
    const res = await peer.message(1);
    expect(res.isResponse() && res.status).toBe(200);
    expect(got).toHaveLength(1);
    expect(peer.ended).toBe(false);
    expect(pool.stats).toMatchObject({ parseErrors: 2, errorResponses: 0, connectionsFailed: 0, connectionsOpen: 1 });
  });

  test('a request without Via is not routable: closed (no 400 possible)', async () => {
    const pool = await createPool({ proto: 'tcp', host, port: 0 });
    const got = collect(pool);
    const peer = await StreamPeer.connect(pool.local.port, host);
    peer.send(request().replace(/Via: [^\r]*\r\n/, ''));
    await peer.waitEnded();
    expect(got).toHaveLength(0);
    expect(peer.raw).toBe('');
  });

  test('the write queue is bounded (MAX_QUEUED_BYTES) for a peer that does not read', async () => {
    const pool = await createPool({ proto: 'tcp', host, port: 0, limits: { MAX_QUEUED_BYTES: 100_000 } });
    const got = collect(pool);
    const peer = await StreamPeer.connect(pool.local.port, host);
    peer.socket.pause();
    peer.send(request());
    await waitUntil(() => got.length === 1);
    const chunk = Buffer.alloc(60_000, 0x41);
    const results: Promise<unknown>[] = [];
    let full: unknown;
    for (let i = 0; i < 2000 && full === undefined; i++) {
      const p = pool.sendto(chunk, got[0]!.from);
      results.push(p.catch((e) => e));
      await Promise.race([p.catch((e) => (full = e)), sleep(0)]);
    }
    expect(full).toBeInstanceOf(QueueFullError);
    expect(pool.stats.queueFull).toBeGreaterThan(0);
    // The peer reads again: everything queued before the limit is written.
    peer.socket.resume();
    const settled = await Promise.all(results);
    expect(settled.filter((x) => x instanceof QueueFullError).length).toBe(1);
    expect(settled.filter((x) => x === undefined).length).toBe(results.length - 1);
  });

  test('half-close: a peer that sends a request and FIN still gets the response, then the connection closes', async () => {
    const pool = await createPool({ proto: 'tcp', host, port: 0, limits: { MIN_EXPIRE: 0.2, MAX_EXPIRE: 0.4 } });
    pool.attach((msg, from) => {
      if (msg.isRequest()) setTimeout(() => void pool.sendto(createResponse(msg, 200), from), 50);
    });
    const peer = await StreamPeer.connect(pool.local.port, host);
    peer.send(request());
    peer.socket.end();
    const r = await peer.message(1);
    expect(r.isResponse() && r.status).toBe(200);
    await peer.waitClosed();
    await waitUntil(() => pool.connections === 0);
  });

  test('a peer that vanishes mid-write rejects that write and nothing else (issue 3 #9)', async () => {
    const pool = await createPool({ proto: 'tcp', host, port: 0, limits: { MAX_QUEUED_BYTES: 1 << 26 } });
    const got = collect(pool);
    const gone = await StreamPeer.connect(pool.local.port, host);
    const ok = await StreamPeer.connect(pool.local.port, host);
    gone.socket.pause();
    gone.send(request());
    ok.send(request());
    await waitUntil(() => got.length === 2);
    const fromGone = got.find((g) => g.from.port === gone.socket.localPort)!.from;
    const fromOk = got.find((g) => g.from.port === ok.socket.localPort)!.from;
    // Fill the kernel buffers so that the next write stays pending, then the peer resets.
    const big = Buffer.alloc(1 << 20, 0x42);
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 64; i++) pending.push(pool.sendto(big, fromGone).then(() => 'ok', (e) => e));
    await sleep(20);
    gone.socket.resetAndDestroy();
    const outcomes = await Promise.all(pending);
    expect(outcomes.some((o) => o instanceof ConnectionClosedError)).toBe(true);
    expect(outcomes.every((o) => o === 'ok' || o instanceof ConnectionClosedError)).toBe(true);
    // The other connection is untouched.
    await pool.sendto(createResponse(got.find((g) => g.from === fromOk)!.msg as SipRequest, 200), fromOk);
    expect((await ok.message(1)).isResponse()).toBe(true);
  });
});

describe.each(LOOPBACKS)('TCP connection loss over %s', (_name, host) => {
  test('a connection closing under held transactions reports exactly their ids (connectionLost)', async () => {
    const pool = await createPool({ proto: 'tcp', host, port: 0 });
    const got = collect(pool);
    const lost: { tids: string[]; err: Error }[] = [];
    pool.on('connectionLost', (tids, err) => lost.push({ tids, err }));
    const a = await StreamPeer.connect(pool.local.port, host);
    const b = await StreamPeer.connect(pool.local.port, host);
    a.send(request());
    b.send(request());
    await waitUntil(() => got.length === 2);
    const onA = got.find((g) => g.from.port === a.socket.localPort)!;
    const onB = got.find((g) => g.from.port === b.socket.localPort)!;
    const tidA = pool.tidOf(onA.msg)!;
    expect(pool.hold(tidA)).toBe(true);
    expect(pool.hold(pool.tidOf(onB.msg)!)).toBe(true);
    a.socket.resetAndDestroy();
    await waitUntil(() => lost.length > 0);
    expect(lost.map((l) => l.tids)).toEqual([[tidA]]);
    expect(lost[0]!.err).toBeInstanceOf(ConnectionClosedError);
    // Unheld connections closing say nothing.
    const c = await StreamPeer.connect(pool.local.port, host);
    c.send(request());
    await waitUntil(() => got.length === 3);
    c.socket.destroy();
    await sleep(50);
    expect(lost).toHaveLength(1);
  });
});

describe('TCP dst restriction (issue 3 #4)', () => {
  // A host name is resolved when the pool is created: its address is what inbound traffic matches.
  test.each(['127.0.0.1', 'localhost'])('dst %s: inbound TCP compares the address only; other addresses are dropped; sends go to dst', async (dstAddr) => {
    const target = await createPool({ proto: 'tcp', host: '127.0.0.1', port: 0 });
    const tgot = collect(target);
    const pool = await createPool({ proto: 'tcp', host: '127.0.0.1', port: 0, dst: { addr: dstAddr, port: target.local.port } });
    const got = collect(pool);
    // Same address, ephemeral port: accepted.
    const friend = await StreamPeer.connect(pool.local.port, '127.0.0.1');
    friend.send(request());
    await waitUntil(() => got.length === 1);
    // Another loopback address: dropped.
    const stranger = await StreamPeer.connect(pool.local.port, '127.0.0.1', { localAddress: '127.0.0.2' });
    stranger.send(request());
    await stranger.waitEnded();
    expect(got).toHaveLength(1);
    expect(pool.stats.foreignDropped).toBe(1);
    // Whatever the caller says, a request goes to dst.
    await pool.sendto(Buffer.from(request()), { addr: '127.0.0.1', port: 9 });
    await waitUntil(() => tgot.length === 1);
  });
});

test('TCP dual-stack: a v4 client of a "::" listener is reported as IPv4 and reused by address', async () => {
  const pool = await createPool({ proto: 'tcp', host: '::', port: 0 });
  const got = collect(pool);
  const peer = await StreamPeer.connect(pool.local.port, '127.0.0.1');
  peer.send(request());
  await waitUntil(() => got.length === 1);
  expect(got[0]!.from).toMatchObject({ addr: '127.0.0.1', family: 4, port: peer.socket.localPort });
  await pool.sendto(Buffer.from(request()), { addr: '127.0.0.1', port: peer.socket.localPort! });
  expect((await peer.message(1)).isRequest()).toBe(true);
  expect(pool.stats.connectionsConnected).toBe(0);
});

test('a response whose connection is gone goes to the source address, never to a received the peer wrote (issue 17 #2)', async () => {
  // The third party on 127.0.0.2:P; the client's own listener on 127.0.0.1:P (retry if P is taken there).
  let third: { port: number; peers: StreamPeer[] } | undefined;
  const own: StreamPeer[] = [];
  for (let i = 0; third === undefined; i++) {
    const t = await rawListener('127.0.0.2');
    const s = net.createServer((c) => own.push(new StreamPeer(c)));
    const ok = await new Promise<boolean>((r) => s.once('error', () => r(false)).listen(t.port, '127.0.0.1', () => r(true)));
    if (ok) {
      onCleanup(() => new Promise<void>((r) => s.close(() => r())));
      third = t;
    } else if (i === 10) throw new Error('no port free on both addresses');
  }
  // The pool alone: nobody stamped the Via, so the forged received is still in it.
  const pool = await createPool({ proto: 'tcp', host: '127.0.0.1', port: 0 });
  const got = collect(pool);
  const client = await StreamPeer.connect(pool.local.port, '127.0.0.1');
  client.send(request({ sentBy: `127.0.0.1:${third.port}`, viaParams: ';received=127.0.0.2' }));
  await waitUntil(() => got.length === 1);
  client.socket.resetAndDestroy();
  await waitUntil(() => pool.connections === 0);
  await pool.sendto(createResponse(got[0]!.msg as SipRequest, 486), got[0]!.from);
  await waitUntil(() => own.length + third.peers.length > 0);
  expect(third.peers).toHaveLength(0);
  expect((await own[0]!.message(1)).isResponse()).toBe(true);
});
