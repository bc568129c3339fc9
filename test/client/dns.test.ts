// RFC 3263 against a real DNS server: dnsmasq on a loopback port serving NAPTR, SRV and A/AAAA
// records, our SipClient resolving through it (order, weights, TTL cache, fail-over) to our
// SipServer and sipp; and RFC 3261 §18.1.1 (a request over 1300 bytes leaves over TCP).
import 'reflect-metadata';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { lastValueFrom } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { B2bua, createDnsResolver, DnsCache, parseUri, resolveTargets, SipClient, SipServer, type SipContext, type SipRequest, type SipResponse } from 'nestjs-sip';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { startApp } from '../server/support.js';
import { randomPort, sippOk, sleep, startUas, waitUntil } from './support.js';

const dnsmasq = peerTool('dnsmasq');
const sipp = peerTool('sipp');

it('dnsmasq and sipp are installed (required in CI)', () => {
  if (inCI()) expect(dnsmasq.available && sipp.available, 'dnsmasq (dnsmasq-base) and sipp (sip-tester) must be installed in CI').toBe(true);
});

interface Hit {
  method: string;
  proto: string;
  /** The top Via's transport as the request arrived. */
  via: string;
  size: number;
}

interface Target {
  port: number;
  hits: Hit[];
}

const apps: INestMicroservice[] = [];
const clients: SipClient[] = [];
const dnses: Dnsmasq[] = [];

/** Our SipServer on 127.0.0.1 (UDP and/or TCP on one port number), answering `status`, recording what arrives. */
async function sipServer(transports: ('udp' | 'tcp')[], status = 200): Promise<Target> {
  const hits: Hit[] = [];
  const answer = (req: SipRequest, ctx: SipContext): number => {
    hits.push({ method: req.method, proto: ctx.getFrom().proto, via: req.topVia!.transport.toUpperCase(), size: req.toBuffer().length });
    return status;
  };
  @Controller()
  class Handlers {
    @MessagePattern('OPTIONS')
    options(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
      return answer(req, ctx);
    }
    @MessagePattern('MESSAGE')
    message(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
      return answer(req, ctx);
    }
    @MessagePattern('INVITE')
    invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
      return answer(req, ctx);
    }
  }
  @Module({ controllers: [Handlers] })
  class AppModule {}
  for (let attempt = 0; ; attempt++) {
    const port = randomPort();
    const server = new SipServer({ listen: transports.map((transport) => ({ transport, host: '127.0.0.1', port })) });
    const app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: false });
    try {
      await app.listen();
      apps.push(app);
      return { port, hits };
    } catch (err) {
      await app.close().catch(() => undefined);
      if (attempt >= 3) throw err;
    }
  }
}

/** A TCP port nothing listens on (connection refused). */
async function deadTcpPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

function client(dns: Dnsmasq, extra: ConstructorParameters<typeof SipClient>[0] = {}): SipClient {
  const c = new SipClient({ localHost: '127.0.0.1', dnsServers: [dns.server], ...extra });
  clients.push(c);
  return c;
}

async function dnsServer(records: Parameters<typeof startDnsmasq>[0]): Promise<Dnsmasq> {
  const d = await startDnsmasq(records);
  dnses.push(d);
  return d;
}

const count = (list: string[], q: string): number => list.filter((x) => x === q).length;

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(dnses.splice(0).map((d) => d.stop()));
});
afterAll(async () => {
  killAllSipp();
  await Promise.all(apps.map((a) => a.close()));
});

describe.skipIf(!dnsmasq.available)('RFC 3263 resolution against dnsmasq', () => {
  it('NAPTR picks the transports in order (SIP+D2T, then SIP+D2U; services we do not speak skipped); sips: only SIPS+D2T; a transport parameter skips NAPTR', async () => {
    const d = await dnsServer({
      local: ['naptr.test'],
      naptr: [
        'naptr.test,5,50,s,SIP+D2S,,_sip._sctp.naptr.test', // SCTP: not ours
        'naptr.test,20,50,s,SIP+D2U,,_sip._udp.naptr.test',
        'naptr.test,10,50,s,SIP+D2T,,_sip._tcp.naptr.test',
        'naptr.test,30,50,s,SIPS+D2T,,_sips._tcp.naptr.test',
      ],
      srv: ['_sip._tcp.naptr.test,tcp1.naptr.test,5070,0,0', '_sip._udp.naptr.test,udp1.naptr.test,5071,0,0', '_sips._tcp.naptr.test,tls1.naptr.test,5072,0,0', '_sip._sctp.naptr.test,sctp.naptr.test,5073,0,0'],
      hosts: ['tcp1.naptr.test,127.0.0.11,::11', 'udp1.naptr.test,127.0.0.12', 'tls1.naptr.test,127.0.0.13', 'sctp.naptr.test,127.0.0.14'],
    });
    const dns = createDnsResolver({ servers: [d.server] });
    const list = await resolveTargets(parseUri('sip:alice@naptr.test'), 'udp', {}, dns);
    expect(list.map((t) => `${t.proto} ${t.addr} ${t.port}`)).toEqual(['tcp 127.0.0.11 5070', 'tcp ::11 5070', 'udp 127.0.0.12 5071', 'tls 127.0.0.13 5072']);
    expect(list.every((t) => t.servername === 'naptr.test')).toBe(true);
    expect((await resolveTargets(parseUri('sips:alice@naptr.test'), 'udp', {}, dns)).map((t) => `${t.proto} ${t.addr} ${t.port}`)).toEqual(['tls 127.0.0.13 5072']);
    const before = count(d.queries(), 'NAPTR naptr.test');
    expect((await resolveTargets(parseUri('sip:alice@naptr.test;transport=udp'), 'tcp', {}, dns)).map((t) => `${t.proto} ${t.addr} ${t.port}`)).toEqual(['udp 127.0.0.12 5071']);
    expect(count(d.queries(), 'NAPTR naptr.test')).toBe(before);
  });

  it('a SipClient follows NAPTR to TCP: the request arrives over TCP, its Via says TCP', async () => {
    const srv = await sipServer(['tcp']);
    const d = await dnsServer({
      local: ['e2e.test'],
      naptr: ['e2e.test,10,10,s,SIP+D2T,,_sip._tcp.e2e.test', 'e2e.test,20,10,s,SIP+D2U,,_sip._udp.e2e.test'],
      srv: [`_sip._tcp.e2e.test,pbx.e2e.test,${srv.port},0,0`],
      hosts: ['pbx.e2e.test,127.0.0.1'],
    });
    const res = await lastValueFrom(client(d).send<SipResponse>('OPTIONS', { uri: 'sip:e2e.test' }));
    expect(res.status).toBe(200);
    expect(srv.hits).toEqual([expect.objectContaining({ method: 'OPTIONS', proto: 'tcp', via: 'TCP' })]);
  });

  it('SRV: the lower priority first; within a priority, every target in turn, chosen by weight (RFC 2782)', async () => {
    const d = await dnsServer({
      local: ['srv.test'],
      srv: ['_sip._udp.srv.test,a.srv.test,5060,10,80', '_sip._udp.srv.test,b.srv.test,5060,10,20', '_sip._udp.srv.test,c.srv.test,5060,20,0'],
      hosts: ['a.srv.test,127.0.0.21', 'b.srv.test,127.0.0.22', 'c.srv.test,127.0.0.23'],
    });
    const cache = new DnsCache(createDnsResolver({ servers: [d.server] }));
    const n = 400;
    let aFirst = 0;
    for (let i = 0; i < n; i++) {
      const list = (await resolveTargets(parseUri('sip:srv.test'), 'udp', {}, cache)).map((t) => t.addr);
      expect(list.slice(0, 2).sort()).toEqual(['127.0.0.21', '127.0.0.22']);
      expect(list[2]).toBe('127.0.0.23');
      if (list[0] === '127.0.0.21') aFirst++;
    }
    // Weight 80 against 20: a leads about 4 times in 5 (binomial, sd ~8 of 400; these bounds are > 7 sd away).
    expect(aFirst).toBeGreaterThan(0.6 * n);
    expect(aFirst).toBeLessThan(0.95 * n);
    // 400 resolutions, one SRV query: the answer was cached for its TTL (300 s here).
    expect(count(d.queries(), 'SRV _sip._udp.srv.test')).toBe(1);
  });

  it('SRV and NAPTR answers carry their TTL, and the cache asks again once it ran out', async () => {
    const d = await dnsServer({
      ttl: 1,
      local: ['short.test'],
      naptr: ['short.test,10,10,s,SIP+D2U,,_sip._udp.short.test'],
      srv: ['_sip._udp.short.test,a.short.test,5070,0,0'],
      hosts: ['a.short.test,127.0.0.31'],
    });
    const dns = createDnsResolver({ servers: [d.server] });
    expect(await dns.resolveSrv('_sip._udp.short.test')).toEqual([{ name: 'a.short.test', port: 5070, priority: 0, weight: 0, ttl: 1 }]);
    expect((await dns.resolveNaptr!('short.test'))[0]).toMatchObject({ service: 'SIP+D2U', replacement: '_sip._udp.short.test', ttl: 1 });
    const cache = new DnsCache(dns);
    const targets = async () => (await resolveTargets(parseUri('sip:short.test'), 'udp', {}, cache)).map((t) => `${t.proto} ${t.addr}:${t.port}`);
    expect(await targets()).toEqual(['udp 127.0.0.31:5070']);
    expect(await targets()).toEqual(['udp 127.0.0.31:5070']);
    expect(count(d.queries(), 'SRV _sip._udp.short.test')).toBe(2); // the direct question above, then one for both resolutions
    await sleep(1100); // the TTL runs out
    expect(await targets()).toEqual(['udp 127.0.0.31:5070']);
    expect(count(d.queries(), 'SRV _sip._udp.short.test')).toBe(3);
    expect(count(d.queries(), 'NAPTR short.test')).toBe(3);
  });

  it('answers are cached for their TTL: a second request asks dnsmasq nothing; a TTL-0 address is asked again', async () => {
    const srv = await sipServer(['udp']);
    const d = await dnsServer({
      local: ['cache.test', 'zero.test'],
      srv: [`_sip._udp.cache.test,node.cache.test,${srv.port},0,0`],
      hosts: ['node.cache.test,127.0.0.1', 'zero.test,127.0.0.1,0'],
    });
    const c = client(d);
    for (let i = 0; i < 2; i++) expect((await lastValueFrom(c.send<SipResponse>('OPTIONS', { uri: 'sip:cache.test' }))).status).toBe(200);
    const q = d.queries();
    expect(q).toEqual(['NAPTR cache.test', 'SRV _sip._udp.cache.test', 'A node.cache.test', 'AAAA node.cache.test']);
    for (let i = 0; i < 2; i++) expect((await lastValueFrom(c.send<SipResponse>('OPTIONS', { uri: `sip:zero.test:${srv.port}` }))).status).toBe(200);
    expect(count(d.queries(), 'A zero.test')).toBe(2);
    expect(srv.hits).toHaveLength(4);
  });
});

describe.skipIf(!dnsmasq.available)('RFC 3263 fail-over (§4.3)', () => {
  it('the first SRV target refuses the TCP connection: the request reaches the second', async () => {
    const live = await sipServer(['tcp']);
    const dead = await deadTcpPort();
    const d = await dnsServer({
      local: ['fo.test'],
      srv: [`_sip._tcp.fo.test,dead.fo.test,${dead},10,0`, `_sip._tcp.fo.test,live.fo.test,${live.port},20,0`],
      hosts: ['dead.fo.test,127.0.0.1', 'live.fo.test,127.0.0.1'],
    });
    const res = await lastValueFrom(client(d).send<SipResponse>('OPTIONS', { uri: 'sip:fo.test;transport=tcp' }));
    expect(res.status).toBe(200);
    expect(live.hits).toHaveLength(1);
  });

  it('the first SRV target never answers (UDP, Timer F): the request reaches the second', async () => {
    const live = await sipServer(['udp']);
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((res) => silent.bind(0, '127.0.0.1', res));
    let swallowed = 0;
    silent.on('message', () => swallowed++);
    try {
      const d = await dnsServer({
        local: ['quiet.test'],
        srv: [`_sip._udp.quiet.test,quiet.quiet.test,${silent.address().port},10,0`, `_sip._udp.quiet.test,live.quiet.test,${live.port},20,0`],
        hosts: ['quiet.quiet.test,127.0.0.1', 'live.quiet.test,127.0.0.1'],
      });
      const res = await lastValueFrom(client(d, { timers: { T1: 40 } }).send<SipResponse>('OPTIONS', { uri: 'sip:quiet.test' }));
      expect(res.status).toBe(200);
      expect(swallowed).toBeGreaterThan(1); // the silent target got the request and its retransmissions
      expect(live.hits).toHaveLength(1);
    } finally {
      silent.close();
    }
  });

  it.skipIf(!sipp.available)('sipp answers 503 with Retry-After: the INVITE goes on to the second target; the next INVITE skips the first', async () => {
    const uas = await startUas({ scenario: 'uas-503-retry-after.xml', mode: 'u1' });
    const live = await sipServer(['udp']);
    const d = await dnsServer({
      local: ['busy.test'],
      srv: [`_sip._udp.busy.test,busy.busy.test,${uas.port},10,0`, `_sip._udp.busy.test,live.busy.test,${live.port},20,0`],
      hosts: ['busy.busy.test,127.0.0.1', 'live.busy.test,127.0.0.1'],
    });
    const c = client(d);
    const first = await lastValueFrom(c.send<SipResponse>('INVITE', { uri: 'sip:bob@busy.test' }));
    expect(first.status).toBe(200);
    expect(sippOk(await uas.done)).toMatchObject({ successful: 1, errors: '' }); // sipp got the ACK of its 503
    expect(live.hits.map((h) => h.method)).toEqual(['INVITE']);
    // The 503 said Retry-After: 120. sipp is gone; whatever lands on its port now is counted.
    const watch = dgram.createSocket('udp4');
    await new Promise<void>((res) => watch.bind(uas.port, '127.0.0.1', res));
    let toBusy = 0;
    watch.on('message', () => toBusy++);
    try {
      const second = await lastValueFrom(c.send<SipResponse>('INVITE', { uri: 'sip:bob@busy.test' }));
      expect(second.status).toBe(200);
      expect(live.hits).toHaveLength(2);
      expect(toBusy).toBe(0);
    } finally {
      watch.close();
    }
  });

  it.skipIf(!sipp.available)('the outgoing leg of a B2BUA fails over too: sipp caller -> our B2BUA -> (503 from sipp) -> the second sipp callee', async () => {
    const busy = await startUas({ scenario: 'uas-503-retry-after.xml', mode: 'u1' });
    const callee = await startUas({ scenario: 'dialog-uas-awaits-bye.xml', mode: 'u1' });
    const d = await dnsServer({
      local: ['b2b.test'],
      srv: [`_sip._udp.b2b.test,busy.b2b.test,${busy.port},10,0`, `_sip._udp.b2b.test,callee.b2b.test,${callee.port},20,0`],
      hosts: ['busy.b2b.test,127.0.0.1', 'callee.b2b.test,127.0.0.1'],
    });
    let b2bua: B2bua | undefined;
    @Controller()
    class Bridge {
      @MessagePattern('INVITE')
      invite(@Ctx() ctx: SipContext) {
        return b2bua!.bridge(ctx, { to: 'sip:callee@b2b.test' });
      }
    }
    @Module({ controllers: [Bridge] })
    class BridgeModule {}
    const app = await startApp(BridgeModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    apps.push(app.app);
    b2bua = new B2bua(client(d, { server: app.server }));
    const caller = await runSipp({ scenario: 'dialog-caller-hangs-up.xml', target: `127.0.0.1:${app.port('udp')}`, calls: 1, timeout: 15 });
    expect(sippOk(caller)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await busy.done)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await callee.done)).toMatchObject({ successful: 1, errors: '' });
  });

  it('a target the client has no leg for (its IPv6 address cannot be bound here): the next target', async () => {
    const live = await sipServer(['udp']);
    const d = await dnsServer({
      local: ['v6.test'],
      srv: [`_sip._udp.v6.test,six.v6.test,${live.port},10,0`, `_sip._udp.v6.test,four.v6.test,${live.port},20,0`],
      hosts: ['six.v6.test,::1', 'four.v6.test,127.0.0.1'],
    });
    // 2001:db8::/32 is documentation space: binding the IPv6 leg there fails (EADDRNOTAVAIL).
    const res = await lastValueFrom(client(d, { localHost6: '2001:db8::99' }).send<SipResponse>('OPTIONS', { uri: 'sip:v6.test' }));
    expect(res.status).toBe(200);
    expect(live.hits).toHaveLength(1);
  });

  it('every target fails: the last answer is the result', async () => {
    const a = await sipServer(['udp'], 503);
    const b = await sipServer(['udp'], 503);
    const d = await dnsServer({
      local: ['down.test'],
      srv: [`_sip._udp.down.test,a.down.test,${a.port},10,0`, `_sip._udp.down.test,b.down.test,${b.port},20,0`],
      hosts: ['a.down.test,127.0.0.1', 'b.down.test,127.0.0.1'],
    });
    const res = await lastValueFrom(client(d, { non2xxAsValue: true }).send<SipResponse>('OPTIONS', { uri: 'sip:down.test' }));
    expect(res.status).toBe(503);
    expect([a.hits.length, b.hits.length]).toEqual([1, 1]);
  });
});

describe('RFC 3261 §18.1.1: a request too large for UDP', () => {
  const big = 'x'.repeat(1400);

  it('over 1300 bytes it leaves over TCP to the same address and port (Via: TCP); a small one over UDP', async () => {
    const srv = await sipServer(['udp', 'tcp']);
    const c = new SipClient({ localHost: '127.0.0.1' });
    clients.push(c);
    const uri = `sip:bob@127.0.0.1:${srv.port}`;
    expect((await lastValueFrom(c.send<SipResponse>('MESSAGE', { uri, headers: { 'Content-Type': 'text/plain' }, body: 'hi' }))).status).toBe(200);
    expect((await lastValueFrom(c.send<SipResponse>('MESSAGE', { uri, headers: { 'Content-Type': 'text/plain' }, body: big }))).status).toBe(200);
    expect(srv.hits.map((h) => [h.proto, h.via, h.size > 1300])).toEqual([
      ['udp', 'UDP', false],
      ['tcp', 'TCP', true],
    ]);
  });

  it('falls back to UDP when TCP cannot connect (Via: UDP)', async () => {
    const srv = await sipServer(['udp']);
    const c = new SipClient({ localHost: '127.0.0.1' });
    clients.push(c);
    const res = await lastValueFrom(c.send<SipResponse>('MESSAGE', { uri: `sip:bob@127.0.0.1:${srv.port}`, headers: { 'Content-Type': 'text/plain' }, body: big }));
    expect(res.status).toBe(200);
    await waitUntil(() => srv.hits.length === 1, 2000, 'the MESSAGE');
    expect(srv.hits.map((h) => [h.proto, h.via, h.size > 1300])).toEqual([['udp', 'UDP', true]]);
  });
});
