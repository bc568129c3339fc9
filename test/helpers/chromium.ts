// Headless Chromium (Debian's `chromium`) for the browser tests, driven by playwright-core: a fresh
// profile in a temporary folder (removed at the end), fake microphone and camera (a beep), the
// permission prompt answered yes, nothing fetched from outside (the network here is closed).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  // ICE on one machine: Chromium leaves loopback out of its candidates by default, and a host
  // with only `lo` (a CI container) would have none; with it, 127.0.0.1 pairs with the example's.
  '--allow-loopback-in-peer-connection',
  // Two tabs in one test: the one in the background must not have its timers slowed to 1/s.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  // Real host addresses in the candidates, not mDNS `.local` names nothing here resolves.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/** Debian's Chromium (the wrapper script in /usr/bin, which sets its flags and library path). */
const EXECUTABLE = '/usr/bin/chromium';

/**
 * `loopback: false` leaves out --allow-loopback-in-peer-connection: ICE then uses the machine's
 * real interfaces only (for peers that never offer a loopback candidate, such as baresip).
 */
export async function launchChromium(o: { loopback?: boolean } = {}): Promise<Browser> {
  const args = o.loopback === false ? CHROMIUM_ARGS.filter((a) => a !== '--allow-loopback-in-peer-connection') : CHROMIUM_ARGS;
  const profile = mkdtempSync(join(tmpdir(), 'nestjs-sip-chromium-'));
  const stop = () => {
    for (const pid of pidsUsing(profile)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    rmSync(profile, { recursive: true, force: true });
  };
  let context: BrowserContext;
  try {
    // A persistent context is the one way to give Chromium our own --user-data-dir.
    context = await chromium.launchPersistentContext(profile, { executablePath: EXECUTABLE, args, headless: true, timeout: 20_000 });
  } catch (err) {
    stop();
    throw err;
  }
  return {
    context,
    async close() {
      await Promise.race([context.close().catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
      stop(); // whatever did not exit: by pid (each of its processes names our profile folder)
    },
  };
}

/** The processes whose command line names `profile` (this browser's, and only this one's). */
function pidsUsing(profile: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(profile)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
