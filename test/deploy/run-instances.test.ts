// deploy/run-instances.mjs on its own: bad options are refused with a clear message (exit 2,
// nothing started); with --restart (RESTART=1) a killed instance is started again on its port and
// answers again; SIGTERM reaches every instance, which closes cleanly, and the runner exits.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { askOnce, RUNNER, startInstances } from '../helpers/deploy.js';
import { waitUntil } from '../helpers/wait.js';

const run = (...args: string[]) => runWith({}, ...args);
const runWith = (env: Record<string, string>, ...args: string[]) =>
  spawnSync(process.execPath, [RUNNER, ...args], { encoding: 'utf8', timeout: 10_000, env: { ...process.env, INSTANCES: '', SIP_BASE_PORT: '', ...env } });

describe('deploy/run-instances.mjs', () => {
  it.each([
    [['-n', '0'], /--instances must be a whole number from 1 to 256, got "0"/],
    [['-n', '2', '--sip-port', '65535'], /--sip-port must be a whole number from 1 to 65534/],
    [['--http-port', 'eighty'], /--http-port must be a whole number/],
    [['--host', '0.0.0.0', '--dispatcher-list', '/nonexistent/list'], /--host 0\.0\.0\.0 is a wildcard: name the instances' address for Kamailio with --dispatcher-host/],
    [['--bogus'], /Unknown option '--bogus'[\s\S]*usage: node deploy\/run-instances\.mjs/],
  ])('refuses %j with exit 2 and says why', (args, why) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(r.stdout).not.toMatch(/instance \d+ pid/);
  });

  it('--help prints the usage', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--dispatcher-list FILE/);
  });

  it('--dry-run plans without starting; instances without UDP are listed for Kamailio over TCP', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploy-dry-'));
    try {
      const list = join(dir, 'dispatcher.list');
      const r = runWith({ SIP_UDP_PORT: 'off' }, '-n', '2', '--sip-port', '40000', '--http-port', 'off', '--set', '7', '--dispatcher-list', list, '--dry-run');
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/instance 1 \(dry run\) sip 127\.0\.0\.1:40001 http off media 20200-20399/);
      expect(r.stdout).not.toMatch(/pid/);
      expect(readFileSync(list, 'utf8')).toMatch(/^7 sip:127\.0\.0\.1:40000;transport=tcp 0 0 duid=instance-0\n7 sip:127\.0\.0\.1:40001;transport=tcp 0 0 duid=instance-1\n$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes the dispatcher list; --restart starts a killed instance again; SIGTERM stops them all cleanly', async () => {
    const app = await startInstances({ count: 1, env: { RESTART: '1' } });
    try {
      const [it0] = app.list;
      expect(readFileSync(app.listFile, 'utf8')).toMatch(new RegExp(`^1 sip:127\\.0\\.0\\.1:${it0!.sipPort} 0 0 duid=instance-0$`, 'm'));
      process.kill(it0!.pid, 'SIGKILL');
      await waitUntil(() => /instance 0 ready/.test(app.log()), 20_000, "instance 0 to be started again");
      const pids = [...app.log().matchAll(/instance 0 pid (\d+) sip 127\.0\.0\.1:(\d+)/g)];
      expect(pids).toHaveLength(2);
      expect(Number(pids[1]![1])).not.toBe(it0!.pid);
      expect(Number(pids[1]![2])).toBe(it0!.sipPort);
      expect(await askOnce(it0!.sipPort, 'OPTIONS', `sip:127.0.0.1:${it0!.sipPort}`)).toMatch(/^SIP\/2\.0 200 /);
    } finally {
      await app.stop();
    }
    expect(app.log()).toMatch(/run-instances: SIGTERM: stopping 1 instances/);
    expect(app.log()).toMatch(/\[0\] .*SIP server closed/);
    expect(app.log()).toMatch(/run-instances: all instances stopped/);
  }, 60_000);
});
