// SipServer as the answering side of calls, driven by sipp (a real UA) over UDP, TCP and TLS, and
// by a raw socket for the refusals (481, 500, 491) and the unacknowledged 2xx.
// TLS: Debian's sipp has no OpenSSL; it speaks TCP to a bridge holding a real TLS connection to
// the server (test/helpers/tls-bridge.ts), so the server's dialog runs over TLS.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipContext, type DialogEnd, type SipDialog, type SipRequest, type SipResponse } from 'nestjs-sip';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp, type SippResult } from '../helpers/sipp.js';
import { sippHasTls, tlsBridge } from '../helpers/tls-bridge.js';
import { makeTestPki, type TestPki } from '../transport/tls-certs.js';
import { sipRequest, startApp, UdpClient, uniq, waitUntil, type RunningApp } from '../server/support.js';

const sipp = peerTool('sipp');
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

/** What the handlers saw, by Call-ID. */
interface CallNotes {
  proto?: string;
  dialog?: SipDialog;
  ackUri?: string;
  ackDialog?: SipDialog;
  byeDialogEnd?: DialogEnd;
  ended?: DialogEnd;
  requests: string[];
}
const calls = new Map<string, CallNotes>();
const notes = (callId: string): CallNotes => {
  let n = calls.get(callId);
  if (n === undefined) calls.set(callId, (n = { requests: [] }));
  return n;
};

@Controller()
class Calls {
  @MessagePattern('INVITE')
  async invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    const n = notes(req.callId);
    if (ctx.dialog !== undefined) return { status: 200, body: SDP, contentType: 'application/sdp' }; // a re-INVITE
    n.proto = ctx.getFrom().proto;
    const user = req.requestUri.user;
    if (user === 'hangup') {
      // Hang up once the caller acknowledged the answer.
      void ctx.whenAcknowledged().then((ack) => {
        if (ack !== undefined) ctx.dialog!.bye().subscribe({ error: () => undefined });
      });
    }
    if (user === 'reinvite') {
      void ctx.whenAcknowledged().then(() => ctx.dialog!.reinvite({ body: SDP, contentType: 'application/sdp' }).subscribe({ error: () => undefined }));
    }
    return { status: 200, body: SDP, contentType: 'application/sdp' };
  }

  @EventPattern('ACK')
  ack(@Payload() ack: SipRequest, @Ctx() ctx: unknown) {
    const n = notes(ack.callId);
    n.ackUri = ack.uri;
    n.ackDialog = (ctx as SipContext).dialog;
  }

  @MessagePattern('BYE')
  bye(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    notes(req.callId).byeDialogEnd = ctx.dialog?.end;
    return 200;
  }

  @MessagePattern('INFO')
  info() {
    return 200;
  }
}

@Module({ controllers: [Calls] })
class CallsModule {}

describe('SipServer dialogs: peers are required in CI', () => {
  it('sipp is installed', () => {
    if (inCI()) expect(sipp.available, 'sipp must be installed in CI (apt-get install sip-tester)').toBe(true);
    else if (!sipp.available) console.warn('sipp missing: the SipServer dialog tests with sipp are SKIPPED');
  });
});

describe('SipServer dialogs', () => {
  let app: RunningApp;
  let pki: TestPki;
  let bridge: { port: number; close(): Promise<void> } | undefined;
  let pkiDir: string;
  let run = 0;

  beforeAll(async () => {
    pki = makeTestPki();
    pkiDir = mkdtempSync(join(tmpdir(), 'dialog-tls-'));
    app = await startApp(CallsModule, {
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
        { transport: 'tls', host: '127.0.0.1', port: 0, tls: { cert: pki.a.cert, key: pki.a.key, ca: pki.ca } },
      ],
      timers: { T1: 20 },
    });
    // Every dialog the server answers: watch it from the moment it exists.
    app.server.on('dialog', (d: SipDialog) => {
      const n = notes(d.callId);
      n.dialog = d;
      d.requests.subscribe((r) => n.requests.push(r.method));
      void d.terminated.then((end) => (n.ended = end));
    });
    if (sipp.available && !sippHasTls()) bridge = await tlsBridge(app.port('tls'), pki.ca);
  });

  afterAll(async () => {
    killAllSipp();
    await bridge?.close();
    await app?.close();
    rmSync(pkiDir, { recursive: true, force: true });
  });

  /** The Contact the server must give on `leg` for `user`. */
  const contactOf = (leg: 'udp' | 'tcp' | 'tls', user: string): string => `sip:${user}@127.0.0.1:${app.port(leg)}${leg === 'udp' ? '' : `;transport=${leg}`}`;

  async function sippCall(leg: 'udp' | 'tcp' | 'tls', scenario: string, service: string): Promise<{ r: SippResult; callId: string }> {
    const callId = `dlg${++run}-${leg}-${service}-${uniq()}`;
    const target = leg === 'tls' ? `127.0.0.1:${bridge!.port}` : `127.0.0.1:${app.port(leg)}`;
    const r = await runSipp({ scenario, target, transport: leg === 'udp' ? 'u1' : 't1', calls: 1, timeout: 10, args: ['-s', service, '-cid_str', callId] });
    return { r, callId };
  }

  const ok = (r: SippResult): void => {
    const why = `sipp exit ${r.code}\n${r.errors}\n${r.stderr}\n${r.stdout.slice(-1500)}`;
    expect([r.code, r.successful, r.failed], why).toEqual([0, 1, 0]);
  };

  describe.skipIf(!sipp.available).each(['udp', 'tcp', 'tls'] as const)('with sipp over %s', (leg) => {
    it('the 200 carries a Contact sipp can use: its ACK goes to it; the server hangs up with ctx.dialog.bye(), sipp answers 200', async () => {
      const { r, callId } = await sippCall(leg, 'dialog-server-hangs-up.xml', 'hangup');
      ok(r);
      const n = notes(callId);
      expect(n.proto).toBe(leg);
      expect(n.ackUri).toBe(contactOf(leg, 'hangup'));
      expect(n.ackDialog).toBe(n.dialog);
      await waitUntil(() => n.ended !== undefined, 3000, 'the dialog to end');
      expect(n.ended).toMatchObject({ reason: 'bye', by: 'local' });
      expect(n.requests).toEqual(['ACK']);
      expect(app.server.dialogs!.get(callId, n.dialog!.localTag, n.dialog!.remoteTag)).toBeUndefined();
    });

    it("sipp hangs up: its BYE (to our Contact) ends the dialog; the BYE handler sees it ended by the remote side", async () => {
      const { r, callId } = await sippCall(leg, 'dialog-caller-hangs-up.xml', 'caller');
      ok(r);
      const n = notes(callId);
      await waitUntil(() => n.ended !== undefined, 3000, 'the dialog to end');
      expect(n.ended).toMatchObject({ reason: 'bye', by: 'remote' });
      expect(n.byeDialogEnd).toMatchObject({ reason: 'bye', by: 'remote' });
      expect(n.requests).toEqual(['ACK', 'BYE']);
    });
  });

  describe('refusals, with a raw UDP peer', () => {
    let udp: UdpClient;
    beforeAll(async () => {
      udp = await UdpClient.open();
    });
    afterAll(async () => {
      await udp.close();
    });

    /** A call set up from the raw socket: INVITE, 200, ACK. Returns its Call-ID and tags. */
    async function call(user = 'plain', ack = true) {
      const callId = `raw-${uniq()}`;
      const fromTag = `ft${uniq()}`;
      const sentBy = `127.0.0.1:${udp.port}`;
      const contact = `Contact: <sip:raw@127.0.0.1:${udp.port}>`;
      await udp.send(sipRequest({ method: 'INVITE', uri: `sip:${user}@127.0.0.1`, callId, fromTag, sentBy, cseq: 1, headers: [contact] }), app.port('udp'));
      const ok200 = await udp.status(callId, 200);
      const toTag = ok200.to.tag!;
      if (ack) await udp.send(sipRequest({ method: 'ACK', uri: `sip:${user}@127.0.0.1`, callId, fromTag, toTag, sentBy, cseq: 1 }), app.port('udp'));
      const send = (method: string, cseq: number, extra: Partial<Parameters<typeof sipRequest>[0]> = {}) =>
        udp.send(sipRequest({ method, uri: `sip:${user}@127.0.0.1`, callId, fromTag, toTag, sentBy, cseq, headers: [contact], ...extra }), app.port('udp'));
      return { callId, fromTag, toTag, send, ok200 };
    }

    const finalTo = (callId: string, method: string) => udp.until((rs) => rs.map((x) => x.msg).find((m) => !m.isRequest() && m.callId === callId && m.cseq.method === method && (m as SipResponse).status >= 200), 3000, `a final response to ${method}`);

    it('an in-dialog request for no dialog: 481', async () => {
      const callId = `nodlg-${uniq()}`;
      await udp.send(sipRequest({ method: 'BYE', callId, toTag: 'no-such-dialog', sentBy: `127.0.0.1:${udp.port}` }), app.port('udp'));
      expect((await udp.response(callId)).status).toBe(481);
    });

    it('a CSeq not above the last one: 500; the dialog goes on', async () => {
      const c = await call();
      await c.send('INFO', 1);
      expect(((await finalTo(c.callId, 'INFO')) as SipResponse).status).toBe(500);
      await c.send('INFO', 2, { branch: `z9hG4bK${uniq()}` });
      await udp.until((rs) => rs.filter((x) => !x.msg.isRequest() && x.msg.callId === c.callId && x.msg.cseq.method === 'INFO').length === 2, 3000, 'the second INFO answer');
      const statuses = udp.responses(c.callId).filter((m) => m.cseq.method === 'INFO').map((m) => m.status);
      expect(statuses).toEqual([500, 200]);
    });

    it('a re-INVITE while ours is pending: 491 (RFC 3261 §14.2)', async () => {
      const c = await call('reinvite');
      // The server's own re-INVITE arrives (after our ACK); we leave it unanswered and send ours.
      const theirs = await udp.until((rs) => rs.find((x) => x.msg.isRequest() && x.msg.method === 'INVITE' && x.msg.callId === c.callId), 3000, "the server's re-INVITE");
      expect(theirs.msg.to.tag).toBe(c.fromTag); // it is in our dialog, from the server's side
      await c.send('INVITE', 2, { body: SDP, headers: [`Contact: <sip:raw@127.0.0.1:${udp.port}>`, 'Content-Type: application/sdp'] });
      const answer = await udp.until(() => udp.responses(c.callId).find((m) => m.cseq.method === 'INVITE' && m.cseq.seq === 2 && m.status >= 200), 3000, 'the answer to our re-INVITE');
      expect(answer.status).toBe(491);
    });

    it('a 2xx never acknowledged: after 64*T1 the server sends BYE and the dialog ends (no-ack)', async () => {
      const c = await call('plain', false);
      const bye = await udp.until((rs) => rs.find((x) => x.msg.isRequest() && x.msg.method === 'BYE' && x.msg.callId === c.callId), 5000, "the server's BYE");
      expect(bye.msg.to.tag).toBe(c.fromTag);
      expect((bye.msg as SipRequest).uri).toBe(`sip:raw@127.0.0.1:${udp.port}`);
      await waitUntil(() => notes(c.callId).ended !== undefined, 3000, 'the dialog to end');
      expect(notes(c.callId).ended).toMatchObject({ reason: 'no-ack', by: 'local' });
    });
  });
});

describe('Contact on a wildcard bind and with an advertised address', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(CallsModule, {
      listen: [
        { transport: 'udp', host: '0.0.0.0', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0, advertise: { host: '203.0.113.9', port: 5070 } },
      ],
      timers: { T1: 20 },
    });
  });
  afterAll(async () => {
    await app.close();
  });

  it('a wildcard UDP leg: the address the request came in on; an advertised TCP leg: that address (NAT, containers)', async () => {
    const udp = await UdpClient.open();
    const a = `wild-${uniq()}`;
    await udp.send(sipRequest({ method: 'INVITE', uri: 'sip:bob@127.0.0.1', callId: a, sentBy: `127.0.0.1:${udp.port}`, headers: [`Contact: <sip:raw@127.0.0.1:${udp.port}>`] }), app.port('udp'));
    expect((await udp.status(a, 200)).headers.get('contact')).toBe(`<sip:bob@127.0.0.1:${app.port('udp')}>`);
    await udp.close();
    const { StreamClient } = await import('../server/support.js');
    const tcp = await StreamClient.connect(app.port('tcp'));
    const b = `adv-${uniq()}`;
    tcp.send(sipRequest({ method: 'INVITE', uri: 'sip:bob@127.0.0.1', transport: 'TCP', callId: b, sentBy: '127.0.0.1:9', headers: ['Contact: <sip:raw@127.0.0.1:9;transport=tcp>'] }));
    const res = await tcp.until((rs) => rs.map((r) => r.msg).find((m) => !m.isRequest() && m.callId === b && (m as SipResponse).status === 200), 3000, 'the 200');
    expect((res as { headers: { get(n: string): string | undefined } }).headers.get('contact')).toBe('<sip:bob@203.0.113.9:5070;transport=tcp>');
    tcp.close();
  });
});
