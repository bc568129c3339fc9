// The softphone page as `npm start` serves it: the built example (dist-example/, which holds only
// what tsc emits) finds example/softphone/ and SIP.js in node_modules; static files only, nothing
// outside those two folders.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/wait.js';

const main = fileURLToPath(new URL('../../dist-example/main.js', import.meta.url));

describe('the built example serves the softphone page', () => {
  it('/ is the page, /app.js its script, /vendor/sip.js/ SIP.js as ES modules; nothing else from disk', async () => {
    expect(existsSync(main), 'run `npm run build:example` first').toBe(true);
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, HTTP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      await waitUntil(() => /the softphone page: http:\/\/\S+\//.test(out), 15_000, `the example to start:\n${out}`);
      const base = /the softphone page: (http:\/\/\S+)\//.exec(out)![1]!;
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page.text()).toContain('<script type="module" src="app.js"></script>');
      const app = await fetch(`${base}/app.js`);
      expect(app.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(await app.text()).toContain("from '/vendor/sip.js/index.js'");
      const sipjs = await fetch(`${base}/vendor/sip.js/index.js`);
      expect(sipjs.status).toBe(200);
      expect(sipjs.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(await sipjs.text()).toMatch(/export \* from "\.\/api\/index\.js"/);
      // No way out of the two folders, encoded or not.
      for (const path of ['/vendor/sip.js/../../package.json', '/vendor/sip.js/%2e%2e/%2e%2e/package.json', '/../package.json', '/%2e%2e/main.ts']) {
        const r = await fetch(`${base}${path}`);
        expect(r.status, path).toBe(404);
      }
      expect((await fetch(`${base}/metrics`)).status).toBe(200); // the routes beside it still answer
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    }
  });
});
