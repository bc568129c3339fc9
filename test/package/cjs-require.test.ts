import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

// `npm test` builds dist/ first; these tests check what a consumer of the published package gets.
describe('the built package', () => {
  it('has ESM JavaScript and type declarations in dist/', () => {
    expect(existsSync(`${root}dist/index.js`), 'run `npm run build` first').toBe(true);
    expect(existsSync(`${root}dist/index.d.ts`)).toBe(true);
  });

  it('can be required from CommonJS on Node 20.19+ (require(esm))', () => {
    const script = `
      const sip = require('nestjs-sip');
      const m = sip.parseMessage('OPTIONS sip:a@b SIP/2.0\\r\\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\\r\\nCSeq: 1 OPTIONS\\r\\nContent-Length: 0\\r\\n\\r\\n');
      process.stdout.write(JSON.stringify({ method: m.method, names: Object.keys(sip).sort() }));
    `;
    const out = execFileSync(process.execPath, ['--no-warnings', '-e', script], { cwd: root, encoding: 'utf8' });
    const parsed = JSON.parse(out) as { method: string; names: string[] };
    expect(parsed.method).toBe('OPTIONS');
    for (const name of ['parseMessage', 'SipRequest', 'SipResponse', 'SipParseError', 'StreamFramer']) expect(parsed.names).toContain(name);
  });

  it('can be imported as ESM by name', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', "import { SipRequest } from 'nestjs-sip'; process.stdout.write(typeof SipRequest)"], { cwd: root, encoding: 'utf8' });
    expect(out).toBe('function');
  });
});
