import { afterEach, describe, expect, test } from 'vitest';
import { createResponse, parseMessage, type SipMessage } from '../../src/message/index.js';
import {
  HandlerError,
  InvalidDestinationError,
  PoolClosedError,
  SendFailedError,
  type From,
} from '../../src/transport/index.js';
import { closeAll, createPool, LOOPBACKS, request, sleep, UdpPeer, waitUntil } from './helpers.js';

afterEach(closeAll);

describe.each(LOOPBACKS)('UDP over %s', (_name, host) => {
  test('one master socket receives from anyone and sends to anyone (issue 3 #1)', async () => {
    const pool = await createPool({ proto: 'udp', host, port: 0 });
    expect(pool.local).toEqual({ addr: host, port: expect.any(Number), family: host === '::1' ? 6 : 4, proto: 'udp' });
    expect(pool.local.port).toBeGreaterThan(0);
    const got: { msg: SipMessage; from: From }[] = [];
    pool.attach((msg, from) => got.push({ msg, from }));
    const p1 = await UdpPeer.bind(host);
    const p2 = await UdpPeer.bind(host);
    await p1.send(request({ transport: 'UDP' }), pool.local.port, host);
    await p2.send(request({ transport: 'UDP' }), pool.local.port, host);
    await waitUntil(() => got.length === 2);
    expect(got.map((g) => g.from.port).sort()).toEqual([p1.port, p2.port].sort());
    for (const g of got) {
      expect(g.from).toMatchObject({ addr: host, family: host === '::1' ? 6 : 4, proto: 'udp' });
      expect(g.from.socket).toBe(pool.master);
      await pool.sendto(createResponse(g.msg as never, 200), g.from);
    }
    await p1.waitFor(1);
    await p2.waitFor(1);
    expect(p1.received[0]!.msg).toMatch(/^SIP\/2\.0 200 OK\r\n/);
    expect(p1.received[0]!.port).toBe(pool.local.port);
    expect(pool.stats.messagesIn).toBe(2);
    expect(pool.stats.messagesOut).toBe(2);
  });

  test('connected: true uses a socket connected to one peer (issue 3 #1)', async () => {
    const peer = await UdpPeer.bind(host);
    const other = await UdpPeer.bind(host);
    const pool = await createPool({ proto: 'udp', host, port: 0, connected: true, dst: { addr: host, port: peer.port } });
    const got: From[] = [];
    pool.attach((_m, from) => got.push(from));
    // The destination given to sendto does not matter: the socket is connected.
    await pool.sendto(Buffer.from(request({ transport: 'UDP' })), { addr: host, port: other.port });
    await peer.waitFor(1);
    await other.send(request({ transport: 'UDP' }), pool.local.port, host);
    await peer.send(request({ transport: 'UDP' }), pool.local.port, host);
    await waitUntil(() => got.length === 1);
    await sleep(50);
    expect(got).toHaveLength(1);
    expect(got[0]!.port).toBe(peer.port);
    expect(other.received).toHaveLength(0);
  });

  test('dst without connected forces every send to dst and drops other senders (issue 3 #4)', async () => {
    const peer = await UdpPeer.bind(host);
    const other = await UdpPeer.bind(host);
    const pool = await createPool({ proto: 'udp', host, port: 0, dst: { addr: host, port: peer.port } });
    const got: From[] = [];
    pool.attach((_m, from) => got.push(from));
    await pool.sendto(Buffer.from(request({ transport: 'UDP' })), { addr: host, port: other.port });
    await peer.waitFor(1);
    await other.send(request({ transport: 'UDP' }), pool.local.port, host);
    await peer.send(request({ transport: 'UDP' }), pool.local.port, host);
    await waitUntil(() => got.length === 1 && pool.stats.foreignDropped === 1);
    expect(got[0]!.port).toBe(peer.port);
    expect(other.received).toHaveLength(0);
  });

  test('malformed datagrams: 400 when answerable, dropped and counted otherwise (issue 3 #8)', async () => {
    const pool = await createPool({ proto: 'udp', host, port: 0, limits: { MAX_SIP_BODY: 100 } });
    const got: SipMessage[] = [];
    pool.attach((m) => got.push(m));
    const peer = await UdpPeer.bind(host);
    const send = (s: string): Promise<void> => peer.send(s, pool.local.port, host);

    // Readable Via/From/To/Call-ID/CSeq but a bad Max-Forwards: 400 back to the sender.
    await send(request({ transport: 'UDP' }).replace('Max-Forwards: 70', 'Max-Forwards: 999'));
    await peer.waitFor(1);
    const r400 = parseMessage(Buffer.from(peer.received[0]!.msg, 'latin1'));
    expect(r400.isResponse() && r400.status).toBe(400);
    // Body over MAX_SIP_BODY: 513.
    await send(request({ transport: 'UDP', body: 'x'.repeat(200) }));
    await peer.waitFor(2);
    expect(peer.received[1]!.msg).toMatch(/^SIP\/2\.0 513 /);
    // Garbage and an unparsable response: dropped, nothing sent back.
    await send('hello world\r\n\r\n');
    await send('SIP/2.0 abc Nope\r\nVia: SIP/2.0/UDP x\r\n\r\n');
    // Keep-alives are neither messages nor errors.
    await send('\r\n\r\n');
    await waitUntil(() => pool.stats.datagramsDropped === 2 && pool.stats.keepAlives === 1);
    await sleep(30);
    expect(peer.received).toHaveLength(2);
    expect(got).toHaveLength(0);
    expect(pool.stats).toMatchObject({ parseErrors: 4, errorResponses: 2, datagramsDropped: 2, messagesIn: 0 });
  });

  test('every sendto settles with a typed error when it cannot send', async () => {
    const pool = await createPool({ proto: 'udp', host, port: 0 });
    const buf = Buffer.from(request({ transport: 'UDP' }));
    await expect(pool.sendto(buf, { addr: host, port: 0 })).rejects.toBeInstanceOf(InvalidDestinationError);
    await expect(pool.sendto(buf)).rejects.toBeInstanceOf(InvalidDestinationError);
    if (host === '127.0.0.1') {
      await expect(pool.sendto(buf, { addr: '::1', port: 5 })).rejects.toBeInstanceOf(InvalidDestinationError);
    }
    // Too big for a datagram.
    await expect(pool.sendto(Buffer.alloc(70000, 65), { addr: host, port: 9 })).rejects.toBeInstanceOf(SendFailedError);
    // Later sends still work, in order.
    const peer = await UdpPeer.bind(host);
    await Promise.all([1, 2, 3].map((i) => pool.sendto(Buffer.from(`m${i}`.padEnd(8, '.')), { addr: host, port: peer.port })));
    await peer.waitFor(3);
    await pool.close();
    await expect(pool.sendto(buf, { addr: host, port: peer.port })).rejects.toBeInstanceOf(PoolClosedError);
    await expect(pool.sendto(buf, { addr: host, port: peer.port })).rejects.toMatchObject({ code: 'ERR_SIP_POOL_CLOSED' });
  });

  test('a throwing handler is reported, not thrown; detach drops and counts', async () => {
    const pool = await createPool({ proto: 'udp', host, port: 0 });
    const errors: Error[] = [];
    pool.on('error', (e) => errors.push(e));
    pool.attach(() => {
      throw new Error('boom');
    });
    const peer = await UdpPeer.bind(host);
    await peer.send(request({ transport: 'UDP' }), pool.local.port, host);
    await waitUntil(() => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(HandlerError);
    expect(pool.stats.handlerErrors).toBe(1);
    pool.detach();
    await peer.send(request({ transport: 'UDP' }), pool.local.port, host);
    await waitUntil(() => pool.stats.datagramsDropped === 1);
  });
});

test('UDP dual-stack: a v4 peer of a "::" pool is reported and answered as IPv4', async () => {
  const pool = await createPool({ proto: 'udp', host: '::', port: 0 });
  const got: From[] = [];
  pool.attach((_m, from) => got.push(from));
  const peer = await UdpPeer.bind('127.0.0.1');
  await peer.send(request({ transport: 'UDP' }), pool.local.port, '127.0.0.1');
  await waitUntil(() => got.length === 1);
  expect(got[0]).toMatchObject({ addr: '127.0.0.1', family: 4, port: peer.port });
  await pool.sendto(Buffer.from('SIP/2.0 200 OK\r\n\r\n'), got[0]!);
  await peer.waitFor(1);
});

test('UDP to a host name resolves it first', async () => {
  const pool = await createPool({ proto: 'udp', host: '127.0.0.1', port: 0 });
  const peer = await UdpPeer.bind('127.0.0.1');
  await pool.sendto(Buffer.from('hello'), { addr: 'localhost', port: peer.port });
  await peer.waitFor(1);
});

test('UDP: a response without destination goes to its Via (received, rport)', async () => {
  const pool = await createPool({ proto: 'udp', host: '127.0.0.1', port: 0 });
  const peer = await UdpPeer.bind('127.0.0.1');
  const res = parseMessage(
    `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP nowhere.invalid:9;branch=z9hG4bK1;received=127.0.0.1;rport=${peer.port}\r\n` +
      'Call-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
  );
  await pool.sendto(res);
  await peer.waitFor(1);
});

describe('UDP close', () => {
  test('a datagram handed to sendto() just before close() still leaves (a draining server\'s last response)', async () => {
    const pool = await createPool({ proto: 'udp', host: '127.0.0.1', port: 0 });
    const peer = await UdpPeer.bind('127.0.0.1');
    const sent = pool.sendto(Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'), { addr: '127.0.0.1', port: peer.port });
    await pool.close();
    await sent;
    await waitUntil(() => peer.received.length === 1);
    expect(peer.received[0]!.msg).toMatch(/^SIP\/2.0 200 OK/);
  });
});

describe('UDP dst given as a host name', () => {
  test('is resolved once at create: replies from its address are accepted, others dropped, sends go there', async () => {
    const peer = await UdpPeer.bind('127.0.0.1');
    const other = await UdpPeer.bind('127.0.0.1');
    const pool = await createPool({ proto: 'udp', host: '127.0.0.1', port: 0, dst: { addr: 'localhost', port: peer.port } });
    const got: From[] = [];
    pool.attach((_m, from) => got.push(from));
    await pool.sendto(Buffer.from(request({ transport: 'UDP' })));
    await peer.waitFor(1);
    // The peer answers from 127.0.0.1: that is "localhost" (a name never equals an address).
    await peer.send(request({ transport: 'UDP' }), pool.local.port, '127.0.0.1');
    await other.send(request({ transport: 'UDP' }), pool.local.port, '127.0.0.1');
    await waitUntil(() => got.length === 1 && pool.stats.foreignDropped === 1);
    expect(got[0]!.port).toBe(peer.port);
  });
});

describe('UDP socket buffers', () => {
  test('UDP_RCVBUF / UDP_SNDBUF size the master socket (Linux reports twice the size asked for)', async () => {
    const plain = await createPool({ proto: 'udp', host: '127.0.0.1', port: 0 });
    const sized = await createPool({ proto: 'udp', host: '127.0.0.1', port: 0, limits: { UDP_RCVBUF: 65536, UDP_SNDBUF: 32768 } });
    const ps = plain.master as import('node:dgram').Socket;
    const ss = sized.master as import('node:dgram').Socket;
    expect(ss.getRecvBufferSize()).toBe(2 * 65536);
    expect(ss.getSendBufferSize()).toBe(2 * 32768);
    expect(ps.getRecvBufferSize()).not.toBe(2 * 65536);
  });
});
