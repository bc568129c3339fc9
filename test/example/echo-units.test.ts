// Units of the echo test call: the SDP offer reader and answer writer (RFC 3264), the media port
// range, the reflector on real loopback sockets, and the release of calls that never start.
import * as dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { parseMessage, type SipContext, type SipDialog, type SipRequest } from 'nestjs-sip';
import { EchoService } from '../../example/echo/echo.service.js';
import { MediaPorts } from '../../example/echo/media-ports.js';
import { RtpReflector } from '../../example/echo/rtp-reflector.js';
import { answerDirection, audioAnswer, readAudioOffer } from '../../example/echo/sdp-answer.js';
import { waitUntil, sleep } from '../helpers/wait.js';

const sdp = (...lines: string[]): string => ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', ...lines].join('\r\n') + '\r\n';

describe('SDP answer', () => {
  it('answers the first offered codec with its rtpmap and fmtp, on our port, with one stream', () => {
    const o = readAudioOffer(sdp('m=audio 4000 RTP/AVP 96 8 101', 'a=rtpmap:96 opus/48000/2', 'a=fmtp:96 stereo=1', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15'))!;
    expect(o).toMatchObject({ payloadType: '96', rtpmap: 'rtpmap:96 opus/48000/2', fmtp: 'fmtp:96 stereo=1', direction: 'sendrecv', port: 4000 });
    const a = audioAnswer(o, '127.0.0.1', 20002, 1, 7);
    expect(a).toBe('v=0\r\no=nestjs-sip-echo 7 1 IN IP4 127.0.0.1\r\ns=echo\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20002 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1\r\na=sendrecv\r\n');
  });

  it('a static payload type needs no rtpmap; telephone-event and comfort noise are not the codec', () => {
    expect(readAudioOffer(sdp('m=audio 4000 RTP/AVP 13 0'))).toMatchObject({ payloadType: '0', rtpmap: undefined });
    expect(readAudioOffer(sdp('m=audio 4000 RTP/AVP 101 8', 'a=rtpmap:101 telephone-event/8000'))).toMatchObject({ payloadType: '8' });
    // Only events, or a dynamic type nobody named: no codec to answer.
    expect(readAudioOffer(sdp('m=audio 4000 RTP/AVP 101', 'a=rtpmap:101 telephone-event/8000'))).toBeUndefined();
    expect(readAudioOffer(sdp('m=audio 4000 RTP/AVP 97'))).toBeUndefined();
  });

  it('mirrors hold directions (RFC 3264 §6.1), media level over session level', () => {
    const dir = (...extra: string[]) => readAudioOffer(sdp('m=audio 4000 RTP/AVP 0', ...extra))!.direction;
    expect([dir(), dir('a=sendonly'), dir('a=recvonly'), dir('a=inactive'), dir('a=sendrecv')]).toEqual(['sendrecv', 'sendonly', 'recvonly', 'inactive', 'sendrecv']);
    expect(['sendrecv', 'sendonly', 'recvonly', 'inactive'].map(answerDirection)).toEqual(['sendrecv', 'recvonly', 'sendonly', 'inactive']);
    const session = ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'a=sendonly', 'm=audio 4000 RTP/AVP 0'].join('\r\n');
    expect(readAudioOffer(session)!.direction).toBe('sendonly');
    expect(readAudioOffer(session + '\r\na=inactive')!.direction).toBe('inactive');
    expect(audioAnswer(readAudioOffer(session)!, '127.0.0.1', 20002, 2, 7)).toContain('a=recvonly\r\n');
  });

  it('one answer line per offered stream, in order: the others declined with port 0 (RFC 3264 §6)', () => {
    const o = readAudioOffer(sdp('m=video 5000 RTP/AVP 31', 'm=audio 4000 RTP/SAVP 0', 'm=audio 4002 RTP/AVPF 8', 'm=audio 4004 RTP/AVP 0'))!;
    expect(o).toMatchObject({ index: 2, proto: 'RTP/AVPF', payloadType: '8', port: 4002 });
    expect(audioAnswer(o, '::1', 20002, 1, 7).split('\r\n').filter((l) => l.startsWith('m=') || l.startsWith('c='))).toEqual([
      'c=IN IP6 ::1',
      'm=video 0 RTP/AVP 31',
      'm=audio 0 RTP/SAVP 0',
      'm=audio 20002 RTP/AVPF 8',
      'm=audio 0 RTP/AVP 0',
    ]);
  });

  it('malformed, no audio, audio declined or SRTP only: nothing to answer (the echo says 488)', () => {
    for (const bad of [
      '',
      'hello',
      sdp('m=video 4000 RTP/AVP 31'),
      sdp('m=audio 0 RTP/AVP 0'),
      sdp('m=audio 4000 RTP/SAVP 0', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:xx'),
      sdp('m=audio x RTP/AVP 0'),
      sdp('m=audio 70000 RTP/AVP 0'),
      sdp('m=audio 4000 RTP/AVP'),
      sdp('m=audio 4000 RTP/AVP PCMU'),
      sdp('m=audio 4000 RTP/AVP 0', 'rtpmap 0 PCMU/8000'),
      sdp('m=audio 4000  RTP/AVP 0'),
      'v=1\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n',
      'v=0\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n', // no o=
      'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n', // no c= anywhere
    ]) {
      expect(readAudioOffer(bad), JSON.stringify(bad)).toBeUndefined();
    }
    // A c= line of the stream's own is enough; bare LF line ends are read too.
    expect(readAudioOffer('v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\nc=IN IP4 192.0.2.1\n')).toMatchObject({ payloadType: '0' });
  });
});

describe('media ports', () => {
  it('even ports of the range, bounded (exhausted: undefined), given back once', () => {
    const p = new MediaPorts(20001, 20006);
    expect([p.take(), p.take(), p.take(), p.take()]).toEqual([20002, 20004, 20006, undefined]);
    p.release(20004);
    p.release(20004); // a second release of the same port adds nothing
    p.release(30000); // nor does a port that was never taken
    expect([p.available, p.inUse, p.take(), p.take()]).toEqual([1, 2, 20004, undefined]);
  });

  it('SIP_MEDIA_PORTS is checked', () => {
    expect(MediaPorts.parse('20000-20099').available).toBe(50);
    for (const bad of ['20000', '20001-20001', '20010-20000', '0-10', '65534-65536', 'a-b']) expect(() => MediaPorts.parse(bad), bad).toThrow();
  });
});

describe('RTP reflector', () => {
  const rtp = (seq: number, pt = 0): Buffer => Buffer.concat([Buffer.from([0x80, pt, 0, seq]), Buffer.alloc(8 + 160, seq)]);

  it('sends each RTP packet back to its sender, byte-identical; not STUN, junk or muxed RTCP; nothing while it must not send', async () => {
    const port = 40000 + 2 * Math.floor(Math.random() * 5000);
    const reflector = await RtpReflector.open('127.0.0.1', port);
    const phone = dgram.createSocket('udp4');
    await new Promise<void>((r) => phone.bind(0, '127.0.0.1', () => r()));
    const back: Buffer[] = [];
    phone.on('message', (m) => back.push(m));
    try {
      const sent = [rtp(1), rtp(2, 0x80 | 8)];
      for (const s of sent) phone.send(s, port, '127.0.0.1');
      await waitUntil(() => back.length === 2, 2000, 'the echo');
      expect(back).toEqual(sent);
      // A STUN binding request (first byte 0), a short datagram, an RTCP sender report (PT 200).
      phone.send(Buffer.concat([Buffer.from([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]), Buffer.alloc(12)]), port, '127.0.0.1');
      phone.send(Buffer.from([0x80, 0]), port, '127.0.0.1');
      phone.send(Buffer.concat([Buffer.from([0x80, 200, 0, 6]), Buffer.alloc(24)]), port, '127.0.0.1');
      // On hold (we answered recvonly): received, not sent back.
      reflector.sending = false;
      phone.send(rtp(3), port, '127.0.0.1');
      await waitUntil(() => reflector.received === 3, 2000, 'the reflector to read them');
      await sleep(50);
      expect([back.length, reflector.packets, reflector.received]).toEqual([2, 2, 3]);
    } finally {
      phone.close();
      reflector.close();
    }
  });
});

/** An INVITE to the echo with an SDP offer, as the server would hand it to the handler. */
const invite = (callId = 'c1'): SipRequest => {
  const body = sdp('m=audio 4000 RTP/AVP 0');
  const head =
    'INVITE sip:echo@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:echo@127.0.0.1>\r\n' +
    `Call-ID: ${callId}\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\nContent-Length: ${body.length}\r\n\r\n`;
  return parseMessage(Buffer.from(head + body)) as SipRequest;
};

describe('echo calls that never start', () => {
  // What the echo uses of the context; whenAcknowledged() resolves undefined after CANCEL, a non-2xx or 64*T1 without ACK.
  const fakeCtx = (ack: SipRequest | undefined, dialog?: Partial<SipDialog>) =>
    ({ getFrom: () => ({ addr: '127.0.0.1' }), whenAcknowledged: () => Promise.resolve(ack), dialog }) as unknown as SipContext;

  for (const [what, ctx] of [
    ['cancelled, refused or never acknowledged', () => fakeCtx(undefined)],
    ['acknowledged after its dialog already ended', () => fakeCtx(invite(), { state: 'terminated' })],
  ] as const) {
    it(`${what}: the media port and socket are released`, async () => {
      const first = 40000 + 2 * Math.floor(Math.random() * 5000);
      const echo = new EchoService({ host: '127.0.0.1', seconds: 30, ports: new MediaPorts(first, first + 1) });
      const res = await echo.answer(invite(), ctx());
      expect(res.status).toBe(200);
      await waitUntil(() => echo.stats.portsInUse === 0 && echo.stats.pending === 0, 2000, 'the port released');
      // The socket is closed too: the port can be bound again.
      const again = await RtpReflector.open('127.0.0.1', first);
      again.close();
    });
  }
});

describe('echo shutdown', () => {
  it('a call released at shutdown and again when its ACK comes late gives its port back once (it may be another call\'s by then)', async () => {
    const first = 40000 + 2 * Math.floor(Math.random() * 5000);
    const ports = new MediaPorts(first, first + 1);
    const echo = new EchoService({ host: '127.0.0.1', seconds: 30, ports });
    let ack!: (a: undefined) => void;
    const late = new Promise<undefined>((r) => (ack = r));
    await echo.answer(invite('c2'), { getFrom: () => ({ addr: '127.0.0.1' }), whenAcknowledged: () => late, dialog: undefined } as unknown as SipContext);
    expect(ports.inUse).toBe(1);
    echo.onModuleDestroy();
    expect(ports.take()).toBe(first); // someone else's now
    ack(undefined);
    await sleep(10);
    expect([ports.inUse, ports.available]).toEqual([1, 0]);
  });
});
