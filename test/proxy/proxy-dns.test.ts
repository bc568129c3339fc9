// The proxy resolves its next hops by RFC 3263 against a real DNS server (dnsmasq started here):
// a target `sip:bob@pbx.example.test` has two SRV records; the first (priority 10) is a sipp phone
// answering 503, the proxy fails over to the second (priority 20) and the caller gets its 200.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, MessagePattern } from '@nestjs/microservices';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipContext, type ProxyOutcome } from 'nestjs-sip';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { startUas, sippOk } from '../client/support.js';
import { startApp, type RunningApp } from '../server/support.js';

const sipp = peerTool('sipp');
const dnsmasq = peerTool('dnsmasq');
const outcomes: ProxyOutcome[] = [];

@Controller()
class Router {
  @MessagePattern('INVITE')
  async invite(@Ctx() ctx: SipContext) {
    outcomes.push(await ctx.proxy('sip:bob@pbx.example.test'));
  }
}

@Module({ controllers: [Router] })
class AppModule {}

describe.skipIf(!sipp.available || !dnsmasq.available)('the proxy resolves next hops by RFC 3263 (dnsmasq)', () => {
  let dns: Dnsmasq;
  let app: RunningApp | undefined;
  let down: Awaited<ReturnType<typeof startUas>>;
  let up: Awaited<ReturnType<typeof startUas>>;
  beforeAll(async () => {
    down = await startUas({ scenario: 'uas-503.xml', mode: 'u1' });
    up = await startUas({ scenario: 'kamailio-uas-awaits-bye.xml', mode: 'u1' });
    dns = await startDnsmasq({
      srv: [`_sip._udp.pbx.example.test,phone1.example.test,${down.port},10,100`, `_sip._udp.pbx.example.test,phone2.example.test,${up.port},20,100`],
      hosts: ['phone1.example.test,127.0.0.1', 'phone2.example.test,127.0.0.1'],
    });
    app = await startApp(AppModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], proxy: { dnsServers: [dns.server] } });
  });
  afterAll(async () => {
    killAllSipp();
    await app?.close();
    await dns?.stop();
  });

  it('SRV priority order, fail-over after 503 to the next SRV target', async () => {
    const target = `127.0.0.1:${app!.port('udp')}`;
    const a = await runSipp({ scenario: 'proxy-call.xml', target, calls: 1, timeout: 15, keys: { server: target, proto: 'udp' } });
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await down.done).successful).toBe(1); // it got the INVITE first and its 503 was ACKed
    expect(sippOk(await up.done)).toMatchObject({ successful: 1, errors: '' });
    expect(outcomes[0]!.response.status).toBe(200);
    expect(dns.queries()).toContain('SRV _sip._udp.pbx.example.test');
  });
});
