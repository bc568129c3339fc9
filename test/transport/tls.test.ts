import * as tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createResponse, SipRequest } from '../../src/message/index.js';
import { TlsError, type From, type PoolTlsOptions, type SocketPool } from '../../src/transport/index.js';
import { closeAll, createPool, LOOPBACKS, onCleanup, request, StreamPeer, waitUntil } from './helpers.js';
import { makeTestPki, type TestPki } from './tls-certs.js';

afterEach(closeAll);

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

/** A pool that answers every request with 200 and records where requests came from. */
async function echoPool(host: string, tlsOpts: PoolTlsOptions, limits = {}): Promise<{ pool: SocketPool; froms: From[] }> {
  const pool = await createPool({ proto: 'tls', host, port: 0, tls: tlsOpts, limits });
  const froms: From[] = [];
  pool.attach((msg, from) => {
    froms.push(from);
    if (msg.isRequest()) void pool.sendto(createResponse(msg, 200), from).catch(() => {});
  });
  return { pool, froms };
}

/** Connect a raw TLS client, send one request: 'answered' when a response comes back, else 'refused'. */
async function tryClient(port: number, host: string, opts: tls.ConnectionOptions): Promise<'answered' | 'refused'> {
  let peer: StreamPeer;
  try {
    peer = await StreamPeer.connectTls(port, host, { ca: pki.ca, ...opts });
  } catch {
    return 'refused';
  }
  peer.send(request({ transport: 'TLS' }));
  try {
    await peer.message(1, 3000);
    return 'answered';
  } catch {
    return 'refused';
  }
}

describe.each(LOOPBACKS)('TLS over %s', (_name, host) => {
  test('pool to pool: server verified, cert/key also the client credentials, peer cert in from.socket (issue 3 #5)', async () => {
    const b = await echoPool(host, { ...pki.b, ca: pki.ca, verifyClient: 1 });
    const a = await createPool({ proto: 'tls', host, port: 0, tls: { ...pki.a, ca: pki.ca } });
    const got: From[] = [];
    a.attach((_m, from) => got.push(from));
    await a.sendto(Buffer.from(request({ transport: 'TLS' })), { addr: host, port: b.pool.local.port });
    await waitUntil(() => got.length === 1);
    expect(got[0]!.proto).toBe('tls');
    const serverSide = b.froms[0]!.socket as tls.TLSSocket;
    expect(serverSide).toBeInstanceOf(tls.TLSSocket);
    expect(serverSide.getPeerCertificate().subject.CN).toBe('a');
    expect((got[0]!.socket as tls.TLSSocket).getPeerCertificate().subject.CN).toBe('b');
    // The connection is reused.
    await a.sendto(Buffer.from(request({ transport: 'TLS' })), { addr: host, port: b.pool.local.port });
    await waitUntil(() => got.length === 2);
    expect(a.stats.connectionsConnected).toBe(1);
    expect(b.pool.stats.connectionsAccepted).toBe(1);
  });

  test('verifyClient 0: no client certificate asked', async () => {
    const { pool, froms } = await echoPool(host, { ...pki.b, ca: pki.ca, verifyClient: 0 });
    expect(await tryClient(pool.local.port, host, {})).toBe('answered');
    expect(await tryClient(pool.local.port, host, { ...pki.rogue })).toBe('answered');
    const cert = (froms[0]!.socket as tls.TLSSocket).getPeerCertificate();
    expect(cert === null || Object.keys(cert).length === 0).toBe(true);
  });

  test('verifyClient 1: a verified client certificate is required', async () => {
    const { pool, froms } = await echoPool(host, { ...pki.b, ca: pki.ca, verifyClient: 1 });
    expect(await tryClient(pool.local.port, host, {})).toBe('refused');
    expect(await tryClient(pool.local.port, host, { ...pki.rogue })).toBe('refused');
    expect(await tryClient(pool.local.port, host, { ...pki.a })).toBe('answered');
    expect(froms).toHaveLength(1);
    expect((froms[0]!.socket as tls.TLSSocket).getPeerCertificate().subject.CN).toBe('a');
    await waitUntil(() => pool.stats.tlsFailures >= 2);
  });

  test('verifyClient -1: optional, but verified when sent', async () => {
    const { pool, froms } = await echoPool(host, { ...pki.b, ca: pki.ca, verifyClient: -1 });
    const errors: Error[] = [];
    pool.on('error', (e) => errors.push(e));
    expect(await tryClient(pool.local.port, host, {})).toBe('answered');
    expect(await tryClient(pool.local.port, host, { ...pki.rogue })).toBe('refused');
    expect(await tryClient(pool.local.port, host, { ...pki.a })).toBe('answered');
    expect(froms).toHaveLength(2);
    expect((froms[1]!.socket as tls.TLSSocket).getPeerCertificate().subject.CN).toBe('a');
    expect(pool.stats.tlsFailures).toBe(1);
    expect(errors.some((e) => e instanceof TlsError)).toBe(true);
  });

  test('outgoing TLS rejects a server with an untrusted certificate or the wrong name', async () => {
    const rogue = await echoPool(host, { ...pki.rogue });
    const wrongName = await echoPool(host, { ...pki.wrongName });
    const a = await createPool({ proto: 'tls', host, port: 0, tls: { ...pki.a, ca: pki.ca } });
    const req = Buffer.from(request({ transport: 'TLS' }));
    await expect(a.sendto(req, { addr: host, port: rogue.pool.local.port })).rejects.toBeInstanceOf(TlsError);
    await expect(a.sendto(req, { addr: host, port: wrongName.pool.local.port })).rejects.toMatchObject({ code: 'ERR_SIP_TLS' });
    expect(a.stats).toMatchObject({ connectFailures: 2, tlsFailures: 2, connectionsOpen: 0 });
    // Opting out of verification (rejectUnauthorized: false) connects.
    const lax = await createPool({ proto: 'tls', host, port: 0, tls: { ...pki.a, rejectUnauthorized: false } });
    await lax.sendto(req, { addr: host, port: rogue.pool.local.port });
    await waitUntil(() => rogue.froms.length === 1);
  });

  test('servername: the certificate is checked against it (not the address), and a connection serves only the name it was verified for', async () => {
    // wrongName's certificate names other.example only; the connection goes to the loopback address.
    const b = await echoPool(host, { ...pki.wrongName });
    const a = await createPool({ proto: 'tls', host, port: 0, tls: { ...pki.a, ca: pki.ca } });
    const got: From[] = [];
    a.attach((_m, from) => got.push(from));
    const req = (): Buffer => Buffer.from(request({ transport: 'TLS' }));
    const port = b.pool.local.port;
    await a.sendto(req(), { addr: host, port, servername: 'other.example' });
    await waitUntil(() => got.length === 1);
    expect((got[0]!.socket as tls.TLSSocket).servername).toBe('other.example');
    // Reused for the same name...
    await a.sendto(req(), { addr: host, port, servername: 'Other.Example' });
    await waitUntil(() => got.length === 2);
    expect(a.stats.connectionsConnected).toBe(1);
    // ...but not for another name, nor for the bare address: new connections, which fail those checks.
    await expect(a.sendto(req(), { addr: host, port, servername: 'localhost' })).rejects.toMatchObject({
      code: 'ERR_SIP_TLS',
      cause: { code: 'ERR_TLS_CERT_ALTNAME_INVALID' },
    });
    await expect(a.sendto(req(), { addr: host, port })).rejects.toMatchObject({ cause: { code: 'ERR_TLS_CERT_ALTNAME_INVALID' } });
    expect(a.stats).toMatchObject({ connectionsConnected: 1, tlsFailures: 2 });
  });

  test('an IP-literal servername is checked against the certificate but never sent as SNI (RFC 6066 §3)', async () => {
    const b = await echoPool(host, { ...pki.b });
    const a = await createPool({ proto: 'tls', host, port: 0, tls: { ...pki.a, ca: pki.ca } });
    await a.sendto(Buffer.from(request({ transport: 'TLS' })), { addr: host, port: b.pool.local.port, servername: host });
    await waitUntil(() => b.froms.length === 1);
    expect((b.froms[0]!.socket as tls.TLSSocket).servername).toBe(false);
    // The certificate names 127.0.0.1 and ::1, not 192.0.2.1: refused although the address matches.
    await expect(
      a.sendto(Buffer.from(request({ transport: 'TLS' })), { addr: host, port: b.pool.local.port, servername: '192.0.2.1' }),
    ).rejects.toMatchObject({ cause: { code: 'ERR_TLS_CERT_ALTNAME_INVALID' } });
  });

  test('stream handling over TLS: keep-alive pong, 400 then close', async () => {
    const { pool } = await echoPool(host, { ...pki.b });
    const peer = await StreamPeer.connectTls(pool.local.port, host, { ca: pki.ca });
    peer.send('\r\n\r\n');
    await waitUntil(() => peer.pongs === 1);
    peer.send(request({ transport: 'TLS' }));
    expect((await peer.message(1)).isResponse()).toBe(true);
    peer.send(request({ transport: 'TLS' }).replace('Content-Length: 0\r\n', ''));
    const r = await peer.message(2);
    expect(r.isResponse() && r.status).toBe(400);
    await peer.waitEnded();
  });
});

test('outgoing TLS sends SNI for host names only, never for IP literals', async () => {
  const names: (string | false | null | undefined)[] = [];
  const server = tls.createServer({ ...pki.b }, (s) => {
    names.push(s.servername);
    s.on('error', () => {});
    s.on('data', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  onCleanup(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  // Two pools: one pool would reuse the first connection for the second send (same peer).
  const byName = await createPool({ proto: 'tls', host: '127.0.0.1', port: 0, tls: { ...pki.a, ca: pki.ca } });
  const byIp = await createPool({ proto: 'tls', host: '127.0.0.1', port: 0, tls: { ...pki.a, ca: pki.ca } });
  await byName.sendto(Buffer.from(request({ transport: 'TLS' })), { addr: 'localhost', port });
  await waitUntil(() => names.length === 1);
  await byIp.sendto(Buffer.from(request({ transport: 'TLS' })), { addr: '127.0.0.1', port });
  await waitUntil(() => names.length === 2);
  expect(names[0]).toBe('localhost');
  expect(names[1] || undefined).toBeUndefined();
  // After connecting, the name's connection is also found under its address.
  await byName.sendto(Buffer.from(request({ transport: 'TLS' })), { addr: '127.0.0.1', port });
  expect(byName.stats.connectionsConnected).toBe(1);
});

test('a TLS response to a request received over TLS reuses its connection (no new connect)', async () => {
  const { pool } = await echoPool('127.0.0.1', { ...pki.b });
  const peer = await StreamPeer.connectTls(pool.local.port, '127.0.0.1', { ca: pki.ca });
  peer.send(request({ transport: 'TLS' }));
  await peer.message(1);
  expect(pool.stats.connectionsConnected).toBe(0);
  const req = new SipRequest({ method: 'OPTIONS', uri: 'sip:x@y', headers: { Via: 'SIP/2.0/TLS a:1;branch=z9hG4bKz', 'Call-ID': 'c', CSeq: '1 OPTIONS' } });
  await pool.sendto(req, { addr: '127.0.0.1', port: peer.socket.localPort! });
  expect((await peer.message(2)).isRequest()).toBe(true);
});

test('half-close over TLS: a client that sends a request and FIN still gets the response, then the connection closes', async () => {
  // Inbound TLS sockets are not half-open during the handshake (see tls-scan.test.ts), and are again once secure.
  const pool = await createPool({ proto: 'tls', host: '127.0.0.1', port: 0, tls: { ...pki.b }, limits: { MIN_EXPIRE: 0.2, MAX_EXPIRE: 0.4 } });
  pool.attach((msg, from) => {
    if (msg.isRequest()) setTimeout(() => void pool.sendto(createResponse(msg, 200), from).catch(() => {}), 50);
  });
  const peer = await StreamPeer.connectTls(pool.local.port, '127.0.0.1', { ca: pki.ca, allowHalfOpen: true } as tls.ConnectionOptions);
  peer.send(request({ transport: 'TLS' }));
  peer.socket.end();
  const r = await peer.message(1);
  expect(r.isResponse() && r.status).toBe(200);
  await peer.waitClosed();
  await waitUntil(() => pool.connections === 0);
});
