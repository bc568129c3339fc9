import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../../dist-example/main.js', import.meta.url));

// `npm test` builds the example first (npm run build:example), as `npm start` does.
describe('npm start process', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`starts on the configured ports and exits cleanly on ${signal}`, async () => {
      expect(existsSync(main), 'run `npm run build:example` first').toBe(true);
      const child = spawn(process.execPath, [main], {
        env: { ...process.env, SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: '0', NO_COLOR: '1' },
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
