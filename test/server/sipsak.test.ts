// SipServer answering sipsak (a real SIP tool) over UDP and TCP.
//
// Not covered here: sipsak 0.9.8.1 over TLS sends its OPTIONS (the server gets it and answers on
// the same connection) but never reads the answer ("nothing received, select returned error"),
// and it cannot parse IPv6 literals in -s ("'[' is unresolvable"). sipp covers TLS and IPv6.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipContext, SipException, type SipRequest } from 'nestjs-sip';
import { inCI, peerTool } from '../helpers/peers.js';
import { startApp, type RunningApp } from './support.js';

const sipsak = peerTool('sipsak');

const seen: { callId: string; proto: string; user: string | undefined }[] = [];

@Controller()
class Handlers {
  @MessagePattern('OPTIONS')
  options(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    const user = req.requestUri.user;
    seen.push({ callId: req.callId, proto: ctx.getFrom().proto, user });
    if (user === 'nobody') throw new SipException(404, 'Not Found');
    return { status: 200, headers: { Allow: 'OPTIONS' } };
  }
}

@Module({ controllers: [Handlers] })
class AppModule {}

function runSipsak(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sipsak', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** The Call-ID sipsak printed in its (verbose) request. */
const callIdOf = (out: string): string | undefined => /^Call-ID:\s*(\S+)/im.exec(out)?.[1];

describe.skipIf(!sipsak.available)('SipServer with sipsak', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(AppModule, {
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
      ],
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  describe.each(['udp', 'tcp'] as const)('over %s', (leg) => {
    const transportArgs = leg === 'tcp' ? ['-E', 'tcp'] : [];

    it('OPTIONS: sipsak exits 0 on our 200', async () => {
      const r = await runSipsak(['-vv', ...transportArgs, '-s', `sip:alice@127.0.0.1:${app.port(leg)}`]);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/SIP\/2\.0 200 OK/);
      expect(r.out).toMatch(/final received/);
      const callId = callIdOf(r.out);
      expect(callId, r.out).toBeTruthy();
      expect(seen.filter((s) => s.callId === callId)).toEqual([{ callId, proto: leg, user: 'alice' }]);
    });

    it('OPTIONS answered 404 by a SipException: sipsak sees it and exits non-zero', async () => {
      const r = await runSipsak(['-vv', ...transportArgs, '-s', `sip:nobody@127.0.0.1:${app.port(leg)}`]);
      expect(r.out).toMatch(/SIP\/2\.0 404 Not Found/);
      expect(r.code, r.out).not.toBe(0);
      expect(seen.filter((s) => s.callId === callIdOf(r.out))).toHaveLength(1);
    });
  });
});

it('sipsak is installed (required in CI)', () => {
  if (inCI()) expect(sipsak.available, 'sipsak must be installed in CI (apt-get install sipsak)').toBe(true);
  else if (!sipsak.available) console.warn('sipsak missing: the sipsak interop tests above were SKIPPED');
});
