import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SipClient } from 'nestjs-sip';
import { waitUntil } from '../helpers/wait.js';

const main = fileURLToPath(new URL('../../dist-example/main.js', import.meta.url));

// `npm test` builds the example first (npm run build:example), as `npm start` does.
describe('npm start process', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`starts on the configured ports and exits cleanly on ${signal}`, async () => {
      expect(existsSync(main), 'run `npm run build:example` first').toBe(true);
      const child = spawn(process.execPath, [main], {
        env: { ...process.env, HTTP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: '0', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<string>((resolve) => child.on('exit', (code, sig) => resolve(code !== null ? `code ${code}` : `signal ${sig}`)));
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`did not start:\n${out}`)), 15_000);
        child.stdout.on('data', () => {
          if (out.includes('Nest microservice successfully started')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      expect(out).toMatch(/SIP listening on UDP 127\.0\.0\.1:\d+/);
      expect(out).toMatch(/SIP listening on TCP 127\.0\.0\.1:\d+/);
      child.kill(signal);
      const how = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('hung'), 10_000))]);
      if (how === 'hung') child.kill('SIGKILL');
      // Nest's shutdown hooks close the app, then re-raise the signal so the exit status tells it.
      expect(out).toContain('SIP server closed');
      expect([`signal ${signal}`, 'code 0']).toContain(how);
    });
  }
});

describe('npm start process with a call running', () => {
  it('SIGTERM hangs up the echo call with BYE before the transport closes', async () => {
    expect(existsSync(main), 'run `npm run build:example` first').toBe(true);
    const mediaPort = 30000 + 2 * Math.floor(Math.random() * 5000);
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, HTTP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_MEDIA_PORTS: `${mediaPort}-${mediaPort + 1}`, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const client = new SipClient({ localHost: '127.0.0.1' });
    try {
      await waitUntil(() => out.includes('Nest microservice successfully started'), 15_000, `the example to start:\n${out}`);
      const port = /SIP listening on UDP 127\.0\.0\.1:(\d+)/.exec(out)![1];
      const body = 'v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
      const dialog = await client.invite({ uri: `sip:echo@127.0.0.1:${port}`, headers: { 'Content-Type': 'application/sdp' }, body }, { signal: AbortSignal.timeout(5000) });
      child.kill('SIGTERM');
      const end = await Promise.race([dialog.terminated, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
      expect(end, out).toMatchObject({ reason: 'bye', by: 'remote' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
      expect(out).toContain('SIP server closed');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await client.close();
    }
  });
});
