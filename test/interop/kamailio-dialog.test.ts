// Dialogs through a real record-routing proxy (issue 11): Kamailio (test/helpers/kamailio.ts) in the
// middle, both directions. The in-dialog requests our side sends (re-INVITE, its ACK, BYE) must
// follow the route set: they reach Kamailio with a Route header and are loose-routed on, which
// Kamailio's own trace of the Call-ID shows.
//
//   sipp UAC  -> Kamailio -> SipServer: the server re-INVITEs and hangs up with ctx.dialog
//   SipClient -> Kamailio -> sipp UAS:  client.invite() -> dialog.bye()
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SipClient, SipContext, type SipDialog, type SipRequest } from 'nestjs-sip';
import { sippOk, startUas } from '../client/support.js';
import { startKamailio, type Kamailio } from '../helpers/kamailio.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { startApp, waitUntil, type RunningApp } from '../server/support.js';

const kamailio = peerTool('kamailio');
const sipp = peerTool('sipp');

it('kamailio and sipp are installed (required in CI)', () => {
  if (inCI()) expect(kamailio.available && sipp.available, 'kamailio and sipp must be installed in CI').toBe(true);
  else if (!kamailio.available || !sipp.available) console.warn('kamailio or sipp missing: the Kamailio dialog tests were SKIPPED');
});

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
const dialogs = new Map<string, { dialog?: SipDialog; reinvite?: number; bye?: number }>();

@Controller()
class Calls {
  @MessagePattern('INVITE')
  invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    const note: { dialog?: SipDialog; reinvite?: number; bye?: number } = {};
    dialogs.set(req.callId, note);
    void ctx.whenAcknowledged().then(async (ack) => {
      const d = ctx.dialog;
      if (ack === undefined || d === undefined) return;
      note.dialog = d;
      // Hold (a re-INVITE, ACKed by the dialog), then hang up: both through the proxy.
      note.reinvite = (await lastValueFrom(d.reinvite({ body: SDP.replace('a=rtpmap:0 PCMU/8000', 'a=sendonly'), contentType: 'application/sdp' }))).status;
      note.bye = (await lastValueFrom(d.bye())).status;
    });
    return { status: 200, body: SDP, contentType: 'application/sdp' };
  }
}

@Module({ controllers: [Calls] })
class CallsModule {}

/** The distinct steps of one kind in a Kamailio trace, in order (see kamailio.test.ts). */
function steps(trace: string[], kind: 'relay' | 'loose-routed'): string[] {
  const out: string[] = [];
  for (const line of trace) {
    if (!line.startsWith(`${kind} `)) continue;
    const step = line.split(' ')[1]!;
    if (!out.includes(step)) out.push(step);
  }
  return out;
}

describe.skipIf(!kamailio.available || !sipp.available)('dialogs through Kamailio (record-routing)', () => {
  let k: Kamailio | undefined;
  let app: RunningApp | undefined;
  const clients: SipClient[] = [];
  let run = 0;

  beforeAll(async () => {
    k = await startKamailio();
    app = await startApp(CallsModule, {
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
      ],
      timers: { T1: 100 },
    });
  });
  afterAll(async () => {
    try {
      killAllSipp();
      await Promise.all(clients.map((c) => c.close()));
      await app?.close();
    } finally {
      await k?.stop();
    }
  });
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => console.error(`--- Kamailio log ---\n${k?.log().slice(-6000)}`));
  });

  describe.each(['udp', 'tcp'] as const)('over %s', (leg) => {
    it("the server as UAS: its re-INVITE, the re-INVITE's ACK and its BYE follow the route set through Kamailio", async () => {
      const callId = `kd${++run}-${leg}-server`;
      const r = await runSipp({
        scenario: 'kamailio-dialog-server.xml',
        target: `127.0.0.1:${k!.port}`,
        transport: leg === 'udp' ? 'u1' : 't1',
        calls: 1,
        timeout: 10,
        keys: { server: `127.0.0.1:${app!.port(leg)}`, proto: leg },
        args: ['-s', 'held', '-cid_str', callId],
      });
      expect([r.code, r.successful, r.failed], `${r.errors}\n${r.stdout.slice(-1500)}`).toEqual([0, 1, 0]);
      const note = dialogs.get(callId)!;
      await waitUntil(() => note.bye !== undefined, 3000, 'the BYE answered');
      expect([note.reinvite, note.bye]).toEqual([200, 200]);
      expect(note.dialog!.routeSet).toHaveLength(1);
      expect(note.dialog!.end).toMatchObject({ reason: 'bye', by: 'local' });
      const trace = await k!.waitTrace(callId, 'loose-routed BYE');
      // Every in-dialog request of ours reached Kamailio with a Route header and was loose-routed on.
      expect(steps(trace, 'loose-routed')).toEqual(['ACK', 'INVITE', 'BYE']);
    });

    it('the client as UAC (Kamailio as outbound proxy): the dialog BYE follows the reversed Record-Route', async () => {
      const u = await startUas({ scenario: 'kamailio-uas-awaits-bye.xml', mode: leg === 'udp' ? 'u1' : 't1' });
      const client = new SipClient({ localHost: '127.0.0.1', timers: { T1: 100 } });
      clients.push(client);
      const proxy = `<sip:127.0.0.1:${k!.port}${leg === 'tcp' ? ';transport=tcp' : ''};lr>`;
      const dialog = await client.invite({ uri: `sip:svc@127.0.0.1:${u.port};transport=${leg}`, headers: { Route: proxy } });
      expect(dialog.routeSet).toHaveLength(1);
      expect(dialog.routeSet[0]).toContain(`127.0.0.1:${k!.port}`);
      expect((await lastValueFrom(dialog.bye())).status).toBe(200);
      expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      const trace = await k!.waitTrace(dialog.callId, 'loose-routed BYE');
      expect(steps(trace, 'loose-routed')).toEqual(['ACK', 'BYE']);
    });
  });
});
