import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastValueFrom } from 'rxjs';
import { SipClient, type SipResponse, type SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';

const sipp = peerTool('sipp');

/** sipsak, run without blocking the event loop (the server under test lives in this process). */
function sipsakRun(args: string[]): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile('sipsak', args, { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => {
      resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout });
    });
  });
}
const sipsak = peerTool('sipsak');

describe('example registrar / redirect server', () => {
  it('has its peer tools installed (required in CI)', () => {
    if (inCI()) {
      expect(sipp.available, 'sipp (Debian sip-tester) is required in CI').toBe(true);
      expect(sipsak.available, 'sipsak is required in CI').toBe(true);
    }
  });

  let app: INestApplicationContext;
  let server: SipServer;
  const port = (proto: 'udp' | 'tcp') => server.addresses.find((a) => a.proto === proto)!.port;

  beforeAll(async () => {
    ({ app, server } = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: '0', SIP_MIN_EXPIRES: '60', SIP_CALLS: 'redirect' }));
  });
  afterAll(async () => {
    killAllSipp();
    await app.close();
  });

  for (const transport of ['u1', 't1'] as const) {
    it.skipIf(!sipp.available)(`sipp over ${transport === 'u1' ? 'UDP' : 'TCP'}: register, 302 to the binding, unregister -> 480, unknown -> 404`, async () => {
      const r = await runSipp({ scenario: 'example-registrar.xml', target: `127.0.0.1:${port(transport === 'u1' ? 'udp' : 'tcp')}`, transport, calls: 1, timeout: 15 });
      expect(r.errors, r.stdout.slice(-2000)).toBe('');
      expect(r.code).toBe(0);
      expect(r.successful).toBe(1);
    });
  }

  for (const proto of ['udp', 'tcp'] as const) {
    it.skipIf(!sipsak.available)(`sipsak OPTIONS over ${proto.toUpperCase()} gets 200`, async () => {
      const args = ['-vv', '-s', `sip:ping@127.0.0.1:${port(proto)}`];
      if (proto === 'tcp') args.push('-E', 'tcp');
      const r = await sipsakRun(args);
      expect(r.stdout).toContain('SIP/2.0 200 OK');
      expect(r.stdout).toMatch(/Allow: .*REGISTER/);
      expect(r.status).toBe(0);
    });
  }

  it.skipIf(!sipsak.available)('sipsak registers a binding (-U) and the registrar answers 200 with it', async () => {
    // -U: usrloc mode: REGISTER, then an OPTIONS/MESSAGE to the registered contact, then remove.
    const r = await sipsakRun(['-vvv', '-U', '-C', 'sip:carol@127.0.0.1:9', '-s', `sip:carol@127.0.0.1:${port('udp')}`, '-x', '300']);
    expect(r.stdout).toContain('SIP/2.0 200 OK');
    expect(r.stdout).toMatch(/Contact: <sip:carol@127\.0\.0\.1:9>;expires=(300|299)/);
  });

  it('a too short registration gets 423 with Min-Expires; Contact: * without Expires: 0 gets 400', async () => {
    const client = new SipClient({ localHost: '127.0.0.1', non2xxAsValue: true });
    try {
      const uri = `sip:127.0.0.1:${port('udp')}`;
      const brief = await lastValueFrom(
        client.send<SipResponse>('REGISTER', { uri, headers: { From: '<sip:dave@example.test>', To: '<sip:dave@example.test>', Contact: '<sip:dave@127.0.0.1:9>', Expires: '10' } }),
      );
      expect(brief.status).toBe(423);
      expect(brief.headers.get('min-expires')).toBe('60');
      const star = await lastValueFrom(
        client.send<SipResponse>('REGISTER', { uri, headers: { From: '<sip:dave@example.test>', To: '<sip:dave@example.test>', Contact: '*' } }),
      );
      expect(star.status).toBe(400);
    } finally {
      await client.close();
    }
  });
});
