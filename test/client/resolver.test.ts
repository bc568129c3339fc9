// RFC 3263 resolution with a fake DNS (corner cases; test/client/dns.test.ts runs against a real dnsmasq).
import { lastValueFrom } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { createResponse, parseUri, resolveTarget, SipClient, type SipResponse } from 'nestjs-sip';
// Not re-exported by src/nest/index.ts (yet): taken from the module.
import { orderSrv, type SipDnsResolver, type SipSrvRecord } from '../../src/nest/sip-resolver.js';
import { rawUdpPeer } from './support.js';

/** A fake DNS: SRV and A/AAAA tables; records every query. */
function fakeDns(srv: Record<string, SipSrvRecord[]>, hosts: Record<string, { address: string; family: number }>): SipDnsResolver & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    resolveSrv: async (name) => {
      queries.push(`SRV ${name}`);
      const r = srv[name];
      if (r === undefined) throw Object.assign(new Error(`queryNotFound ${name}`), { code: 'ENOTFOUND' });
      return r;
    },
    lookup: async (host) => {
      queries.push(`A ${host}`);
      const r = hosts[host];
      if (r === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return r;
    },
  };
}

const v4 = (address: string) => ({ address, family: 4 });
const resolve = (uri: string, dns: SipDnsResolver, dflt: 'udp' | 'tcp' | 'tls' = 'udp', o = {}) => resolveTarget(parseUri(uri), dflt, o, dns);

describe('resolveTarget (RFC 3263 §4) with a fake resolver', () => {
  it('IP literals need no DNS; default ports 5060 / 5061 (TLS); IPv6', async () => {
    const dns = fakeDns({}, {});
    expect(await resolve('sip:a@192.0.2.1', dns)).toEqual({ addr: '192.0.2.1', port: 5060, family: 4, proto: 'udp' });
    expect(await resolve('sips:a@192.0.2.1', dns)).toEqual({ addr: '192.0.2.1', port: 5061, family: 4, proto: 'tls' });
    expect(await resolve('sip:a@[2001:db8::1]:5070;transport=tcp', dns)).toEqual({ addr: '2001:db8::1', port: 5070, family: 6, proto: 'tcp' });
    expect(dns.queries).toEqual([]);
  });

  it('a name with a port: A/AAAA only, no SRV (§4.2)', async () => {
    const dns = fakeDns({ '_sip._udp.example.com': [{ name: 'x.example.com', port: 1, priority: 0, weight: 0 }] }, { 'example.com': v4('192.0.2.7') });
    expect(await resolve('sip:example.com:5080', dns)).toEqual({ addr: '192.0.2.7', port: 5080, family: 4, proto: 'udp', servername: 'example.com' });
    expect(dns.queries).toEqual(['A example.com']);
  });

  it('a name without a port: SRV for the transport, lowest priority first, then the target address', async () => {
    const dns = fakeDns(
      {
        '_sip._tcp.example.com': [
          { name: 'backup.example.com', port: 5090, priority: 20, weight: 0 },
          { name: 'main.example.com', port: 5080, priority: 10, weight: 0 },
        ],
      },
      { 'main.example.com': v4('192.0.2.10'), 'backup.example.com': v4('192.0.2.20') },
    );
    // The identity stays the SIP domain (RFC 5922 §4), not the SRV target.
    expect(await resolve('sip:bob@example.com;transport=tcp', dns)).toEqual({ addr: '192.0.2.10', port: 5080, family: 4, proto: 'tcp', servername: 'example.com' });
    // Every SRV target's addresses are looked up (the list to fail over along), in SRV order.
    expect(dns.queries).toEqual(['SRV _sip._tcp.example.com', 'A main.example.com', 'A backup.example.com']);
  });

  it('an SRV target that does not resolve: the next one', async () => {
    const dns = fakeDns(
      { '_sips._tcp.example.com': [{ name: 'dead.example.com', port: 5061, priority: 1, weight: 0 }, { name: 'live.example.com', port: 5062, priority: 2, weight: 0 }] },
      { 'live.example.com': v4('192.0.2.30') },
    );
    expect(await resolve('sips:example.com', dns)).toMatchObject({ addr: '192.0.2.30', port: 5062, proto: 'tls', servername: 'example.com' });
  });

  it('no SRV records: A/AAAA of the host on the default port', async () => {
    const dns = fakeDns({}, { 'example.net': { address: '2001:db8::5', family: 6 } });
    expect(await resolve('sip:example.net', dns)).toEqual({ addr: '2001:db8::5', port: 5060, family: 6, proto: 'udp', servername: 'example.net' });
  });

  it('no transport named: the first transport of our order (default, UDP, TCP) that has SRV records (§4.1)', async () => {
    const dns = fakeDns({ '_sip._tcp.example.org': [{ name: 'sip.example.org', port: 5070, priority: 0, weight: 5 }] }, { 'sip.example.org': v4('192.0.2.40') });
    expect(await resolve('sip:example.org', dns)).toMatchObject({ proto: 'tcp', port: 5070, addr: '192.0.2.40' });
    expect(dns.queries).toEqual(['SRV _sip._udp.example.org', 'SRV _sip._tcp.example.org', 'A sip.example.org']);
  });

  it('an SRV target "." means no service: A/AAAA instead', async () => {
    const dns = fakeDns({ '_sip._udp.example.org': [{ name: '.', port: 0, priority: 0, weight: 0 }] }, { 'example.org': v4('192.0.2.50') });
    expect(await resolve('sip:example.org;transport=udp', dns)).toMatchObject({ addr: '192.0.2.50', port: 5060 });
  });

  it('maddr and the explicit overrides win over the URI host, port and transport', async () => {
    const dns = fakeDns({}, { 'proxy.example.com': v4('192.0.2.60') });
    expect(await resolve('sip:a@example.com;maddr=192.0.2.70', dns)).toMatchObject({ addr: '192.0.2.70' });
    expect(await resolve('sip:a@example.com:5099;transport=udp', dns, 'udp', { host: 'proxy.example.com', port: 6000, transport: 'tcp' })).toEqual({
      addr: '192.0.2.60',
      port: 6000,
      family: 4,
      proto: 'tcp',
      servername: 'proxy.example.com',
    });
  });

  it('`sips:` with `;transport=tcp` is TLS; `sips:` over UDP and unknown transports are refused', async () => {
    const dns = fakeDns({}, {});
    expect(await resolve('sips:a@192.0.2.1;transport=tcp', dns)).toMatchObject({ proto: 'tls', port: 5061 });
    await expect(resolve('sips:a@192.0.2.1;transport=udp', dns)).rejects.toThrow(/sips/);
    await expect(resolve('sip:a@192.0.2.1;transport=sctp', dns)).rejects.toThrow(/unsupported transport/);
  });

  it('SRV order: by priority, then weighted at random (RFC 2782), every record once', () => {
    const recs = [
      { id: 'a', priority: 1, weight: 0 },
      { id: 'b', priority: 0, weight: 10 },
      { id: 'c', priority: 0, weight: 90 },
      { id: 'd', priority: 1, weight: 1 },
    ];
    const firsts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const o = orderSrv(recs.map((r) => ({ ...r })));
      expect(o.map((r) => r.priority)).toEqual([0, 0, 1, 1]);
      expect(new Set(o.map((r) => r.id)).size).toBe(4);
      firsts.set(o[0]!.id, (firsts.get(o[0]!.id) ?? 0) + 1);
    }
    // c (weight 90) leads about 90 % of the time, b about 10 %.
    expect(firsts.get('c')!).toBeGreaterThan(1500);
    expect(firsts.get('b')!).toBeGreaterThan(80);
    // Deterministic picks: random 0 takes the first (zero-weight records sort first), near 1 the last.
    expect(orderSrv(recs.map((r) => ({ ...r })), () => 0).map((r) => r.id)).toEqual(['b', 'c', 'a', 'd']);
    expect(orderSrv(recs.map((r) => ({ ...r })), () => 0.999).map((r) => r.id)).toEqual(['c', 'b', 'd', 'a']);
  });
});

describe('SipClient uses its `dns` option', () => {
  const clients: SipClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it('a host name resolved by SRV reaches the peer the records name', async () => {
    const peer = await rawUdpPeer();
    try {
      const dns = fakeDns({ '_sip._udp.pbx.test': [{ name: 'node1.pbx.test', port: peer.port, priority: 0, weight: 0 }] }, { 'node1.pbx.test': v4('127.0.0.1') });
      const c = new SipClient({ localHost: '127.0.0.1', dns });
      clients.push(c);
      const done = lastValueFrom(c.send<SipResponse>('OPTIONS', { uri: 'sip:pbx.test' }));
      const got = await peer.next();
      expect(got.req.uri).toBe('sip:pbx.test');
      got.reply(createResponse(got.req, 200));
      expect((await done).status).toBe(200);
      expect(dns.queries).toEqual(['SRV _sip._udp.pbx.test', 'A node1.pbx.test']);
    } finally {
      await peer.close();
    }
  });

  it('a name that does not resolve fails the request', async () => {
    const c = new SipClient({ localHost: '127.0.0.1', dns: fakeDns({}, {}) });
    clients.push(c);
    await expect(lastValueFrom(c.send('OPTIONS', { uri: 'sip:nowhere.test' }))).rejects.toThrow(/ENOTFOUND/);
  });
});
