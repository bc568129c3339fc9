// The example's softphone page in a real browser (issue 14): headless Chromium loads it from the
// example's HTTP port, registers over the WebSocket leg with a SIP_USERS password, calls `echo`,
// and hears itself: the echo answers the WebRTC offer (ICE, DTLS-SRTP) and loops the audio back.
// Then two tabs: alice calls bob, bob answers with the page's button, audio flows both ways
// through the example's proxy (ws leg to ws leg), and alice hangs up.
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../example/main.js';
import { EchoService } from '../../example/echo/echo.service.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { launchChromium, type Browser } from '../helpers/chromium.js';
import { waitUntil } from '../helpers/wait.js';
import { register, waitForStats, waitForStatus } from './page.js';

const chromium = peerTool('chromium');

describe('the softphone page (headless Chromium)', () => {
  it('chromium is installed (required in CI)', () => {
    if (inCI()) expect(chromium.available, 'chromium (Debian chromium) is required in CI').toBe(true);
    else if (!chromium.available) console.warn('chromium missing: the browser tests were SKIPPED');
  });

  describe.skipIf(!chromium.available)('with the example', () => {
    let app: INestApplicationContext | undefined;
    let browser: Browser | undefined;
    let url: string;
    // Media ports below Linux's ephemeral range (32768+), where the browser's and sipp's own sockets land.
    const first = 21000 + 2 * Math.floor(Math.random() * 5500);

    beforeAll(async () => {
      const started = await bootstrap({ HTTP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_USERS: 'alice:wonderland,bob:builder', SIP_MEDIA_PORTS: `${first}-${first + 9}` });
      app = started.app;
      url = started.httpUrl!;
      browser = await launchChromium();
    }, 30_000);
    afterAll(async () => {
      await browser?.close();
      await app?.close();
    });

    it('a wrong password is refused; the page registers with the right one', async () => {
      const page = await browser!.context.newPage();
      await page.goto(`${url}/`);
      expect(await page.inputValue('#server')).toBe(`${url.replace('http', 'ws')}/sip`);
      await register(page, 'alice', 'guess');
      await waitForStatus(page, /registration refused: 403|registration refused: 401/);
      // Register can be pressed again, and the right password works.
      await page.waitForFunction(() => !(globalThis as any).document.getElementById('register-button').disabled);
      await page.fill('#password', 'wonderland');
      await page.click('#register-button');
      await waitForStatus(page, /registered as alice@/);
      await page.click('#unregister-button');
      await waitForStatus(page, /^not registered$/);
      await page.close();
    });

    it('calls echo, gets its own audio back (inbound RTP grows, outbound sent), hangs up and the BYE is answered', async () => {
      const page: Page = await browser!.context.newPage();
      await page.goto(`${url}/`);
      await register(page, 'alice', 'wonderland');
      await waitForStatus(page, /registered as alice@/);
      await page.fill('#target', 'echo');
      await page.click('#call-button');
      await waitForStatus(page, /in call with echo/);
      const echo = app!.get(EchoService);
      expect(echo.stats.calls).toBe(1);
      // Audio came back, and keeps coming: two samples, the second larger.
      const a = await waitForStats(page, (s) => (s.inbound?.packetsReceived ?? 0) > 0, 'audio from the echo');
      const b = await waitForStats(page, (s) => s.inbound!.packetsReceived > a.inbound!.packetsReceived + 10, 'more audio from the echo');
      expect(b.inbound!.bytesReceived).toBeGreaterThan(a.inbound!.bytesReceived);
      expect(b.outbound!.packetsSent).toBeGreaterThan(0);
      expect(b.pair).toBe('succeeded');
      expect(echo.stats.packets).toBeGreaterThan(0);
      await page.click('#hangup-button');
      await waitForStatus(page, /hung up \(BYE answered\)/);
      await waitUntil(() => echo.stats.calls === 0 && echo.stats.portsInUse === 0, 5000, 'the echo call to end and its ports to be free');
      await page.close();
    });

    it('two tabs: alice calls bob, bob answers, audio both ways (each hears the other), alice hangs up and bob sees the call end', async () => {
      const alice = await browser!.context.newPage();
      const bob = await browser!.context.newPage();
      await bob.goto(`${url}/`);
      await register(bob, 'bob', 'builder');
      await waitForStatus(bob, /registered as bob@/);
      await alice.goto(`${url}/`);
      await register(alice, 'alice', 'wonderland');
      await waitForStatus(alice, /registered as alice@/);
      await alice.fill('#target', 'bob');
      await alice.click('#call-button');
      await waitForStatus(bob, /incoming call from alice/);
      // The tab in front gets the clicks (a background tab gets no animation frames, which
      // playwright's checks before a click wait for).
      await bob.bringToFront();
      expect(await bob.isEnabled('#answer-button')).toBe(true);
      await bob.click('#answer-button');
      await waitForStatus(bob, /in call with alice/);
      await waitForStatus(alice, /in call with bob/);
      for (const [page, who] of [[alice, 'alice'], [bob, 'bob']] as const) {
        const a = await waitForStats(page, (s) => (s.inbound?.packetsReceived ?? 0) > 0, `audio reaching ${who}`);
        const b = await waitForStats(page, (s) => s.inbound!.packetsReceived > a.inbound!.packetsReceived + 10, `more audio reaching ${who}`);
        expect(b.inbound!.bytesReceived).toBeGreaterThan(a.inbound!.bytesReceived);
        expect(b.outbound!.packetsSent).toBeGreaterThan(0);
      }
      await alice.bringToFront();
      await alice.click('#hangup-button');
      await waitForStatus(alice, /hung up \(BYE answered\)/);
      await waitForStatus(bob, /call with alice ended/);
      await alice.close();
      await bob.close();
    });
  });
});
