// SipServer driven by sipp (a real SIP implementation) over UDP, TCP and TLS, IPv4 and IPv6:
// OPTIONS, REGISTER, a whole call, 486, CANCEL after 180, retransmissions with the same branch.
//
// TLS: the sipp that Debian ships (sip-tester, also what .ci/run installs) is built without
// OpenSSL ("To use a TLS transport you must compile SIPp with OpenSSL"), so `-t l1` cannot run
// here. sipp then speaks TCP to a small TLS bridge in this file (node:tls, verifying the server
// certificate against the test CA): the SIP conversation is sipp's, the connection the server
// accepts is real TLS on its TLS leg (the handlers check that `ctx.getFrom().proto` is 'tls').
// A sipp built with TLS is used directly with `-t l1` instead.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { of } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipCancelledError, SipContext, SipException, type SipRequest } from 'nestjs-sip';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp, type SippOptions, type SippResult } from '../helpers/sipp.js';
import { sippHasTls, tlsBridge } from '../helpers/tls-bridge.js';
import { makeTestPki, type TestPki } from '../transport/tls-certs.js';
import { sleep, startApp, type RunningApp } from './support.js';

const sipp = peerTool('sipp');

interface Seen {
  method: string;
  callId: string;
  user: string | undefined;
  proto: string;
  family: number;
  note?: string;
}
const seen: Seen[] = [];
const record = (req: SipRequest, ctx: SipContext, note?: string): void => {
  const from = ctx.getFrom();
  seen.push({ method: req.method, callId: req.callId, user: safeUser(req), proto: from.proto, family: from.family, note });
};
function safeUser(req: SipRequest): string | undefined {
  try {
    return req.requestUri.user;
  } catch {
    return undefined;
  }
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

@Controller()
class SippHandlers {
  @MessagePattern('OPTIONS')
  options(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    record(req, ctx);
    return { status: 200, headers: { Allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE', Accept: 'application/sdp' } };
  }

  @MessagePattern('REGISTER')
  register(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    record(req, ctx);
    const contact = req.contacts[0];
    if (contact === undefined) throw new SipException(400, 'No Contact');
    const expires = Number(req.headers.get('expires') ?? 3600);
    return { status: 200, headers: { Contact: `<${contact.uri}>;expires=${expires}` } };
  }

  @MessagePattern('INVITE')
  async invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    const user = req.requestUri.user;
    if (user === 'busy') {
      record(req, ctx);
      throw new SipException(486, 'Busy Here');
    }
    if (user === 'retrans') {
      record(req, ctx);
      throw new SipException(486, 'Busy Here');
    }
    if (user === 'cancel') {
      let onCancelSaw: string | undefined;
      ctx.onCancel((c) => (onCancelSaw = c.method));
      await ctx.sendProvisional(180);
      const aborted = await new Promise<unknown>((resolve) => {
        if (ctx.signal.aborted) resolve(ctx.signal.reason);
        ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason), { once: true });
        setTimeout(() => resolve('no-abort'), 5000).unref();
      });
      await sleep(0);
      const final = ctx.getTransaction().lastResponse?.status;
      record(req, ctx, `abort=${aborted instanceof SipCancelledError ? 'SipCancelledError' : String(aborted)} onCancel=${onCancelSaw} cancelled=${ctx.cancelled} final=${final}`);
      return 200; // too late: the transaction already answered 487; this must be dropped
    }
    record(req, ctx);
    // Observable: every emission but the last is provisional.
    return of(180, { status: 200, body: SDP, contentType: 'application/sdp' });
  }

  @EventPattern('ACK')
  ack(@Payload() req: SipRequest, @Ctx() ctx: unknown) {
    record(req, ctx as SipContext);
  }

  @MessagePattern('BYE')
  bye(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    record(req, ctx);
    return 200;
  }

  @MessagePattern('MESSAGE')
  async message(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    record(req, ctx, req.body.toString());
    return 200;
  }
}

@Module({ controllers: [SippHandlers] })
class SippModule {}

let run = 0;

describe.skipIf(!sipp.available)('SipServer with sipp', () => {
  let app: RunningApp;
  let pki: TestPki;
  let pkiDir: string;
  let bridge: { port: number; close(): Promise<void> } | undefined;
  let nativeTls = false;

  beforeAll(async () => {
    pki = makeTestPki();
    pkiDir = mkdtempSync(join(tmpdir(), 'sipp-tls-'));
    writeFileSync(join(pkiDir, 'b.crt'), pki.b.cert);
    writeFileSync(join(pkiDir, 'b.key'), pki.b.key);
    app = await startApp(SippModule, {
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
        { transport: 'tls', host: '127.0.0.1', port: 0, tls: { cert: pki.a.cert, key: pki.a.key, ca: pki.ca } },
        { transport: 'udp', host: '::1', port: 0 },
        { transport: 'tcp', host: '::1', port: 0 },
      ],
      timers: { T1: 100 },
    });
    nativeTls = sippHasTls();
    if (!nativeTls) bridge = await tlsBridge(app.port('tls'), pki.ca);
  });

  afterAll(async () => {
    killAllSipp();
    await bridge?.close();
    await app?.close();
    if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
  });

  type Leg = 'udp' | 'tcp' | 'tls';

  /** Run a scenario against one leg; returns sipp's result and the Call-ID prefix of its calls. */
  async function sippRun(leg: Leg, scenario: string, service: string, calls: number, extra: Partial<SippOptions> = {}, family: 4 | 6 = 4): Promise<{ r: SippResult; prefix: string }> {
    const prefix = `r${++run}-${leg}-${service}-`;
    const args = ['-s', service, '-cid_str', `${prefix}%u-%p@%s`, ...(extra.args ?? [])];
    let target: string;
    let transport: SippOptions['transport'];
    if (leg === 'tls') {
      if (nativeTls) {
        target = `127.0.0.1:${app.port('tls')}`;
        transport = 'l1';
        args.push('-tls_cert', join(pkiDir, 'b.crt'), '-tls_key', join(pkiDir, 'b.key'));
      } else {
        target = `127.0.0.1:${bridge!.port}`;
        transport = 't1';
      }
    } else {
      target = family === 6 ? `[::1]:${app.port(leg, 6)}` : `127.0.0.1:${app.port(leg)}`;
      transport = leg === 'udp' ? 'u1' : 't1';
    }
    const r = await runSipp({ scenario, target, transport, local: family === 6 ? '::1' : '127.0.0.1', calls, rate: 50, timeout: 10, ...extra, args });
    return { r, prefix };
  }

  function expectSuccess(r: SippResult, calls: number): void {
    const why = `sipp exit ${r.code}\n${r.errors}\n${r.stderr}\n${r.stdout.slice(-1500)}`;
    expect(r.code, why).toBe(0);
    expect(r.successful, why).toBe(calls);
    expect(r.failed, why).toBe(0);
  }

  const mine = (prefix: string, method?: string): Seen[] => seen.filter((s) => s.callId.startsWith(prefix) && (method === undefined || s.method === method));

  describe.each(['udp', 'tcp', 'tls'] as const)('over %s', (leg) => {
    it('OPTIONS: 200 with Allow and a To tag', async () => {
      const { r, prefix } = await sippRun(leg, 'options.xml', 'opt', 3);
      expectSuccess(r, 3);
      const got = mine(prefix, 'OPTIONS');
      expect(got).toHaveLength(3);
      for (const s of got) expect(s.proto).toBe(leg);
    });

    it('REGISTER: 200 with the contact and its expiry', async () => {
      const { r, prefix } = await sippRun(leg, 'register.xml', 'alice', 2);
      expectSuccess(r, 2);
      expect(mine(prefix, 'REGISTER').map((s) => s.proto)).toEqual([leg, leg]);
    });

    it('a whole call: INVITE, 180, 200 (SDP), ACK reaches @EventPattern(ACK), BYE, 200', async () => {
      const { r, prefix } = await sippRun(leg, 'call.xml', 'bob', 3);
      expectSuccess(r, 3);
      const invites = mine(prefix, 'INVITE');
      const acks = mine(prefix, 'ACK');
      const byes = mine(prefix, 'BYE');
      expect(invites).toHaveLength(3);
      expect(byes).toHaveLength(3);
      // Every call's ACK (for the 2xx, a new transaction) reached the application, once.
      expect(acks.map((a) => a.callId).sort()).toEqual(invites.map((i) => i.callId).sort());
      for (const s of [...invites, ...acks, ...byes]) expect(s.proto).toBe(leg);
    });

    it('INVITE answered 486 by a SipException; the ACK for it is absorbed', async () => {
      const { r, prefix } = await sippRun(leg, 'busy.xml', 'busy', 2);
      expectSuccess(r, 2);
      expect(mine(prefix, 'INVITE')).toHaveLength(2);
      await sleep(50);
      // The ACK for a non-2xx belongs to the INVITE transaction: it never reaches @EventPattern('ACK').
      expect(mine(prefix, 'ACK')).toHaveLength(0);
    });

    it('INVITE cancelled after 180: 200 to CANCEL, 487 to INVITE, the handler sees ctx.signal and onCancel', async () => {
      const { r, prefix } = await sippRun(leg, 'cancel.xml', 'cancel', 2);
      expectSuccess(r, 2);
      const got = mine(prefix, 'INVITE');
      expect(got).toHaveLength(2);
      for (const s of got) expect(s.note).toBe('abort=SipCancelledError onCancel=CANCEL cancelled=true final=487');
      expect(mine(prefix, 'CANCEL')).toHaveLength(0); // answered by the transaction layer
    });

    it('INVITE retransmitted with the same branch after its 486: the same 486 again, handler called once', async () => {
      const { r, prefix } = await sippRun(leg, 'retrans.xml', 'retrans', 2, { args: ['-nr'] });
      expectSuccess(r, 2);
      const got = mine(prefix, 'INVITE');
      expect(got).toHaveLength(2); // two calls, one handler run each
      expect(new Set(got.map((s) => s.callId)).size).toBe(2);
    });
  });

  it('UDP: a MESSAGE retransmitted after its 200 gets the same 200, handler called once', async () => {
    const { r, prefix } = await sippRun('udp', 'message-retrans.xml', 'msg', 3, { args: ['-nr'] });
    expectSuccess(r, 3);
    const got = mine(prefix, 'MESSAGE');
    expect(got).toHaveLength(3);
    expect(new Set(got.map((s) => s.callId)).size).toBe(3);
  });

  describe.each(['udp', 'tcp'] as const)('IPv6 (::1) over %s', (leg) => {
    it('OPTIONS', async () => {
      const { r, prefix } = await sippRun(leg, 'options.xml', 'opt6', 2, {}, 6);
      expectSuccess(r, 2);
      const got = mine(prefix, 'OPTIONS');
      expect(got).toHaveLength(2);
      for (const s of got) expect([s.proto, s.family]).toEqual([leg, 6]);
    });

    it('a whole call', async () => {
      const { r, prefix } = await sippRun(leg, 'call.xml', 'bob6', 1, {}, 6);
      expectSuccess(r, 1);
      expect(mine(prefix).map((s) => s.method)).toEqual(['INVITE', 'ACK', 'BYE']);
    });
  });
});

it('sipp is installed (required in CI)', () => {
  if (inCI()) expect(sipp.available, 'sipp must be installed in CI (apt-get install sip-tester)').toBe(true);
  else if (!sipp.available) console.warn('sipp missing: the sipp interop tests above were SKIPPED');
});
