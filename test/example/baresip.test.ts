// baresip (a real softphone) calls the example's echo test (issue 11): the call is established
// (our 200 has a Contact baresip can ACK), RTP comes back, baresip puts the call on hold and back
// (re-INVITEs: the remote SDP the application sees changes), then hangs up: the application sees
// the BYE end the dialog. Headless: a temporary config, no sound card (a 440 Hz tone as its
// microphone, so Opus), commands on its stdin (stdio module); stopped by its pid.
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipDialog, SipServer } from 'nestjs-sip';
import { EchoService } from '../../example/echo/echo.service.js';
import { bootstrap } from '../../example/main.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { waitUntil } from '../helpers/wait.js';
import { RECEIVED_RTP, startPhone, stopPhone, type Phone } from '../helpers/baresip.js';

const baresip = peerTool('baresip');

describe('baresip calls the echo test', () => {
  it('baresip is installed (required in CI)', () => {
    if (inCI()) expect(baresip.available, 'baresip must be installed in CI (apt-get install baresip)').toBe(true);
    else if (!baresip.available) console.warn('baresip missing: the baresip echo test was SKIPPED');
  });

  let app: INestApplicationContext | undefined;
  let server: SipServer;
  let dir: string;
  let phone: Phone | undefined;
  const dialogs: SipDialog[] = [];

  beforeAll(async () => {
    if (!baresip.available) return;
    const first = 40000 + 2 * Math.floor(Math.random() * 4000);
    ({ app, server } = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_ECHO_SECONDS: '60', SIP_MEDIA_PORTS: `${first}-${first + 9}` }));
    server.on('dialog', (d: SipDialog) => dialogs.push(d));
    dir = mkdtempSync(join(tmpdir(), 'baresip-'));
  });

  afterAll(async () => {
    if (phone !== undefined && phone.child.exitCode === null) phone.child.kill('SIGKILL');
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!baresip.available)('established, RTP echoed, hold and resume change the remote SDP, baresip hangs up and the app sees the BYE', async () => {
    const port = server.addresses[0]!.port;
    // No sound card: a 440 Hz tone as the microphone (48 kHz, hence Opus), the speaker a sink.
    phone = startPhone(dir, ['<sip:tester@127.0.0.1>;regint=0'], { args: ['-e', `/dial sip:echo@127.0.0.1:${port}`] });
    const out = (): string => phone!.out();
    const say = (cmd: string) => phone!.say(cmd);
    const echo = app!.get(EchoService);
    try {
      await waitUntil(() => echo.stats.calls === 1, 8000, 'the call established (ACK received)');
      const dialog = dialogs.at(-1)!;
      const offered = dialog.remoteSdp ?? '';
      expect(offered).toMatch(/opus\/48000/);
      await waitUntil(() => echo.stats.packets > 10, 8000, 'RTP reflected');
      const answered = /m=audio (\d+) /.exec(dialog.localSdp ?? '')?.[1];
      say('/hold');
      await waitUntil(() => /a=sendonly/.test(dialog.remoteSdp ?? ''), 5000, 'the hold re-INVITE');
      expect(offered).not.toMatch(/a=sendonly/);
      // Our fresh answer: the same port, the hold mirrored (RFC 3264 §6.1).
      await waitUntil(() => /a=recvonly/.test(dialog.localSdp ?? ''), 3000, 'the answer to the hold');
      expect(/m=audio (\d+) /.exec(dialog.localSdp ?? '')?.[1]).toBe(answered);
      say('/resume');
      await waitUntil(() => !/a=sendonly/.test(dialog.remoteSdp ?? ''), 5000, 'the resume re-INVITE');
      say('/hangup');
      await waitUntil(() => dialog.end !== undefined, 5000, "baresip's BYE");
      expect(dialog.end).toMatchObject({ reason: 'bye', by: 'remote' });
      await waitUntil(() => echo.stats.portsInUse === 0, 3000, 'the media port released');
      await waitUntil(() => RECEIVED_RTP.test(out()), 3000, "baresip's RTP summary");
    } catch (err) {
      console.error(`--- baresip output ---\n${out().slice(-4000)}`);
      throw err;
    } finally {
      await stopPhone(phone);
    }
  }, 40_000);
});
