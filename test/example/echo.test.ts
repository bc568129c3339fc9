// The example's test call (issue 11 §4), with sipp as the phone: `INVITE sip:echo@...` is answered
// 200 with a Contact and an SDP answer; RTP sent to the answer's port comes back to its sender; the
// example hangs up after SIP_ECHO_SECONDS (sipp answers its BYE), or sipp hangs up first; the media
// port is released either way. Over UDP and TCP. (Units of the SDP answer and the port range:
// echo-units.test.ts.)
import 'reflect-metadata';
import type { INestMicroservice } from '@nestjs/common';
import * as dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipDialog, SipServer } from 'nestjs-sip';
import { EchoService } from '../../example/echo/echo.service.js';
import { bootstrap } from '../../example/main.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp, startSipp } from '../helpers/sipp.js';
import { waitUntil } from '../helpers/wait.js';

const sipp = peerTool('sipp');

describe('the echo test call with sipp', () => {
  it('sipp is installed (required in CI)', () => {
    if (inCI()) expect(sipp.available, 'sipp (Debian sip-tester) is required in CI').toBe(true);
    else if (!sipp.available) console.warn('sipp missing: the echo call tests were SKIPPED');
  });

  let app: INestMicroservice;
  let server: SipServer;
  let echo: EchoService;
  const answers = new Map<string, SipDialog>();
  const port = (proto: 'udp' | 'tcp') => server.addresses.find((a) => a.proto === proto)!.port;
  const first = 30000 + 2 * Math.floor(Math.random() * 5000);

  beforeAll(async () => {
    ({ app, server } = await bootstrap({ SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: '0', SIP_ECHO_SECONDS: '1.5', SIP_MEDIA_PORTS: `${first}-${first + 9}` }));
    echo = app.get(EchoService);
    server.on('dialog', (d: SipDialog) => answers.set(d.callId, d));
  });
  afterAll(async () => {
    killAllSipp();
    await app?.close();
  });

  /** Send `n` RTP-sized datagrams to the echo's media port (from the SDP answer) and count what comes back, byte-identical. */
  async function rtpRoundTrip(dialog: SipDialog, n: number): Promise<number> {
    const mediaPort = Number(/m=audio (\d+) /.exec(dialog.localSdp ?? '')?.[1]);
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const sent = Array.from({ length: n }, (_, i) => Buffer.concat([Buffer.from([0x80, 0x00, 0, i]), Buffer.alloc(160, i)]));
    let back = 0;
    sock.on('message', (m) => {
      if (sent.some((s) => s.equals(m))) back++;
    });
    for (const s of sent) sock.send(s, mediaPort, '127.0.0.1');
    await waitUntil(() => back === n, 3000, 'the RTP echo');
    sock.close();
    return back;
  }

  describe.skipIf(!sipp.available).each(['udp', 'tcp'] as const)('over %s', (leg) => {
    it('answered with Contact and SDP; RTP comes back; the example hangs up after SIP_ECHO_SECONDS (sipp answers its BYE); the port is free again', async () => {
      const callId = `echo-${leg}-${Date.now()}`;
      const run = startSipp({ scenario: 'dialog-server-hangs-up.xml', target: `127.0.0.1:${port(leg)}`, transport: leg === 'udp' ? 'u1' : 't1', calls: 1, timeout: 15, args: ['-s', 'echo', '-cid_str', callId] });
      await waitUntil(() => answers.get(callId)?.state === 'confirmed' && echo.stats.calls > 0, 5000, 'the echo call answered and acknowledged');
      const dialog = answers.get(callId)!;
      expect(dialog.localContact).toBe(`<sip:echo@127.0.0.1:${port(leg)}${leg === 'udp' ? '' : ';transport=tcp'}>`);
      expect(await rtpRoundTrip(dialog, 5)).toBe(5);
      const r = await run.done;
      expect([r.code, r.successful, r.failed], `${r.errors}\n${r.stdout.slice(-1500)}`).toEqual([0, 1, 0]);
      expect(dialog.end).toMatchObject({ reason: 'bye', by: 'local' });
      await waitUntil(() => echo.stats.portsInUse === 0, 3000, 'the media port released');
    });

    it('sipp hangs up first: the call ends on its BYE and the port is released', async () => {
      const callId = `echo-bye-${leg}-${Date.now()}`;
      const run = startSipp({ scenario: 'dialog-caller-hangs-up.xml', target: `127.0.0.1:${port(leg)}`, transport: leg === 'udp' ? 'u1' : 't1', calls: 1, timeout: 15, args: ['-s', 'echo', '-cid_str', callId] });
      const r = await run.done;
      expect([r.code, r.successful, r.failed], `${r.errors}\n${r.stdout.slice(-1500)}`).toEqual([0, 1, 0]);
      await waitUntil(() => answers.get(callId)?.end !== undefined, 3000, 'the dialog ended');
      expect(answers.get(callId)!.end).toMatchObject({ reason: 'bye', by: 'remote' });
      await waitUntil(() => echo.stats.portsInUse === 0, 3000, 'the media port released');
    });
  });
});
