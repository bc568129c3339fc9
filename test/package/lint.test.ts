// Packaging (issue 18 §4): publint (package.json, exports, files) and arethetypeswrong (the types
// each resolution mode sees) on the packed tarball; source maps carry their sources (src/ is not shipped).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

describe('the packed package, linted', () => {
  let dir: string;
  let tarball: string;
  beforeAll(() => {
    expect(existsSync(`${root}dist/index.js`), 'run `npm run build` first').toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'nestjs-sip-pack-'));
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root, stdio: 'ignore' });
    tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
  }, 60_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('publint finds nothing, warnings included', () => {
    const out = execFileSync(bin('publint'), ['--strict', '--pack', 'false'], { cwd: root, encoding: 'utf8' });
    expect(out).toContain('All good');
  }, 60_000);

  it('arethetypeswrong: every entry point has types for ESM (node16, bundler); CommonJS require()s the ESM build', () => {
    // esm-only: the package is ESM; Node 22.12+ require(esm) runs it from CommonJS (see consumers.test.ts).
    const out = execFileSync(bin('attw'), [tarball, '--profile', 'esm-only', '--no-emoji', '--no-color'], { cwd: root, encoding: 'utf8' });
    for (const entry of ['"nestjs-sip"', '"nestjs-sip/prometheus"', '"nestjs-sip/terminus"', '"nestjs-sip/testing"']) expect(out).toContain(entry);
    // attw exits non-zero (execFileSync throws) on any problem the profile does not ignore.
  }, 60_000);

  it('source maps inline their sources (src/ is not in the package)', () => {
    const map = JSON.parse(readFileSync(`${root}dist/index.js.map`, 'utf8')) as { sources: string[]; sourcesContent?: string[] };
    expect(map.sourcesContent?.length).toBe(map.sources.length);
    expect(map.sourcesContent![0]).toContain('export');
  });
});
