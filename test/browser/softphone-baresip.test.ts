// The softphone page calls baresip (issue 14): baresip registers over UDP to the example, the page
// (headless Chromium) over the WebSocket leg; the page calls bob, the proxy carries the INVITE from
// the ws leg to the udp leg, baresip answers on its own, and WebRTC audio flows both ways between a
// browser and a SIP phone nobody here wrote: baresip speaks ICE and DTLS-SRTP (its ice and dtls_srtp
// modules) with rtcp-mux, as a browser must.
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { launchChromium, type Browser } from '../helpers/chromium.js';
import { RECEIVED_RTP, startPhone, stopPhone, type Phone } from '../helpers/baresip.js';
import { waitUntil } from '../helpers/wait.js';
import { register, waitForStats, waitForStatus } from './page.js';

const chromium = peerTool('chromium');

/**
 * This machine's first IPv4 address that is not loopback. ICE between Chromium and baresip 1.0 runs
 * on it alone: baresip's ice module never offers loopback (nor link-local) candidates, and when
 * Chromium also checks from 127.0.0.1 (--allow-loopback-in-peer-connection) baresip's controlled
 * agent takes the first pair that answered instead of the one Chromium nominated, and its
 * dtls_srtp then refuses Chromium's DTLS from the nominated pair ("dtls already accepted"): no
 * audio. So: Chromium without loopback, baresip bound to this address (no IPv6 pair either).
 */
function lanAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}
const lan = lanAddress();
const LOOPBACK_ONLY = 'this machine has no IPv4 address but loopback, and baresip 1.0 offers no loopback ICE candidates';
const baresip = peerTool('baresip');

describe('the softphone page calls baresip (headless Chromium, WebRTC audio both ways)', () => {
  it('chromium and baresip are installed, and the machine has an IPv4 address besides loopback (required in CI)', () => {
    if (inCI()) {
      expect(chromium.available, 'chromium is required in CI').toBe(true);
      expect(baresip.available, 'baresip is required in CI').toBe(true);
      expect(lan, LOOPBACK_ONLY).toBeDefined();
    } else if (!chromium.available || !baresip.available) console.warn('chromium or baresip missing: the page-to-baresip test was SKIPPED');
    else if (lan === undefined) console.warn(`${LOOPBACK_ONLY}: SKIPPED`);
  });

  describe.skipIf(!chromium.available || !baresip.available || lan === undefined)('with the example', () => {
    let app: INestApplicationContext | undefined;
    let server: SipServer;
    let browser: Browser | undefined;
    let bob: Phone | undefined;
    let url: string;
    let dir: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'baresip-webrtc-'));
      const started = await bootstrap({ HTTP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_USERS: 'alice:wonderland,bob:builder' });
      ({ app, server } = started);
      url = started.httpUrl!;
      browser = await launchChromium({ loopback: false });
    }, 30_000);
    afterAll(async () => {
      await stopPhone(bob);
      await browser?.close();
      await app?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('the page calls bob on baresip (UDP): answered, audio both ways, the page hangs up and baresip answers the BYE', async () => {
      const udp = server.addresses.find((a) => a.proto === 'udp')!.port;
      // What a browser needs from a phone: ICE, DTLS-SRTP (UDP/TLS/RTP/SAVPF) and RTP/RTCP on one port.
      bob = startPhone(join(dir, 'bob'), [`<sip:bob@127.0.0.1:${udp}>;auth_pass=builder;answermode=auto;mediaenc=dtls_srtp;medianat=ice`], {
        modules: ['g711.so', 'ice.so', 'dtls_srtp.so'],
        config: ['rtcp_mux yes', `net_interface ${lan!}`],
      });
      const page = await browser!.context.newPage();
      try {
        await waitUntil(() => /@127\.0\.0\.1: .*200 OK/.test(bob!.out()), 15_000, 'baresip registered');
        await page.goto(`${url}/`);
        await register(page, 'alice', 'wonderland');
        await waitForStatus(page, /registered as alice@/);
        await page.fill('#target', 'bob');
        await page.click('#call-button');
        await waitForStatus(page, /in call with bob/);
        await waitUntil(() => /Call established/i.test(bob!.out()), 10_000, 'baresip answered');
        // baresip -> page: the page receives its audio, and keeps receiving.
        const a = await waitForStats(page, (s) => (s.inbound?.packetsReceived ?? 0) > 0, 'audio from baresip');
        const b = await waitForStats(page, (s) => s.inbound!.packetsReceived > a.inbound!.packetsReceived + 10, 'more audio from baresip');
        expect(b.inbound!.bytesReceived).toBeGreaterThan(a.inbound!.bytesReceived);
        // page -> baresip: sent, and baresip's RTCP receiver reports about it reached the page.
        const c = await waitForStats(page, (s) => s.remoteInbound !== undefined && (s.outbound?.packetsSent ?? 0) > 0, "baresip's receiver reports");
        expect(c.pair).toBe('succeeded');
        await page.click('#hangup-button');
        await waitForStatus(page, /hung up \(BYE answered\)/);
        // baresip's end-of-call summary: it received the page's audio.
        await waitUntil(() => RECEIVED_RTP.test(bob!.out()), 5000, "baresip's RTP summary with packets received");
        if (process.env.SHOW_PHONES) console.log(bob.out());
      } catch (err) {
        const sdp = await page.evaluate(() => (globalThis as any).softphone?.session?.sessionDescriptionHandler?.peerConnection?.remoteDescription?.sdp).catch(() => undefined);
        console.error(`--- baresip ---\n${bob.out().slice(-5000)}\n--- its answer ---\n${sdp}`);
        throw err;
      } finally {
        await page.close();
      }
    }, 40_000);
  });
});
