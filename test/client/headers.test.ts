// What SipClient puts on the wire (RFC 3261 §8.1.1), seen by raw UDP/TCP/TLS peers, and how it
// picks the transport and destination (URI `;transport=`, `sips:`, Route, explicit overrides).
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResponse, SipClient, SipClientClosedError, SipRequest, SipResponseError, type SipClientRequest, type SipResponse } from 'nestjs-sip';
import { makeTestPki, type TestPki } from '../transport/tls-certs.js';
import { rawStreamPeer, rawUdpPeer, type RawPeer, type Received } from './support.js';

let pki: TestPki;
let udp: RawPeer;
let tcp: RawPeer;
let tlsPeer: RawPeer;
const clients: SipClient[] = [];
const newClient = (o: ConstructorParameters<typeof SipClient>[0] = {}): SipClient => {
  const c = new SipClient({ localHost: '127.0.0.1', tls: { ca: pki.ca }, ...o });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  pki = makeTestPki();
  udp = await rawUdpPeer();
  tcp = await rawStreamPeer();
  tlsPeer = await rawStreamPeer(pki.a);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([udp.close(), tcp.close(), tlsPeer.close()]);
});

/** Send, let the peer capture the request and answer `status`, and return both. */
async function roundTrip(client: SipClient, peer: RawPeer, method: string, data: SipClientRequest | SipRequest, status = 200): Promise<{ got: Received; res: SipResponse }> {
  const done = lastValueFrom(client.send<SipResponse>(method, data)).catch((e: unknown) => (e instanceof SipResponseError ? e.response : Promise.reject(e as Error)));
  const got = await peer.next();
  got.reply(createResponse(got.req, status));
  return { got, res: await done };
}

const localPort = (c: SipClient, proto: 'udp' | 'tcp' | 'tls'): number => c.addresses.find((a) => a.proto === proto)!.port;

describe('SipClient fills in what RFC 3261 §8.1.1 requires', () => {
  it('OPTIONS over UDP: Via (z9hG4bK branch, rport), From tag, To, Call-ID, CSeq, Max-Forwards, Content-Length; no Contact', async () => {
    const c = newClient({ userAgent: 'nestjs-sip-test' });
    const uri = `sip:alice@127.0.0.1:${udp.port}`;
    const { got, res } = await roundTrip(c, udp, 'OPTIONS', { uri });
    const req = got.req;
    expect(res.status).toBe(200);
    expect(req.method).toBe('OPTIONS');
    expect(req.uri).toBe(uri);
    expect(req.via).toHaveLength(1);
    const via = req.topVia!;
    expect(via.transport).toBe('UDP');
    expect(via.host).toBe('127.0.0.1');
    expect(via.port).toBe(localPort(c, 'udp'));
    expect(via.branch).toMatch(/^z9hG4bK[A-Za-z0-9]{8,}/);
    expect(via.rport).toBeNull(); // ;rport without a value (RFC 3581)
    expect(req.from.tag).toMatch(/\w{4,}/);
    expect(req.to.uri).toBe(uri);
    expect(req.to.tag).toBeUndefined();
    expect(req.callId.length).toBeGreaterThan(8);
    expect(req.cseq.method).toBe('OPTIONS');
    expect(req.cseq.seq).toBeGreaterThan(0);
    expect(req.maxForwards).toBe(70);
    expect(req.headers.get('content-length')).toBe('0');
    expect(req.headers.has('contact')).toBe(false);
    expect(req.headers.get('user-agent')).toBe('nestjs-sip-test');
  });

  it('every request gets a new branch, Call-ID and From tag, and the CSeq number grows', async () => {
    const c = newClient();
    const a = (await roundTrip(c, udp, 'OPTIONS', { uri: `sip:127.0.0.1:${udp.port}` })).got.req;
    const b = (await roundTrip(c, udp, 'OPTIONS', { uri: `sip:127.0.0.1:${udp.port}` })).got.req;
    expect(a.topVia!.branch).not.toBe(b.topVia!.branch);
    expect(a.callId).not.toBe(b.callId);
    expect(a.from.tag).not.toBe(b.from.tag);
    expect(b.cseq.seq).toBeGreaterThan(a.cseq.seq);
  });

  it('INVITE and REGISTER get a Contact for the leg they leave on (UDP, TCP, TLS)', async () => {
    const c = newClient({ from: '"Nest" <sip:nest@example.com>' });
    for (const [peer, uri, contact] of [
      [udp, `sip:bob@127.0.0.1:${udp.port}`, (p: number) => `<sip:nest@127.0.0.1:${p}>`],
      [tcp, `sip:bob@127.0.0.1:${tcp.port};transport=tcp`, (p: number) => `<sip:nest@127.0.0.1:${p};transport=tcp>`],
      [tlsPeer, `sips:bob@127.0.0.1:${tlsPeer.port}`, (p: number) => `<sips:nest@127.0.0.1:${p}>`],
      // A sip: target reached over TLS: a sip: Contact with transport=tls (RFC 5630), not sips: (the peer could not reach it back).
      [tlsPeer, `sip:bob@127.0.0.1:${tlsPeer.port};transport=tls`, (p: number) => `<sip:nest@127.0.0.1:${p};transport=tls>`],
    ] as const) {
      for (const method of ['INVITE', 'REGISTER']) {
        const { got } = await roundTrip(c, peer, method, { uri }, method === 'INVITE' ? 486 : 200);
        expect(got.req.headers.get('contact')).toBe(contact(localPort(c, peer.proto)));
        expect(got.req.from.displayName).toBe('Nest');
        expect(got.req.from.uri).toBe('sip:nest@example.com');
        expect(got.req.from.tag).toBeDefined();
        expect(got.req.topVia!.transport).toBe(peer.proto.toUpperCase());
      }
    }
  });

  it('keeps the headers the caller gives (From with or without tag, To, Call-ID, CSeq, Max-Forwards, Contact, others) and the body', async () => {
    const c = newClient();
    const uri = `sip:carol@127.0.0.1:${udp.port}`;
    const { got } = await roundTrip(c, udp, 'INVITE', {
      uri,
      headers: {
        From: '<sip:me@example.org>;tag=given1',
        To: '"Carol" <sip:carol@example.org>',
        'Call-ID': 'given-call-id@example.org',
        CSeq: '42 INVITE',
        'Max-Forwards': '10',
        Contact: '<sip:me@192.0.2.1:5099>',
        'X-Custom': 'kept',
        'Content-Type': 'application/sdp',
      },
      body: 'v=0\r\n',
    }, 486);
    const h = got.req.headers;
    expect(h.get('from')).toBe('<sip:me@example.org>;tag=given1');
    expect(h.get('to')).toBe('"Carol" <sip:carol@example.org>');
    expect(h.get('call-id')).toBe('given-call-id@example.org');
    expect(h.get('cseq')).toBe('42 INVITE');
    expect(h.get('max-forwards')).toBe('10');
    expect(h.get('contact')).toBe('<sip:me@192.0.2.1:5099>');
    expect(h.get('x-custom')).toBe('kept');
    expect(h.get('content-type')).toBe('application/sdp');
    expect(h.get('content-length')).toBe('5');
    expect(got.req.body.toString()).toBe('v=0\r\n');
    expect(got.req.topVia!.branch).toMatch(/^z9hG4bK/);
    // A From without a tag gets one; the rest of it stays.
    const { got: g2 } = await roundTrip(c, udp, 'MESSAGE', { uri, headers: { From: '"Me" <sip:me@example.org>' }, body: 'hi' });
    expect(g2.req.from.displayName).toBe('Me');
    expect(g2.req.from.uri).toBe('sip:me@example.org');
    expect(g2.req.from.tag).toBeDefined();
  });

  it('a SipRequest given to send() is sent as is, with only the missing headers filled in', async () => {
    const c = newClient();
    const req = new SipRequest({ method: 'OPTIONS', uri: `sip:127.0.0.1:${udp.port}`, headers: { 'Call-ID': 'mine@x' } });
    const { got } = await roundTrip(c, udp, 'OPTIONS', req);
    expect(got.req.callId).toBe('mine@x');
    expect(req.topVia!.branch).toBe(got.req.topVia!.branch); // the caller's object is the request sent
  });
});

describe('SipClient picks the transport and the destination', () => {
  it('`;transport=tcp` in the URI selects TCP', async () => {
    const c = newClient();
    const { got } = await roundTrip(c, tcp, 'OPTIONS', { uri: `sip:127.0.0.1:${tcp.port};transport=tcp` });
    expect(got.req.topVia!.transport).toBe('TCP');
    expect(got.req.topVia!.port).toBe(localPort(c, 'tcp'));
  });

  it('`sips:` selects TLS (and the server certificate is verified against the test CA)', async () => {
    const c = newClient();
    const { got } = await roundTrip(c, tlsPeer, 'OPTIONS', { uri: `sips:127.0.0.1:${tlsPeer.port}` });
    expect(got.req.topVia!.transport).toBe('TLS');
    // Without the CA the handshake fails and so does the request.
    const strict = newClient({ tls: {} });
    const err = await lastValueFrom(strict.send('OPTIONS', { uri: `sips:127.0.0.1:${tlsPeer.port}` })).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ERR_SIP_TLS');
  });

  it('the client option `transport` is the default for URIs that do not name one', async () => {
    const c = newClient({ transport: 'tcp' });
    const { got } = await roundTrip(c, tcp, 'OPTIONS', { uri: `sip:127.0.0.1:${tcp.port}` });
    expect(got.req.topVia!.transport).toBe('TCP');
  });

  it('explicit host/port/transport override the URI; the Request-URI stays', async () => {
    const c = newClient();
    const uri = 'sip:bob@gateway.invalid:5070;transport=udp';
    const { got } = await roundTrip(c, tcp, 'OPTIONS', { uri, host: '127.0.0.1', port: tcp.port, transport: 'tcp' });
    expect(got.req.uri).toBe(uri);
    expect(got.req.topVia!.transport).toBe('TCP');
    const { got: g2 } = await roundTrip(c, udp, 'OPTIONS', { uri: `sip:bob@127.0.0.1:1`, port: udp.port });
    expect(g2.req.uri).toBe('sip:bob@127.0.0.1:1');
  });

  it('a Route header sends the request to its first entry (loose routing)', async () => {
    const c = newClient();
    const uri = 'sip:bob@far.invalid';
    const { got } = await roundTrip(c, udp, 'OPTIONS', { uri, headers: { Route: `<sip:127.0.0.1:${udp.port};lr>` } });
    expect(got.req.uri).toBe(uri);
    expect(got.req.headers.get('route')).toBe(`<sip:127.0.0.1:${udp.port};lr>`);
  });

  it('rejects what cannot be sent: a bad method, a bad URI, an unknown transport, sips: over UDP', async () => {
    const c = newClient();
    const fail = (m: string, d: SipClientRequest | SipRequest): Promise<unknown> => lastValueFrom(c.send(m, d)).then(() => 'sent', (e: unknown) => e);
    expect(await fail('BAD METHOD', { uri: `sip:127.0.0.1:${udp.port}` })).toBeInstanceOf(TypeError);
    expect(await fail('OPTIONS', { uri: 'not a uri' })).toBeInstanceOf(Error);
    expect(String(await fail('OPTIONS', { uri: `sip:127.0.0.1:${udp.port};transport=sctp` }))).toMatch(/unsupported transport/);
    expect(String(await fail('OPTIONS', { uri: `sips:127.0.0.1:${udp.port};transport=udp` }))).toMatch(/sips/);
    // A caller-given Via without an RFC 3261 branch: the transaction layer refuses it (sent twice: the leg is bound the 2nd time).
    for (let i = 0; i < 2; i++) {
      const err = await fail('OPTIONS', { uri: `sip:127.0.0.1:${udp.port}`, headers: { Via: 'SIP/2.0/UDP 127.0.0.1:5;branch=old' } });
      expect((err as { code?: string }).code).toBe('ERR_SIP_TXN_INVALID');
    }
    await c.close();
    expect(await fail('OPTIONS', { uri: `sip:127.0.0.1:${udp.port}` })).toBeInstanceOf(SipClientClosedError);
  });
});
