// deploy/README.md cannot drift from the kit: its commands run (the runner with --dry-run, Kamailio
// with -c, a config check that binds nothing), every setting its table names is one kamailio.cfg
// defines (and the other way round, with the same default), and every runner option it names exists.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BALANCER_CFG, RUNNER } from '../helpers/deploy.js';
import { peerTool } from '../helpers/peers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(join(root, 'deploy/README.md'), 'utf8');
const cfg = readFileSync(BALANCER_CFG, 'utf8');
const bash = [...readme.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
const dir = mkdtempSync(join(tmpdir(), 'deploy-readme-'));
const list = join(dir, 'dispatcher.list');
const kamailio = peerTool('kamailio');

describe('deploy/README.md', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has only bash blocks, and its build command is the package script', () => {
    const langs = [...readme.matchAll(/^```(\w*)$/gm)].map((m) => m[1]).filter((_, i) => i % 2 === 0);
    expect(langs.filter((l) => l !== 'bash' && l !== '')).toEqual([]);
    expect(bash[0]!.split('\n')[0]).toBe('npm ci && npm run build:example');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['build:example']).toBeTruthy();
  });

  it('its run-instances command plans two instances and writes their dispatcher list (--dry-run)', () => {
    const line = bash.flatMap((b) => b.split('\n')).find((l) => / ?node deploy\/run-instances\.mjs /.test(l))!;
    expect(line).toBeDefined();
    // NAME=value words before `node` are its environment, as in the shell.
    const words = line.replace('/tmp/dispatcher.list', list).split(' ');
    const at = words.indexOf('node');
    const env = Object.fromEntries(words.slice(0, at).map((w) => w.split('=') as [string, string]));
    expect(env).toEqual({ SIP_FRONT_PROXIES: '127.0.0.1' });
    const r = spawnSync(process.execPath, [...words.slice(at + 1), '--dry-run'], { cwd: root, encoding: 'utf8', timeout: 10_000, env: { ...process.env, ...env } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/instance 0 \(dry run\) sip 127\.0\.0\.1:5070 http 8081/);
    expect(r.stdout).toMatch(/instance 1 \(dry run\) sip 127\.0\.0\.1:5071 http 8082/);
    expect(readFileSync(list, 'utf8')).toMatch(/^1 sip:127\.0\.0\.1:5070 0 0 duid=instance-0\n1 sip:127\.0\.0\.1:5071 0 0 duid=instance-1\n$/m);
  });

  it.skipIf(!kamailio.available)('its kamailio command accepts the shipped config with that list (kamailio -c)', () => {
    const line = bash.flatMap((b) => b.split('\n')).find((l) => l.startsWith('kamailio '))!;
    expect(line).toMatch(/^kamailio -DD -E -f deploy\/kamailio\/kamailio\.cfg /);
    // The arguments as the shell would split them: single-quoted words.
    const words = [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1);
    const args = words.map((w) => w.replace('/tmp/dispatcher.list', list)).filter((w) => w !== '-DD' && w !== '-E');
    const r = spawnSync(kamailio.command, ['-c', ...args], { cwd: root, encoding: 'utf8', timeout: 10_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/udp: 127\.0\.0\.1 \[127\.0\.0\.1\]:5060/);
  });

  it('its settings table is exactly the settings kamailio.cfg defines, with their defaults', () => {
    const defined = new Map([...cfg.matchAll(/^#!trydef (\w+) (.+)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
    const optional = [...cfg.matchAll(/^#!ifdef (\w+)$/gm)].map((m) => m[1]!);
    const table = readme.slice(readme.indexOf('### Settings'), readme.indexOf('## Several hosts'));
    const rows = [...table.matchAll(/^\| (`[^|]+`) \| ([^|]+) \|/gm)].map((m) => ({ names: [...m[1]!.matchAll(/`(\w+)`/g)].map((n) => n[1]!), def: m[2]!.trim() }));
    const named = rows.flatMap((r) => r.names);
    expect([...named].sort()).toEqual([...new Set([...defined.keys(), ...optional])].sort());
    for (const r of rows) {
      const first = defined.get(r.names[0]!);
      if (first === undefined) continue; // a switch (#!ifdef): no default
      // The table's first default (before a comma) is the first name's value, quotes and all.
      const def = r.def.split(', ')[0]!.replace(/`/g, '');
      if (def !== 'off') expect(first.startsWith(def.replace(/\.\.\.$/, '')), `${r.names[0]}: ${def} vs ${first}`).toBe(true);
    }
  });

  it('every run-instances option it names exists', () => {
    const usage = spawnSync(process.execPath, [RUNNER, '--help'], { encoding: 'utf8' }).stdout;
    const named = new Set([...readme.matchAll(/`(--[a-z-]+)`/g)].map((m) => m[1]!));
    expect(named.size).toBeGreaterThan(4);
    for (const o of named) expect(usage, o).toContain(o);
  });
});
