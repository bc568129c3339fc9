// The example with SIP_USERS / SIP_USERS_FILE (issue 12): real clients register with a password
// (sipsak -a, sipp [authentication], SipClient with SHA-256 against HA1 lines), a wrong password
// or another user's credentials are refused, and svcrack (sipvicious) cannot find a password in a
// 1,000-word dictionary while a correct client from another address still registers. A control
// run against a server without throttling shows svcrack does find it there.
import 'reflect-metadata';
import { Controller, Module, type INestApplicationContext } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeHa1, DigestAuthenticator, SipAuth, SipAuthModule, SipClient, type SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { startApp } from '../server/support.js';

const sipp = peerTool('sipp');
const sipsak = peerTool('sipsak');
const svcrack = peerTool('svcrack');

function sipsakRun(args: string[]): Promise<{ status: number; out: string }> {
  return new Promise((resolve) => {
    execFile('sipsak', args, { encoding: 'utf8', timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

/** svcrack on `port` for user alice with `dict`, stopped by its pid after `ms` (it never stops by itself while answered). */
function runSvcrack(port: number, dict: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(svcrack.command, ['-u', 'alice', '-d', dict, '-p', String(port), '-P', String(20000 + Math.floor(Math.random() * 40000)), '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

it('has its peer tools installed (required in CI)', () => {
  if (inCI()) expect(sipp.available && sipsak.available && svcrack.available, 'sipp, sipsak and svcrack (sipvicious) are required in CI').toBe(true);
});

describe('example with SIP_USERS', () => {
  let app: INestApplicationContext;
  let server: SipServer;
  const port = (proto: 'udp' | 'tcp') => server.addresses.find((a) => a.proto === proto)!.port;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'example-auth-'));
    ({ app, server } = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: '0', SIP_USERS: 'alice:secret,bob:hunter2', SIP_REALM: 'example.test' }));
  });
  afterAll(async () => {
    killAllSipp();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const proto of ['udp', 'tcp'] as const) {
    it.skipIf(!sipsak.available)(`sipsak -a registers alice over ${proto.toUpperCase()}; a wrong password does not`, async () => {
      const base = ['-vv', '-i', '-U', ...(proto === 'tcp' ? ['-E', 'tcp'] : []), '-C', 'sip:alice@127.0.0.1:7777', '-s', `sip:alice@127.0.0.1:${port(proto)}`, '-u', 'alice', '-x', '120'];
      const ok = await sipsakRun([...base, '-a', 'secret']);
      expect(ok.status, ok.out).toBe(0);
      expect(ok.out).toMatch(/authorizing/);
      const bad = await sipsakRun([...base, '-a', 'not-it']);
      expect(bad.status, bad.out).not.toBe(0);
      expect(bad.out).toMatch(/401 Unauthorized/);
    });
  }

  it.skipIf(!sipp.available)('sipp [authentication] registers bob; registering alice with bob\'s password fails', async () => {
    const ok = await runSipp({ scenario: 'register-auth.xml', target: `127.0.0.1:${port('udp')}`, calls: 2, args: ['-s', 'bob', '-au', 'bob', '-ap', 'hunter2'] });
    expect(ok.successful, ok.stdout.slice(-1500) + ok.errors).toBe(2);
    const other = await runSipp({ scenario: 'register-auth.xml', target: `127.0.0.1:${port('udp')}`, calls: 1, timeout: 8, args: ['-s', 'alice', '-au', 'bob', '-ap', 'hunter2'] });
    expect(other.successful).toBe(0);
    expect(other.errors + other.stdout).toMatch(/403/);
  });

  it.skipIf(!sipsak.available)('OPTIONS (keep-alives, probes) is never challenged', async () => {
    const r = await sipsakRun(['-vv', '-s', `sip:ping@127.0.0.1:${port('udp')}`]);
    expect(r.out).toContain('SIP/2.0 200 OK');
  });

  it.skipIf(!svcrack.available || !sipp.available)(
    'svcrack with a 1,000-word dictionary holding the password: not found (throttled), while alice registers from another address',
    async () => {
      const words = Array.from({ length: 1000 }, (_, i) => `guess${i}`);
      words[300] = 'secret';
      const dict = join(dir, 'dict.txt');
      writeFileSync(dict, words.join('\n') + '\n');
      const auth = app.get(DigestAuthenticator, { strict: false });
      const before = auth.throttle!.stats.evaluated;
      const attack = runSvcrack(port('udp'), dict, 15_000);
      await new Promise((r) => setTimeout(r, 4000)); // the attack is on, its source blocked
      const legit = await runSipp({ scenario: 'register-auth.xml', target: `127.0.0.1:${port('udp')}`, local: '127.0.0.2', calls: 1, args: ['-s', 'alice', '-au', 'alice', '-ap', 'secret'] });
      const out = await attack;
      const evaluated = auth.throttle!.stats.evaluated - before - 1; // the legit one is the 1
      console.log(`svcrack against the example: ${evaluated} guesses evaluated in 15 s, ${auth.throttle!.stats.refused} attempts refused unevaluated`);
      expect(legit.successful, legit.stdout.slice(-1500) + legit.errors).toBe(1);
      expect(out).not.toMatch(/password for alice is/i);
      expect(evaluated).toBeGreaterThan(0);
      expect(evaluated).toBeLessThanOrEqual(10); // the default: 10 failures, then a 60 s block
      expect(auth.throttle!.stats.refused).toBeGreaterThan(0);
    },
    40_000,
  );
});

describe('example with SIP_USERS_FILE (HA1 lines) offering SHA-256 and MD5', () => {
  let app: INestApplicationContext;
  let server: SipServer;
  let dir: string;
  const clients: SipClient[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'example-users-'));
    const file = join(dir, 'users');
    const realm = 'ha1.test';
    writeFileSync(
      file,
      ['# user:password or user:ha1', `alice:${computeHa1('MD5', 'alice', realm, 'secret')}`, `alice:${computeHa1('SHA-256', 'alice', realm, 'secret')}`, '', 'bob:hunter2'].join('\n'),
    );
    ({ app, server } = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_USERS_FILE: file, SIP_REALM: realm, SIP_AUTH_ALGORITHMS: 'SHA-256,MD5', SIP_MIN_EXPIRES: '2' }));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SipClient registers alice with SHA-256 against her HA1 and keeps the binding refreshed; an unknown user fails', async () => {
    const port = server.addresses[0]!.port;
    const c = new SipClient({ localHost: '127.0.0.1', auth: { username: 'alice', password: 'secret' } });
    clients.push(c);
    const auth = app.get(DigestAuthenticator, { strict: false });
    const reg = c.register({ aor: 'sip:alice@ha1.test', registrar: `sip:127.0.0.1:${port}`, expires: 2, refreshMargin: 1 });
    await firstValueFrom(reg.status$.pipe(filter((s) => s.state === 'registered')));
    const first = auth.stats.authenticated;
    await new Promise((r) => setTimeout(r, 2600)); // two refreshes of a 2 s binding
    expect(auth.stats.authenticated - first).toBeGreaterThanOrEqual(2);
    expect(reg.state).toBe('registered');
    await reg.stop();
    const carol = new SipClient({ localHost: '127.0.0.1', auth: { username: 'carol', password: 'x' } });
    clients.push(carol);
    const bad = carol.register({ aor: 'sip:carol@ha1.test', registrar: `sip:127.0.0.1:${port}`, expires: 60 });
    const failed = await firstValueFrom(bad.status$.pipe(filter((s) => s.state === 'failed')));
    expect(String((failed.error as Error).message)).toMatch(/401/);
    await bad.stop();
  });
});

@Controller()
class OpenRegistrar {
  @SipAuth()
  @MessagePattern('REGISTER')
  register() {
    return 200;
  }
}

describe.skipIf(!svcrack.available)('control: svcrack against a server without throttling', () => {
  it('finds the password: the throttled run above would find it too if throttling did not work', async () => {
    @Module({ imports: [SipAuthModule.forRoot({ realm: 'control.test', credentials: (u) => (u === 'alice' ? 'secret' : undefined), algorithms: ['MD5'], throttle: false })], controllers: [OpenRegistrar] })
    class ControlModule {}
    const running = await startApp(ControlModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    const dir = mkdtempSync(join(tmpdir(), 'svcrack-'));
    try {
      const words = Array.from({ length: 1000 }, (_, i) => `guess${i}`);
      words[300] = 'secret';
      writeFileSync(join(dir, 'dict.txt'), words.join('\n') + '\n');
      // svcrack gives up by itself when an answer is late (a loaded CI machine) or its random port is taken: once more then.
      let out = await runSvcrack(running.port('udp'), join(dir, 'dict.txt'), 15_000);
      if (!/secret/.test(out)) out += '\n--- second run ---\n' + (await runSvcrack(running.port('udp'), join(dir, 'dict.txt'), 15_000));
      expect(out, out).toMatch(/secret/);
    } finally {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
