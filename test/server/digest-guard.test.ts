// SipDigestGuard in a Nest app (issue 12) against real clients: sipsak -a and sipp
// [authentication] (MD5; both read only the first challenge), SipClient (SHA-256, the strongest
// offered), raw UDP for the throttled and dropped cases. The handlers see ctx.auth.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeHa1, digestResponse, parseAuthHeader, SipAuth, SipAuthModule, SipClient, SipContext, SipPublic, SipResponseError, type SipAuthModuleOptions, type SipRequest, type SipResponse } from 'nestjs-sip';
import { inCI, peerTool } from '../helpers/peers.js';
import { runSipp } from '../helpers/sipp.js';
import { sipRequest, startApp, type RunningApp } from './support.js';

const sipsak = peerTool('sipsak');
const sipp = peerTool('sipp');
const REALM = 'guard.test';
const USERS: Record<string, string> = { alice: 'secret', bob: 'hunter2', tester: 'tester-pw' };
const seen: { method: string; user: string | undefined; algorithm: string | undefined }[] = [];

@Controller()
class Protected {
  @SipAuth()
  @MessagePattern('REGISTER')
  register(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    seen.push({ method: 'REGISTER', user: ctx.auth?.user, algorithm: ctx.auth?.algorithm });
    const contact = req.headers.get('contact');
    return { status: 200, headers: { 'X-Auth-User': ctx.auth?.user ?? '-', ...(contact ? { Contact: `${contact};expires=60` } : {}) } };
  }

  @MessagePattern('MESSAGE')
  message(@Ctx() ctx: SipContext) {
    seen.push({ method: 'MESSAGE', user: ctx.auth?.user, algorithm: ctx.auth?.algorithm });
    return { status: 200, headers: { 'X-Auth-User': ctx.auth?.user ?? '-' } };
  }

  @SipPublic()
  @MessagePattern('OPTIONS')
  options(@Ctx() ctx: SipContext) {
    return { status: 200, headers: { 'X-Auth-User': ctx.auth?.user ?? '-' } };
  }
}

function appModule(auth: SipAuthModuleOptions) {
  @Module({ imports: [SipAuthModule.forRoot(auth)], controllers: [Protected] })
  class AppModule {}
  return AppModule;
}

const credentials = (user: string) => USERS[user];
const legs = [
  { transport: 'udp' as const, host: '127.0.0.1', port: 0 },
  { transport: 'tcp' as const, host: '127.0.0.1', port: 0 },
];

function run(cmd: string, args: string[], ms = 15_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** A raw UDP peer: send text, get the next datagram (or undefined after `ms`). */
async function udpPeer(port: number, host = '127.0.0.1') {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, host, r));
  const inbox: string[] = [];
  let wake: (() => void) | undefined;
  sock.on('message', (m) => {
    inbox.push(m.toString('latin1'));
    wake?.();
  });
  return {
    host,
    local: sock.address().port,
    async ask(text: string, ms = 1500): Promise<string | undefined> {
      inbox.length = 0;
      sock.send(text, port, '127.0.0.1');
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const final = inbox.find((m) => !m.startsWith('SIP/2.0 1'));
        if (final !== undefined) return final;
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
      return undefined;
    },
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

describe('SipDigestGuard, MD5 offered (what sipsak and sipp read)', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(appModule({ realm: REALM, credentials, algorithms: ['MD5'], global: true, throttle: { maxFailures: 50 } }), { listen: legs });
  });
  afterAll(async () => {
    await app?.close();
  });

  describe.skipIf(!sipsak.available)('sipsak -a', () => {
    it.each(['udp', 'tcp'] as const)('registers alice over %s; the handler sees ctx.auth', async (leg) => {
      seen.length = 0;
      const port = app.port(leg);
      const r = await run('sipsak', ['-vv', '-i', '-U', ...(leg === 'tcp' ? ['-E', 'tcp'] : []), '-C', 'sip:alice@127.0.0.1:7777', '-s', `sip:alice@127.0.0.1:${port}`, '-u', 'alice', '-a', 'secret', '-x', '60']);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/authorizing/); // it was challenged, and answered
      expect(seen).toContainEqual({ method: 'REGISTER', user: 'alice', algorithm: 'MD5' });
    });

    it('a wrong password is refused: sipsak fails and the handler never runs', async () => {
      seen.length = 0;
      const r = await run('sipsak', ['-vv', '-i', '-U', '-C', 'sip:alice@127.0.0.1:7777', '-s', `sip:alice@127.0.0.1:${app.port('udp')}`, '-u', 'alice', '-a', 'wrong', '-x', '60']);
      expect(r.code, r.out).not.toBe(0);
      expect(r.out).toMatch(/401 Unauthorized/);
      expect(seen).toEqual([]);
    });
  });

  describe.skipIf(!sipp.available)('sipp [authentication]', () => {
    it('registers bob over UDP', async () => {
      const r = await runSipp({ scenario: 'register-auth.xml', target: `127.0.0.1:${app.port('udp')}`, calls: 3, args: ['-s', 'bob', '-au', 'bob', '-ap', 'hunter2'] });
      expect(r.successful, r.stdout + r.errors).toBe(3);
    });

    it('registers bob over TCP', async () => {
      const r = await runSipp({ scenario: 'register-auth.xml', target: `127.0.0.1:${app.port('tcp')}`, transport: 't1', calls: 2, args: ['-s', 'bob', '-au', 'bob', '-ap', 'hunter2'] });
      expect(r.successful, r.stdout + r.errors).toBe(2);
    });

    it('with a wrong password every call fails', async () => {
      const r = await runSipp({ scenario: 'register-auth.xml', target: `127.0.0.1:${app.port('udp')}`, calls: 2, timeout: 8, args: ['-s', 'bob', '-au', 'bob', '-ap', 'nope'] });
      expect(r.successful).toBe(0);
      expect(r.failed).toBe(2);
    });

    it('registering as someone else (To alice, credentials of bob) gets 403', async () => {
      const r = await runSipp({ scenario: 'register-auth.xml', target: `127.0.0.1:${app.port('udp')}`, calls: 1, timeout: 8, args: ['-s', 'alice', '-au', 'bob', '-ap', 'hunter2'] });
      expect(r.successful).toBe(0);
      expect(r.errors + r.stdout).toMatch(/403/);
    });
  });

  it('a global guard: OPTIONS marked @SipPublic() is answered without a challenge, MESSAGE is challenged', async () => {
    const peer = await udpPeer(app.port('udp'));
    try {
      expect(await peer.ask(sipRequest({ method: 'OPTIONS', sentBy: `127.0.0.1:${peer.local}` }))).toMatch(/^SIP\/2.0 200 /);
      const res = await peer.ask(sipRequest({ method: 'MESSAGE', sentBy: `127.0.0.1:${peer.local}` }));
      expect(res).toMatch(/^SIP\/2.0 401 /);
      expect(res).toMatch(/WWW-Authenticate: Digest realm="guard.test", nonce="[^"]+", algorithm=MD5, qop="auth", opaque="[^"]+"/);
    } finally {
      await peer.close();
    }
  });
});

describe('SipDigestGuard, default offer (SHA-256 first)', () => {
  let app: RunningApp;
  const clients: SipClient[] = [];
  beforeAll(async () => {
    app = await startApp(appModule({ realm: REALM, credentials, global: true, throttle: { maxFailures: 3, backoff: 60_000, action: 'drop' } }), { listen: legs });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await app?.close();
  });

  it('SipClient answers with SHA-256 over UDP and TCP; its From user must be the one proven', async () => {
    seen.length = 0;
    for (const t of ['udp', 'tcp'] as const) {
      const c = new SipClient({ localHost: '127.0.0.1', auth: { username: 'alice', password: 'secret' } });
      clients.push(c);
      const uri = `sip:bob@127.0.0.1:${app.port(t)};transport=${t}`;
      const ok = (await lastValueFrom(c.send('MESSAGE', { uri, body: 'hi', headers: { From: '<sip:alice@guard.test>', 'Content-Type': 'text/plain' } }))) as SipResponse;
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-auth-user')).toBe('alice');
      const other = await lastValueFrom(c.send('MESSAGE', { uri, body: 'hi', headers: { From: '<sip:carol@guard.test>', 'Content-Type': 'text/plain' } })).catch((e: unknown) => e);
      expect(other).toBeInstanceOf(SipResponseError);
      expect((other as SipResponseError).response.status).toBe(403);
    }
    expect(seen).toEqual([
      { method: 'MESSAGE', user: 'alice', algorithm: 'SHA-256' },
      { method: 'MESSAGE', user: 'alice', algorithm: 'SHA-256' },
    ]);
  });

  it('throttled with action drop: from the 3rd wrong password on, the source gets no answer at all, the right password included; another source still gets in', async () => {
    const attacker = await udpPeer(app.port('udp'), '127.0.0.2');
    const home = await udpPeer(app.port('udp'), '127.0.0.1');
    try {
      const attempt = async (peer: typeof attacker, password: string): Promise<string | undefined> => {
        const spec = { method: 'MESSAGE', uri: 'sip:bob@127.0.0.1', sentBy: `${peer.host}:${peer.local}` };
        const ch = await peer.ask(sipRequest(spec));
        if (ch === undefined) return undefined;
        expect(ch).toMatch(/^SIP\/2.0 401 /);
        const header = /^WWW-Authenticate: (.*)$/im.exec(ch)![1]!.trim();
        return peer.ask(sipRequest({ ...spec, headers: [`Authorization: ${answerTo(header, 'tester', password, 'MESSAGE', spec.uri)}`] }), 1000);
      };
      // From is tester@: the user proven must be tester (matchUser 'from' by default for MESSAGE).
      expect(await attempt(attacker, 'guess1')).toMatch(/^SIP\/2.0 401 /);
      expect(await attempt(attacker, 'guess2')).toMatch(/^SIP\/2.0 401 /);
      expect(await attempt(attacker, 'guess3')).toBeUndefined(); // the 3rd failure blocks, silently
      expect(await attempt(attacker, 'tester-pw')).toBeUndefined(); // even the right password
      expect(await attempt(home, 'tester-pw')).toMatch(/^SIP\/2.0 200 /);
    } finally {
      await attacker.close();
      await home.close();
    }
  });
});

/** The Authorization value a client computes for a challenge (RFC 7616 §3.4.1). */
function answerTo(challenge: string, user: string, password: string, method: string, uri: string): string {
  const p = parseAuthHeader(challenge).params;
  const algorithm = p.get('algorithm') as 'MD5' | 'SHA-256';
  const ha1 = computeHa1(algorithm, user, p.get('realm')!, password);
  const response = digestResponse({ algorithm, ha1, nonce: p.get('nonce')!, method, uri, qop: 'auth', nc: '00000001', cnonce: 'c1' });
  return `Digest username="${user}", realm="${p.get('realm')}", nonce="${p.get('nonce')}", uri="${uri}", response="${response}", algorithm=${algorithm}, qop=auth, nc=00000001, cnonce="c1"`;
}

it.runIf(inCI())('sipsak and sipp are installed in CI', () => {
  expect(sipsak.available && sipp.available).toBe(true);
});
