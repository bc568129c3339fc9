// Driving the example's softphone page (example/softphone/) from a test, through its form. The
// functions given to page.evaluate run in the browser (globalThis is its window; no DOM types here).
import type { Page } from 'playwright-core';

export interface AudioStats {
  inbound?: { packetsReceived: number; bytesReceived: number };
  outbound?: { packetsSent: number; bytesSent: number };
  /** What the other side reported receiving (RTCP receiver reports), when it has. */
  remoteInbound?: { packetsReceived?: number; packetsLost: number };
  /** The selected ICE candidate pair's state. */
  pair?: string;
}

/** Fill in the form and press Register; the status line tells how it went. */
export async function register(page: Page, user: string, password: string): Promise<void> {
  await page.bringToFront();
  await installStats(page);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await page.click('#register-button');
}

/** Wait for the status line to match `re` (the page's status is its public face). */
export async function waitForStatus(page: Page, re: RegExp, timeout = 15_000): Promise<void> {
  try {
    await page.waitForFunction((src) => new RegExp(src).test((globalThis as any).document.getElementById('status').textContent ?? ''), re.source, { timeout });
  } catch (err) {
    const log = await page.evaluate(() => (globalThis as any).softphone?.log as string[]).catch(() => []);
    throw new Error(`status never matched ${re}; it went: ${JSON.stringify(log)}`, { cause: err });
  }
}

/** The call's audio statistics, from RTCPeerConnection.getStats() in the page (undefined: no call). */
export function audioStats(page: Page): Promise<AudioStats | undefined> {
  return page.evaluate(() => (globalThis as any).softphoneStats());
}

/** Poll the call's statistics until `ok` holds for them; the last ones seen are in the error. */
export async function waitForStats(page: Page, ok: (s: AudioStats) => boolean, what: string, timeout = 10_000): Promise<AudioStats> {
  const end = Date.now() + timeout;
  let last: AudioStats | undefined;
  for (;;) {
    last = await audioStats(page);
    if (last !== undefined && ok(last)) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last stats: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** window.softphoneStats(): the numbers the tests read, from the call's peer connection. */
async function installStats(page: Page): Promise<void> {
  await page.evaluate(() => {
    (globalThis as any).softphoneStats = async () => {
      const pc: any = (globalThis as any).softphone?.session?.sessionDescriptionHandler?.peerConnection;
      if (pc === undefined) return undefined;
      const out: Record<string, unknown> = {};
      (await pc.getStats()).forEach((s: any) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') out.inbound = { packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived };
        else if (s.type === 'outbound-rtp' && s.kind === 'audio') out.outbound = { packetsSent: s.packetsSent, bytesSent: s.bytesSent };
        else if (s.type === 'remote-inbound-rtp' && s.kind === 'audio') out.remoteInbound = { packetsReceived: s.packetsReceived, packetsLost: s.packetsLost };
        else if (s.type === 'candidate-pair' && s.nominated) out.pair = s.state;
      });
      return out;
    };
  });
}
