// baresip as a headless softphone for the example's tests: a config and accounts file in a folder
// of the test's, no sound card (a 440 Hz tone as the microphone, so Opus, and a sink as the
// speaker), commands on its stdin (stdio module), its output collected, stopped by its pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomPort } from '../client/support.js';
import { peerTool } from './peers.js';

export interface Phone {
  child: ChildProcess;
  /** Everything it printed so far. */
  out(): string;
  /** A command on its stdin (stdio module), e.g. '/hangup'. */
  say(cmd: string): void;
}

export interface PhoneOptions {
  /** Audio (tone source, Opus, a sink) and the stdio menu; off: registration only. Default on. */
  media?: boolean;
  /** A CA file to verify TLS servers with. */
  cafile?: string;
  /** Extra command-line arguments (e.g. ['-e', '/dial ...']). */
  args?: string[];
  /** More modules to load (e.g. ['ice.so', 'dtls_srtp.so'] to talk to a browser). */
  modules?: string[];
  /** More config lines (e.g. 'rtcp_mux yes'). */
  config?: string[];
}

/** Write `dir`'s config and accounts (one line each) and start baresip on them. */
export function startPhone(dir: string, accounts: string[], o: PhoneOptions = {}): Phone {
  mkdirSync(dir, { recursive: true });
  const media = o.media !== false;
  writeFileSync(
    join(dir, 'config'),
    [
      'poll_method epoll',
      `sip_listen 127.0.0.1:${randomPort()}`,
      ...(o.cafile !== undefined ? [`sip_cafile ${o.cafile}`] : []),
      ...(media ? ['audio_player aubridge,sink', 'audio_source ausine,440', 'audio_alert aubridge,sink'] : []),
      'module_path /usr/lib/baresip/modules',
      ...(media ? ['module stdio.so', 'module opus.so', 'module ausine.so', 'module aubridge.so'] : []),
      ...(o.modules ?? []).map((m) => `module ${m}`),
      ...(o.config ?? []),
      'module_app account.so',
      ...(media ? ['module_app menu.so', 'rtp_stats yes'] : []), // rtp_stats: the end-of-call RTP summary
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'accounts'), accounts.join('\n') + '\n');
  const child = spawn(peerTool('baresip').command, ['-f', dir, ...(o.args ?? [])], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, out: () => out, say: (cmd) => child.stdin!.write(`${cmd}\n`) };
}

/** Ask it to quit ('/quit', or SIGTERM without the stdio menu); SIGKILL after 3 s. */
export async function stopPhone(p: Phone | undefined, how: 'quit' | 'term' = 'quit'): Promise<void> {
  if (p === undefined || p.child.exitCode !== null) return;
  if (how === 'quit') p.say('/quit');
  else p.child.kill('SIGTERM');
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      p.child.kill('SIGKILL');
      resolve();
    }, 3000);
    p.child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    if (p.child.exitCode !== null) {
      clearTimeout(t);
      resolve();
    }
  });
}

/** A RTP summary (rtp_stats) that counts packets received. */
export const RECEIVED_RTP = /Receive:[\s\S]*packets:\s+\d+\s+[1-9]\d*/;
