// The example's test call (issue 11 §4), with sipp as the phone: `INVITE sip:echo@...` is answered
// 200 with a Contact and an SDP answer; RTP sent to the answer's port comes back to its sender; the
// example hangs up after SIP_ECHO_SECONDS (sipp answers its BYE), or sipp hangs up first; the media
// port is released either way. Over UDP and TCP. Then SipClient as the phone for what sipp's
// scenarios do not cover: 488 for offers it cannot answer, 486 when no media port is free, hold
// and resume (the answer mirrors the direction, the echo pauses), an offerless re-INVITE.
// (Units of the SDP reader, port range and reflector: echo-units.test.ts.)
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import * as dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastValueFrom } from 'rxjs';
import { SipClient, SipResponseError, type SipDialog, type SipResponse, type SipServer } from 'nestjs-sip';
import { EchoService } from '../../example/echo/echo.service.js';
import { bootstrap } from '../../example/main.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp, startSipp } from '../helpers/sipp.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const sipp = peerTool('sipp');

/**
 * Send `n` RTP packets to the media port of `answer` (our SDP) and count those that come back
 * byte-identical; waits for all of them, or `quietMs` when none should come.
 */
async function rtpEcho(answer: string | undefined, n: number, quietMs?: number): Promise<number> {
  const mediaPort = Number(/m=audio (\d+) /.exec(answer ?? '')?.[1]);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const sent = Array.from({ length: n }, (_, i) => Buffer.concat([Buffer.from([0x80, 0x00, 0, i]), Buffer.alloc(168, i)]));
  let back = 0;
  sock.on('message', (m) => {
    if (sent.some((s) => s.equals(m))) back++;
  });
  try {
    for (const s of sent) sock.send(s, mediaPort, '127.0.0.1');
    if (quietMs !== undefined) await sleep(quietMs);
    else await waitUntil(() => back === n, 3000, 'the RTP echo');
    return back;
  } finally {
    sock.close();
  }
}

describe('the echo test call with sipp', () => {
  it('sipp is installed (required in CI)', () => {
    if (inCI()) expect(sipp.available, 'sipp (Debian sip-tester) is required in CI').toBe(true);
    else if (!sipp.available) console.warn('sipp missing: the echo call tests were SKIPPED');
  });

  let app: INestApplicationContext;
  let server: SipServer;
  let echo: EchoService;
  const answers = new Map<string, SipDialog>();
  const port = (proto: 'udp' | 'tcp') => server.addresses.find((a) => a.proto === proto)!.port;
  const first = 30000 + 2 * Math.floor(Math.random() * 5000);

  beforeAll(async () => {
    ({ app, server } = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: '0', SIP_ECHO_SECONDS: '1.5', SIP_MEDIA_PORTS: `${first}-${first + 9}` }));
    echo = app.get(EchoService);
    server.on('dialog', (d: SipDialog) => answers.set(d.callId, d));
  });
  afterAll(async () => {
    killAllSipp();
    await app?.close();
  });

  describe.skipIf(!sipp.available).each(['udp', 'tcp'] as const)('over %s', (leg) => {
    it('answered with Contact and SDP; RTP comes back; the example hangs up after SIP_ECHO_SECONDS (sipp answers its BYE); the port is free again', async () => {
      const callId = `echo-${leg}-${Date.now()}`;
      const run = startSipp({ scenario: 'dialog-server-hangs-up.xml', target: `127.0.0.1:${port(leg)}`, transport: leg === 'udp' ? 'u1' : 't1', calls: 1, timeout: 15, args: ['-s', 'echo', '-cid_str', callId] });
      await waitUntil(() => answers.get(callId)?.state === 'confirmed' && echo.stats.calls > 0, 5000, 'the echo call answered and acknowledged');
      const dialog = answers.get(callId)!;
      expect(dialog.localContact).toBe(`<sip:echo@127.0.0.1:${port(leg)}${leg === 'udp' ? '' : ';transport=tcp'}>`);
      expect(await rtpEcho(dialog.localSdp, 5)).toBe(5);
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

describe('the echo test call with SipClient as the phone (one media port)', () => {
  let app: INestApplicationContext;
  let server: SipServer;
  let echo: EchoService;
  let client: SipClient;
  const mediaPort = 30000 + 2 * Math.floor(Math.random() * 5000);
  const offer = (...media: string[]): string =>
    ['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', ...(media.length > 0 ? media : ['m=audio 4000 RTP/AVP 8 0', 'a=rtpmap:8 PCMA/8000'])].join('\r\n') + '\r\n';
  const call = (body?: string): Promise<SipDialog> => {
    const uri = `sip:echo@127.0.0.1:${server.addresses[0]!.port}`;
    return client.invite(body === undefined ? { uri } : { uri, headers: { 'Content-Type': 'application/sdp' }, body }, { signal: AbortSignal.timeout(5000) });
  };
  const refusal = (p: Promise<unknown>): Promise<SipResponse> =>
    p.then(
      () => Promise.reject(new Error('answered 2xx')),
      (err: unknown) => (err instanceof SipResponseError ? err.response : Promise.reject(err)),
    );

  beforeAll(async () => {
    ({ app, server } = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_ECHO_SECONDS: '30', SIP_MEDIA_PORTS: `${mediaPort}-${mediaPort + 1}` }));
    echo = app.get(EchoService);
    client = new SipClient({ localHost: '127.0.0.1' });
  });
  afterAll(async () => {
    await client?.close();
    await app?.close();
  });

  it('488 Not Acceptable Here for no offer, no audio, or an offer it cannot read; no port taken', async () => {
    for (const body of [undefined, offer('m=video 5000 RTP/AVP 31'), offer('m=audio 4000 RTP/SAVP 0'), 'v=0\r\nm=audio x\r\n']) {
      const res = await refusal(call(body));
      expect(res.status, String(body)).toBe(488);
      expect(res.headers.get('warning')).toMatch(/^304 /);
    }
    expect(echo.stats.portsInUse).toBe(0);
  });

  it('answers the first codec; hold (sendonly) is answered recvonly on the same port and pauses the echo; resume and an offerless re-INVITE; busy (486) while the only port is taken, free again after BYE', async () => {
    const dialog = await call(offer('m=video 5000 RTP/AVP 31', 'm=audio 4000 RTP/AVP 8 0', 'a=rtpmap:8 PCMA/8000'));
    expect(dialog.remoteSdp).toMatch(new RegExp(`m=video 0 RTP/AVP 31\r\nm=audio ${mediaPort} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n`));
    await waitUntil(() => echo.stats.calls === 1, 3000, 'the call established');
    expect(await rtpEcho(dialog.remoteSdp, 3)).toBe(3);

    // No free port: the next caller is told so.
    const busy = await refusal(call(offer()));
    expect([busy.status, busy.headers.get('warning')]).toEqual([486, '399 - "no free media port"']);

    const held = await lastValueFrom(dialog.reinvite({ contentType: 'application/sdp', body: offer('m=video 5000 RTP/AVP 31', 'm=audio 4000 RTP/AVP 8', 'a=sendonly') }));
    expect(held.body.toString()).toMatch(new RegExp(`m=audio ${mediaPort} RTP/AVP 8\r\n(.*\r\n)?a=recvonly\r\n`));
    expect(held.body.toString()).toMatch(/^o=nestjs-sip-echo \d+ 2 /m);
    expect(await rtpEcho(dialog.remoteSdp, 3, 150)).toBe(0);

    await lastValueFrom(dialog.reinvite({ contentType: 'application/sdp', body: offer('m=video 5000 RTP/AVP 31', 'm=audio 4000 RTP/AVP 8', 'a=sendrecv') }));
    expect(dialog.remoteSdp).toContain('a=sendrecv\r\n');
    expect(await rtpEcho(dialog.remoteSdp, 3)).toBe(3);

    // A session refresh without an offer: our session as it stands, same version, is the offer.
    const before = dialog.remoteSdp;
    const refresh = await lastValueFrom(dialog.reinvite());
    expect(refresh.body.toString()).toBe(before);

    await lastValueFrom(dialog.bye());
    await waitUntil(() => echo.stats.portsInUse === 0, 3000, 'the media port released');
    const next = await call(offer());
    expect(next.remoteSdp).toContain(`m=audio ${mediaPort} `);
    await lastValueFrom(next.bye());
    await waitUntil(() => echo.stats.portsInUse === 0, 3000, 'the media port released again');
  });
});

describe('the echo test call on a wildcard address (SIP_HOST=0.0.0.0)', () => {
  it('the SDP answer names the address the caller reaches, not 0.0.0.0, and the echo works there', async () => {
    const mediaPort = 30000 + 2 * Math.floor(Math.random() * 5000);
    const { app, server } = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '0.0.0.0', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_MEDIA_PORTS: `${mediaPort}-${mediaPort + 1}` });
    const client = new SipClient({ localHost: '127.0.0.1' });
    try {
      const body = 'v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
      const dialog = await client.invite({ uri: `sip:echo@127.0.0.1:${server.addresses[0]!.port}`, headers: { 'Content-Type': 'application/sdp' }, body }, { signal: AbortSignal.timeout(5000) });
      expect(dialog.remoteSdp).toContain('\r\nc=IN IP4 127.0.0.1\r\n');
      expect(dialog.remoteSdp).toMatch(/^o=nestjs-sip-echo \d+ 1 IN IP4 127\.0\.0\.1$/m);
      expect(await rtpEcho(dialog.remoteSdp, 2)).toBe(2);
      await lastValueFrom(dialog.bye());
    } finally {
      await client.close();
      await app.close();
    }
  });
});
