// The echo's WebRTC side without a browser (the browser tests in test/browser/ prove the media):
// what it answers to a browser's offer, its bounds (SIP_ECHO_WEBRTC_CALLS, the media ports), a
// call whose media never comes up, and that everything is closed when the call ends.
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import * as dgram from 'node:dgram';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipClient, SipResponseError, type SipDialog, type SipResponse, type SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { EchoService } from '../../example/echo/echo.service.js';
import { isWebRtcOffer } from '../../example/echo/sdp-answer.js';
import { WebRtcEcho } from '../../example/echo/webrtc-echo.js';
import { waitUntil } from '../helpers/wait.js';

/** Chromium 156's offer for one microphone (what SIP.js sends), its candidate on a dead port. */
const CHROME_OFFER = [
  'v=0',
  'o=- 3656932696679487456 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS f6514fed-f5d9-4bdf-a044-70860a750fa7',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 127.0.0.1',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:3485235689 1 udp 2122194687 127.0.0.1 9 typ host generation 0 network-id 3 network-cost 50',
  'a=ice-ufrag:trMX',
  'a=ice-pwd:/sM3gsmSsNzq8OwaCxJc6uMV',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 9A:A7:38:26:09:B9:58:7F:5B:23:0E:3D:2F:9A:A0:DC:2A:54:45:43:C3:BC:FA:08:2C:54:64:43:F4:E8:90:7C',
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=sendrecv',
  'a=msid:f6514fed-f5d9-4bdf-a044-70860a750fa7 214b33cc-e2d5-4b69-ad4b-d1aa533741d5',
  'a=rtcp-mux',
  'a=rtcp-rsize',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
  'a=ssrc:157999460 cname:ieip7UcKomOTFEnk',
  '',
].join('\r\n');

/** Whether `port` can be bound on 127.0.0.1 (nobody holds it). */
async function free(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}

describe('the WebRTC echo endpoint (werift)', () => {
  it('tells WebRTC offers from plain RTP ones', () => {
    expect(isWebRtcOffer(CHROME_OFFER)).toBe(true);
    expect(isWebRtcOffer(CHROME_OFFER.replace('UDP/TLS/RTP/SAVPF', 'RTP/AVP'))).toBe(false);
    expect(isWebRtcOffer(CHROME_OFFER.replace('m=audio 9 ', 'm=audio 0 '))).toBe(false); // declined stream
  });

  it('answers ICE-lite with DTLS-SRTP on the configured address and its two ports, Opus at the offered type; dies when the media never comes up; close frees the ports', async () => {
    const port = 21000 + 2 * Math.floor(Math.random() * 5500);
    const { echo, sdp } = await WebRtcEcho.answer(CHROME_OFFER, '127.0.0.1', port, 0.3);
    try {
      expect(sdp).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 111 0 8\r$/m);
      expect(sdp).toMatch(/^a=rtpmap:111 opus\/48000\/2\r$/m);
      expect(sdp).toContain('a=ice-lite');
      expect(sdp).toContain('a=rtcp-mux');
      expect(sdp).toMatch(/^a=setup:active\r$/m);
      expect(sdp).toMatch(/^a=fingerprint:sha-256 [0-9A-F:]{95}\r$/m);
      expect(sdp).toMatch(/^a=sendrecv\r$/m);
      const candidates = sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
      expect(candidates.length).toBeGreaterThan(0);
      for (const c of candidates) expect(c).toMatch(new RegExp(` udp \\d+ 127\\.0\\.0\\.1 (${port}|${port + 1}) typ host`));
      let dead = false;
      echo.onDead = () => (dead = true);
      await waitUntil(() => dead, 3000, 'onDead after the connect timeout');
    } finally {
      echo.close();
    }
    for (const p of [port, port + 1]) {
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = await free(p);
        if (!ok) await new Promise((r) => setTimeout(r, 20));
      }
      expect(ok, `port ${p} free again`).toBe(true);
    }
  });

  it('on a wildcard address (SIP_HOST=0.0.0.0) its candidates are this host\'s addresses, loopback included, within its two ports', async () => {
    const port = 21000 + 2 * Math.floor(Math.random() * 5500);
    const { echo, sdp } = await WebRtcEcho.answer(CHROME_OFFER, '0.0.0.0', port, 5);
    try {
      const candidates = sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
      expect(candidates.some((c) => c.includes(' 127.0.0.1 '))).toBe(true);
      for (const c of candidates) expect(c).toMatch(new RegExp(` udp \\d+ \\S+ (${port}|${port + 1}) typ host`));
      expect(sdp).not.toContain('0.0.0.0 ' + port);
    } finally {
      echo.close();
    }
  });

  it('refuses an offer without Opus or G.711', async () => {
    const offer = CHROME_OFFER.replace(/^a=rtpmap:(111|0|8) .*\r\n/gm, '');
    await expect(WebRtcEcho.answer(offer, '127.0.0.1', 21000 + 2 * Math.floor(Math.random() * 5500), 1)).rejects.toThrow(/no Opus, PCMU or PCMA/);
  });
});

describe('the echo answers browsers (SIP_ECHO_WEBRTC_CALLS)', () => {
  let app: INestApplicationContext | undefined;
  let server: SipServer;
  let echo: EchoService;
  let client: SipClient;
  // Media ports below Linux's ephemeral range (32768+), where the browser's and sipp's own sockets land.
  const first = 21000 + 2 * Math.floor(Math.random() * 5500);
  const call = (body: string): Promise<SipDialog> =>
    client.invite({ uri: `sip:echo@127.0.0.1:${server.addresses[0]!.port}`, headers: { 'Content-Type': 'application/sdp' }, body }, { signal: AbortSignal.timeout(8000) });
  const refusal = (p: Promise<unknown>): Promise<SipResponse> =>
    p.then(
      () => Promise.reject(new Error('answered 2xx')),
      (err: unknown) => (err instanceof SipResponseError ? err.response : Promise.reject(err)),
    );

  beforeAll(async () => {
    ({ app, server } = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_ECHO_WEBRTC_CALLS: '1', SIP_MEDIA_PORTS: `${first}-${first + 9}` }));
    echo = app.get(EchoService);
    client = new SipClient({ localHost: '127.0.0.1' });
  });
  afterAll(async () => {
    await client?.close();
    await app?.close();
  });

  it('one WebRTC call at most: the second is busy (486) while the first runs, answered again once it ended; its ports go back', async () => {
    const dialog = await call(CHROME_OFFER);
    expect(dialog.remoteSdp).toContain('a=ice-lite');
    await waitUntil(() => echo.stats.calls === 1, 3000, 'the call established');
    // Hold (the browser's re-offer, sendonly) is answered recvonly; resume sendrecv again.
    const hold = CHROME_OFFER.replace('a=sendrecv', 'a=sendonly').replace(' 2 IN IP4', ' 3 IN IP4');
    const held = await lastValueFrom(dialog.reinvite({ contentType: 'application/sdp', body: hold }));
    expect(held.body.toString()).toMatch(/^a=recvonly\r$/m);
    const resumed = await lastValueFrom(dialog.reinvite({ contentType: 'application/sdp', body: CHROME_OFFER.replace(' 2 IN IP4', ' 4 IN IP4') }));
    expect(resumed.body.toString()).toMatch(/^a=sendrecv\r$/m);
    expect(echo.stats.portsInUse).toBe(1);
    const busy = await refusal(call(CHROME_OFFER));
    expect([busy.status, busy.headers.get('warning')]).toEqual([486, '399 - "too many WebRTC echo calls"']);
    // A plain RTP call is not counted against the WebRTC limit.
    const plain = await call('v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n');
    await lastValueFrom(plain.bye());
    await lastValueFrom(dialog.bye());
    await waitUntil(() => echo.stats.calls === 0 && echo.stats.portsInUse === 0, 3000, 'the calls ended and their ports released');
    const again = await call(CHROME_OFFER);
    await lastValueFrom(again.bye());
    await waitUntil(() => echo.stats.portsInUse === 0, 3000, 'released again');
    // Two at once (the second arrives while the first is being answered): still one.
    const both = await Promise.allSettled([call(CHROME_OFFER), call(CHROME_OFFER)]);
    const answered = both.filter((r): r is PromiseFulfilledResult<SipDialog> => r.status === 'fulfilled');
    expect(answered).toHaveLength(1);
    const refused = both.find((r) => r.status === 'rejected')!.reason as unknown;
    expect(refused instanceof SipResponseError && refused.response.status).toBe(486);
    await lastValueFrom(answered[0]!.value.bye());
    await waitUntil(() => echo.stats.portsInUse === 0, 3000, 'released after the pair');
  });

  it('SIP_ECHO_WEBRTC_CALLS=0: a WebRTC offer is refused 488, nothing taken', async () => {
    const off = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_ECHO_WEBRTC_CALLS: '0', SIP_MEDIA_PORTS: `${first + 10}-${first + 11}` });
    try {
      const res = await refusal(client.invite({ uri: `sip:echo@127.0.0.1:${off.server.addresses[0]!.port}`, headers: { 'Content-Type': 'application/sdp' }, body: CHROME_OFFER }, { signal: AbortSignal.timeout(5000) }));
      expect(res.status).toBe(488);
      expect(off.app.get(EchoService).stats.portsInUse).toBe(0);
    } finally {
      await off.app.close();
    }
  });
});
