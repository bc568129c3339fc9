// The stateful proxy (issue 13 §1, RFC 3261 §16) between sipp UACs and sipp UASs: a record-routed
// call whose ACK and BYE follow the route set through us with no handler code, parallel forking
// (one branch busy, one answers), sequential fail-over after a 503, CANCEL passed on, 483 and 482.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, MessagePattern } from '@nestjs/microservices';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SipContext, type BranchResponse, type ProxyOptions, type ProxyOutcome } from 'nestjs-sip';
import { peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { startUas, sippOk } from '../client/support.js';
import { startApp, type RunningApp } from '../server/support.js';

const sipp = peerTool('sipp');

/** What the INVITE handler does, set per test. */
let route: { targets: string[]; opts?: ProxyOptions } = { targets: [] };
const outcomes: ProxyOutcome[] = [];
const seen: BranchResponse[] = [];
let handled = 0;

@Controller()
class Proxy {
  @MessagePattern('INVITE')
  async invite(@Ctx() ctx: SipContext) {
    handled++;
    const run = ctx.proxy(route.targets, route.opts);
    run.responses.subscribe((r) => seen.push(r));
    outcomes.push(await run);
  }

  @MessagePattern('BYE')
  bye() {
    throw new Error('an in-dialog BYE routed through us must not reach a handler');
  }
}

@Module({ controllers: [Proxy] })
class AppModule {}

/** What the handler recorded goes between tests. */
function forget(): void {
  outcomes.length = 0;
  seen.length = 0;
  handled = 0;
}

describe.skipIf(!sipp.available)('stateful proxy (RFC 3261 §16) between sipp phones', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(AppModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
  });
  afterEach(forget);
  afterAll(async () => {
    killAllSipp();
    await app?.close();
  });

  const proxyAddr = () => `127.0.0.1:${app.port('udp')}`;
  const caller = (scenario: string, keys: Record<string, string> = {}) =>
    runSipp({ scenario, target: proxyAddr(), calls: 1, timeout: 15, keys: { server: proxyAddr(), proto: 'udp', ...keys } });

  it('a record-routed call: INVITE/180/200 relayed, ACK and BYE follow the route set through the proxy without a handler', async () => {
    const uas = await startUas({ scenario: 'kamailio-uas-awaits-bye.xml', mode: 'u1' });
    route = { targets: [`sip:bob@127.0.0.1:${uas.port}`] };
    const a = await caller('proxy-call.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await uas.done)).toMatchObject({ successful: 1, errors: '' });
    expect(handled).toBe(1); // the INVITE only: ACK and BYE were routed
    expect(outcomes[0]!.response.status).toBe(200);
    expect(seen.map((s) => s.response.status)).toEqual(expect.arrayContaining([180, 200]));
    // The proxy kept no dialog of its own: the call is the phones'.
    expect(app.server.transactions!.stats.serverCreated).toBeGreaterThan(0);
  });

  it('parallel forking: one phone busy (486), the other answers: the caller gets the 200', async () => {
    const busy = await startUas({ scenario: 'uas-486.xml', mode: 'u1' });
    const answers = await startUas({ scenario: 'kamailio-uas-awaits-bye.xml', mode: 'u1' });
    route = { targets: [`sip:bob@127.0.0.1:${busy.port}`, `sip:bob@127.0.0.1:${answers.port}`] };
    const a = await caller('proxy-call.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await busy.done)).toMatchObject({ successful: 1, errors: '' }); // its 486 was ACKed hop by hop
    expect(sippOk(await answers.done)).toMatchObject({ successful: 1, errors: '' });
    expect(outcomes[0]!.response.status).toBe(200);
    // The outcome is settled at the 200, before the busy phone's 486 may have come (on a loaded
    // machine it can come second): every branch response is on run.responses.
    expect(seen.map((s) => s.response.status)).toContain(486);
  });

  it('parallel forking, both busy: the best answer (486) goes to the caller', async () => {
    const one = await startUas({ scenario: 'uas-486.xml', mode: 'u1' });
    const two = await startUas({ scenario: 'uas-503.xml', mode: 'u1' });
    route = { targets: [`sip:bob@127.0.0.1:${one.port}`, `sip:bob@127.0.0.1:${two.port}`] };
    const a = await caller('busy.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await one.done).successful).toBe(1);
    expect(sippOk(await two.done).successful).toBe(1);
    expect(outcomes[0]!.response.status).toBe(486); // 4xx beats 5xx (§16.7)
  });

  it('sequential forking: the first target answers 503, the second takes the call', async () => {
    const down = await startUas({ scenario: 'uas-503.xml', mode: 'u1' });
    const up = await startUas({ scenario: 'kamailio-uas-awaits-bye.xml', mode: 'u1' });
    route = { targets: [`sip:bob@127.0.0.1:${down.port}`, `sip:bob@127.0.0.1:${up.port}`], opts: { forking: 'sequential' } };
    const a = await caller('proxy-call.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await down.done).successful).toBe(1);
    expect(sippOk(await up.done)).toMatchObject({ successful: 1, errors: '' });
    expect(outcomes[0]!.branches.map((b) => b.response?.status)).toEqual([503, 200]);
  });

  it("the caller's CANCEL reaches the ringing phone; its 487 comes back to the caller", async () => {
    const ringing = await startUas({ scenario: 'client-cancel.xml', mode: 'u1' });
    route = { targets: [`sip:bob@127.0.0.1:${ringing.port}`] };
    const a = await caller('cancel.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await ringing.done)).toMatchObject({ successful: 1, errors: '' });
    expect(outcomes[0]!.response.status).toBe(487);
  });

  it('a branch ringing past branchTimeout is cancelled and counts as 408', async () => {
    const ringing = await startUas({ scenario: 'client-cancel.xml', mode: 'u1' });
    route = { targets: [`sip:bob@127.0.0.1:${ringing.port}`], opts: { branchTimeout: 400 } };
    const a = await caller('proxy-408.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await ringing.done)).toMatchObject({ successful: 1, errors: '' }); // it got the CANCEL, answered 487
    expect(outcomes[0]!.response.status).toBe(408);
  });

  it('sequential forking with a branch timeout: the first phone rings out (CANCEL), the second answers', async () => {
    const ringing = await startUas({ scenario: 'client-cancel.xml', mode: 'u1' });
    const up = await startUas({ scenario: 'kamailio-uas-awaits-bye.xml', mode: 'u1' });
    route = { targets: [`sip:bob@127.0.0.1:${ringing.port}`, `sip:bob@127.0.0.1:${up.port}`], opts: { forking: 'sequential', branchTimeout: 400 } };
    const a = await caller('proxy-call.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await ringing.done)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await up.done)).toMatchObject({ successful: 1, errors: '' });
    expect(outcomes[0]!.branches.map((b) => b.response?.status)).toEqual([408, 200]);
  });

  it('an in-dialog request whose route set holds garbage after our Route: 400', async () => {
    const a = await caller('proxy-bad-route.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(handled).toBe(0);
  });

  it('Max-Forwards 0 is answered 483 and nothing is forwarded', async () => {
    route = { targets: ['sip:nobody@127.0.0.1:9'] };
    const a = await caller('proxy-483.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(outcomes[0]!.response.status).toBe(483);
    expect(outcomes[0]!.branches).toHaveLength(0);
  });

  it('a request forwarded back to the proxy itself is a loop: 482', async () => {
    // The Request-URI unchanged (sipp's [service] is 'service'): a changed one would be a spiral, forwarded once more.
    route = { targets: [`sip:service@${proxyAddr()}`] };
    const a = await caller('proxy-482.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    // The first arrival forwarded, the second (the loop) refused; the caller got the relayed 482.
    expect(handled).toBe(2);
    expect(outcomes.map((o) => o.response.status).sort()).toEqual([482, 482]);
  });
});

describe.skipIf(!sipp.available)('stateful proxy across transports (RFC 5658 double Record-Route)', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(AppModule, {
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
      ],
    });
  });
  afterEach(forget);
  afterAll(async () => {
    killAllSipp();
    await app?.close();
  });

  it('caller over TCP, callee over UDP: two Record-Routes; the callee hangs up and its BYE crosses back to TCP', async () => {
    const uas = await startUas({ scenario: 'proxy-uas-sends-bye.xml', mode: 'u1' });
    route = { targets: [`sip:bob@127.0.0.1:${uas.port}`] };
    const tcp = `127.0.0.1:${app.port('tcp')}`;
    const a = await runSipp({ scenario: 'proxy-callee-hangs-up.xml', transport: 't1', target: tcp, calls: 1, timeout: 15, keys: { server: tcp, proto: 'tcp' } });
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await uas.done)).toMatchObject({ successful: 1, errors: '' });
    expect(outcomes[0]!.response.headers.getAll('record-route')).toEqual([
      `<sip:127.0.0.1:${app.port('udp')};lr;r2=on>`,
      `<sip:127.0.0.1:${app.port('tcp')};transport=tcp;lr;r2=on>`,
    ]);
    expect(handled).toBe(1);
  });
});
