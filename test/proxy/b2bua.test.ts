// B2bua (issue 13 §2) with sipp on both legs: the caller (a sipp UAC) calls our Nest app, whose
// INVITE handler bridges to a sipp UAS. Each leg is its own dialog (own Call-ID, tags, CSeq); the
// callee's answer, a BYE from either side, a busy callee and a CANCEL before the answer all cross.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, MessagePattern } from '@nestjs/microservices';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { B2bua, SipClient, SipContext, type BridgedCall } from 'nestjs-sip';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { waitUntil } from '../helpers/wait.js';
import { startUas, sippOk } from '../client/support.js';
import { startApp, type RunningApp } from '../server/support.js';

const sipp = peerTool('sipp');
let b2bua: B2bua;
let calleePort = 0;
/** When set, the INVITE forks to these ports (parallel) instead of calleePort. */
let forkPorts: number[] | undefined;
const bridged: BridgedCall[] = [];
const callerCallIds: string[] = [];

@Controller()
class Bridge {
  @MessagePattern('INVITE')
  invite(@Ctx() ctx: SipContext) {
    if (ctx.dialog === undefined) callerCallIds.push(ctx.getRequest().callId);
    const to = forkPorts?.map((p) => `sip:callee@127.0.0.1:${p}`) ?? `sip:callee@127.0.0.1:${calleePort}`;
    return b2bua.bridge(ctx, { to, copyHeaders: ['subject'] }, (c) => bridged.push(c));
  }

  @MessagePattern('INFO')
  info(@Ctx() ctx: SipContext) {
    return b2bua.carry(ctx);
  }
}

@Module({ controllers: [Bridge] })
class AppModule {}

describe.skipIf(!sipp.available)('B2bua between two sipp legs', () => {
  let app: RunningApp;
  let client: SipClient;
  beforeAll(async () => {
    app = await startApp(AppModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    client = new SipClient({ server: app.server });
    b2bua = new B2bua(client);
  });
  afterAll(async () => {
    killAllSipp();
    await client?.close();
    await app?.close();
  });

  const caller = (scenario: string) => runSipp({ scenario, target: `127.0.0.1:${app.port('udp')}`, calls: 1, timeout: 15 });

  it('the caller hangs up: the callee gets the BYE; two dialogs with their own Call-IDs', async () => {
    const uas = await startUas({ scenario: 'dialog-uas-awaits-bye.xml', mode: 'u1' });
    calleePort = uas.port;
    bridged.length = 0;
    const a = await caller('dialog-caller-hangs-up.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await uas.done)).toMatchObject({ successful: 1, errors: '' });
    expect(bridged).toHaveLength(1);
    const { a: legA, b: legB } = bridged[0]!;
    expect(legA.callId).toBe(callerCallIds.at(-1));
    expect(legB.callId).not.toBe(legA.callId);
    await waitUntil(() => legA.state === 'terminated' && legB.state === 'terminated' && b2bua.active === 0, 3000, 'both legs ended');
    expect(legA.end).toMatchObject({ by: 'remote', reason: 'bye' });
    expect(legB.end).toMatchObject({ by: 'local' });
  });

  it('the callee hangs up: the caller gets the BYE', async () => {
    const uas = await startUas({ scenario: 'dialog-uas-sends-bye.xml', mode: 'u1' });
    calleePort = uas.port;
    bridged.length = 0;
    const a = await caller('dialog-server-hangs-up.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await uas.done)).toMatchObject({ successful: 1, errors: '' });
    const { a: legA, b: legB } = bridged[0]!;
    await waitUntil(() => legA.state === 'terminated' && b2bua.active === 0, 3000, 'both legs ended');
    expect(legB.end).toMatchObject({ by: 'remote', reason: 'bye' });
    expect(legA.end).toMatchObject({ by: 'local' });
  });

  it('a re-INVITE (hold) and an INFO (DTMF) from the caller cross to the callee and their answers come back; then the caller hangs up', async () => {
    const uas = await startUas({ scenario: 'uas-reinvite.xml', mode: 'u1' });
    calleePort = uas.port;
    bridged.length = 0;
    const phone = new SipClient({ localHost: '127.0.0.1' });
    try {
      const sdp = 'v=0\r\no=- 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
      const dialog = await phone.invite({ uri: `sip:callee@127.0.0.1:${app.port('udp')}`, headers: { 'Content-Type': 'application/sdp' }, body: sdp });
      expect(dialog.remoteSdp).toContain('m=audio 9 RTP/AVP 0'); // the callee's answer, across
      await waitUntil(() => bridged.length === 1, 3000, 'the bridge');
      const responses = await lastValueFrom(dialog.reinvite({ body: sdp.replace('o=- 5 5', 'o=- 5 6') + 'a=sendonly\r\n', contentType: 'application/sdp' }).pipe(toArray()));
      const final = responses.at(-1)!;
      expect(final.status).toBe(200);
      expect(final.body.toString()).toContain('a=recvonly');
      expect(final.body.toString()).toContain('m=audio 19 RTP/AVP 0');
      expect(bridged[0]!.b.remoteSdp).toContain('a=recvonly');
      const info = await lastValueFrom(dialog.info({ body: 'Signal=5\r\nDuration=160\r\n', contentType: 'application/dtmf-relay' }));
      expect(info.status).toBe(200);
      await lastValueFrom(dialog.bye());
      expect(sippOk(await uas.done)).toMatchObject({ successful: 1, errors: '' });
    } finally {
      await phone.close();
    }
  });

  it('forked to two phones: the one that answers gets the call, the ringing one gets a CANCEL', async () => {
    const ringing = await startUas({ scenario: 'client-cancel.xml', mode: 'u1' });
    const answering = await startUas({ scenario: 'dialog-uas-awaits-bye.xml', mode: 'u1' });
    forkPorts = [ringing.port, answering.port];
    bridged.length = 0;
    try {
      const a = await caller('caller-hangs-up-ringing.xml');
      expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
      expect(sippOk(await answering.done)).toMatchObject({ successful: 1, errors: '' });
      expect(sippOk(await ringing.done)).toMatchObject({ successful: 1, errors: '' });
      expect(bridged).toHaveLength(1);
    } finally {
      forkPorts = undefined;
    }
  });

  it('forked to two phones that both refuse: the caller gets the better answer (486 over 503)', async () => {
    const busy = await startUas({ scenario: 'client-invite-486.xml', mode: 'u1' });
    const down = await startUas({ scenario: 'uas-503.xml', mode: 'u1' });
    forkPorts = [down.port, busy.port];
    try {
      const a = await caller('busy.xml');
      expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
      expect(sippOk(await busy.done)).toMatchObject({ successful: 1, errors: '' });
      expect(sippOk(await down.done)).toMatchObject({ successful: 1, errors: '' });
    } finally {
      forkPorts = undefined;
    }
  });

  it('a busy callee: the caller gets its 486', async () => {
    const uas = await startUas({ scenario: 'client-invite-486.xml', mode: 'u1' });
    calleePort = uas.port;
    const a = await caller('busy.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await uas.done)).toMatchObject({ successful: 1, errors: '' });
  });

  it('the caller cancels while the callee rings: the 180 crossed, the CANCEL crosses, the caller gets 487', async () => {
    const uas = await startUas({ scenario: 'client-cancel.xml', mode: 'u1' });
    calleePort = uas.port;
    const a = await caller('cancel.xml');
    expect(sippOk(a)).toMatchObject({ successful: 1, errors: '' });
    expect(sippOk(await uas.done)).toMatchObject({ successful: 1, errors: '' });
    expect(b2bua.active).toBe(0);
  });
});

it.runIf(inCI())('sipp is installed in CI', () => {
  expect(sipp.available).toBe(true);
});
