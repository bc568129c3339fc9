import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Real SIP peers the interop tests drive. Outside CI a missing tool skips its tests, loudly;
 * in CI (CI=true) the `assertPeerInstalled` test fails instead, so a missing install step is red.
 */
export interface PeerTool {
  name: string;
  /** What to spawn: the name (found on PATH), or its path in an sbin directory PATH leaves out. */
  command: string;
  available: boolean;
  version?: string;
}

const cache = new Map<string, PeerTool>();

export function peerTool(name: 'sipp' | 'sipsak' | 'kamailio' | 'openssl' | 'baresip' | 'svcrack' | 'dnsmasq' | 'redis-server' | 'chromium'): PeerTool {
  let tool = cache.get(name);
  if (tool) return tool;
  const flag = name === 'sipp' ? '-v' : name === 'sipsak' ? '-V' : name === 'kamailio' ? '-v' : name === 'baresip' ? '-h' : name === 'svcrack' || name === 'dnsmasq' || name === 'redis-server' || name === 'chromium' ? '--version' : 'version';
  // Debian puts kamailio and dnsmasq in /usr/sbin, which a non-root user's PATH often lacks.
  let command: string = name;
  // Chromium's --version starts the browser's wrapper script: slower than the others.
  let r = spawnSync(command, [flag], { encoding: 'utf8', timeout: name === 'chromium' ? 20000 : 5000 });
  for (const alt of [`/usr/sbin/${name}`, `/usr/local/sbin/${name}`]) {
    if (r.error === undefined) break;
    if (!existsSync(alt)) continue;
    command = alt;
    r = spawnSync(alt, [flag], { encoding: 'utf8', timeout: 5000 });
  }
  const available = r.error === undefined;
  tool = { name, command, available, version: available ? (r.stdout + r.stderr).trim().split('\n').find((l) => l.trim())?.trim() : undefined };
  if (!available) {
    const line = '!'.repeat(78);
    console.warn(
      `\n${line}\n!! ${name} is NOT installed: the interop tests that need it are SKIPPED.\n` +
        `!! Install it (Debian: apt-get install ${name === 'sipp' ? 'sip-tester' : name === 'svcrack' ? 'sipvicious' : name === 'dnsmasq' ? 'dnsmasq-base' : name}) or run .ci/run.\n` +
        `!! In CI (CI=true) this is a failure, not a skip.\n${line}\n`,
    );
  }
  cache.set(name, tool);
  return tool;
}

export const inCI = (): boolean => process.env.CI === 'true' || process.env.CI === '1';
