import { describe, expect, it, vi } from 'vitest';
import { parseMessage, responseForParseError, SipParseError, SipResponse, StreamFramer, type FrameSink } from '../../src/message/index.js';
import { INVITE, OPTIONS, REGISTER, RESPONSE_200, SDP, torture } from './fixtures.js';

/** A sink that records what the framer reports. */
class Recorder implements FrameSink {
  frames: Buffer[] = [];
  events: (string | boolean)[] = [];
  onFrame(data: Buffer): void {
    // Frames may view the pushed chunks: copy, as a consumer that keeps them would.
    this.frames.push(Buffer.from(data));
    this.events.push('frame');
  }
  onKeepAlive(ping: boolean): void {
    this.events.push(ping);
  }
}

function pushAll(chunks: Buffer[], framer = new StreamFramer()): Recorder {
  const r = new Recorder();
  for (const c of chunks) framer.push(c, r);
  return r;
}
function framingError(chunks: Buffer[], framer = new StreamFramer()): SipParseError {
  const r = new Recorder();
  try {
    for (const c of chunks) framer.push(c, r);
  } catch (e) {
    expect(e).toBeInstanceOf(SipParseError);
    expect(framer.failed).toBe(true);
    return e as SipParseError;
  }
  throw new Error('no framing error');
}
const b = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('datagram framing (RFC 3261 §18.3)', () => {
  it('Content-Length bounds the body; extra octets are ignored', () => {
    const m = parseMessage(b(INVITE + 'garbage after the body'));
    expect(m.body.toString()).toBe(SDP);
    const zero = parseMessage(b(OPTIONS + 'INVITE sip:x SIP/2.0\r\n\r\n'));
    expect(zero.body).toHaveLength(0);
  });

  it('a body shorter than Content-Length is a 400', () => {
    const short = INVITE.slice(0, -10);
    try {
      parseMessage(b(short));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SipParseError);
      expect((e as SipParseError).status).toBe(400);
      // The header was readable: the sender can be told.
      expect(responseForParseError(e as SipParseError)).toBeInstanceOf(Buffer);
    }
  });

  it('a malformed ACK gets no response (RFC 3261 §17.2.3), a malformed request of another method does', () => {
    const ack = 'ACK  SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n';
    const errOf = (text: string): SipParseError => {
      try {
        parseMessage(b(text));
      } catch (e) {
        return e as SipParseError;
      }
      throw new Error('parsed');
    };
    expect(responseForParseError(errOf(ack))).toBeUndefined();
    expect(responseForParseError(errOf(ack.replace('ACK  SIP', 'BYE  SIP').replace('1 ACK', '1 BYE')))).toBeInstanceOf(Buffer);
  });

  it('no Content-Length: the body is the rest of the datagram', () => {
    const text = INVITE.replace(/Content-Length: \d+\r\n/, '');
    expect(parseMessage(b(text)).body.toString()).toBe(SDP);
    expect(parseMessage(b(text + 'more')).body.toString()).toBe(SDP + 'more');
  });

  it('a datagram that ends after the last header CRLF (no empty line) is a body-less message', () => {
    const m = parseMessage(torture('invalid', 'baddn.dat').toString('latin1').replace(/From:.*\r\nTo:.*\r\n/, ''));
    expect(m.body).toHaveLength(0);
    expect(() => parseMessage(b(OPTIONS.slice(0, -4)))).toThrow(SipParseError); // no final CRLF at all
  });

  it('size limits: 513 for a header or body over the limit', () => {
    const err = (data: string, limits: { maxHeader?: number; maxBody?: number }): SipParseError => {
      try {
        parseMessage(b(data), limits);
      } catch (e) {
        return e as SipParseError;
      }
      throw new Error('accepted');
    };
    expect(err(INVITE, { maxBody: 10 }).status).toBe(513);
    expect(err(INVITE.replace(/Content-Length: \d+\r\n/, ''), { maxBody: 10 }).status).toBe(513);
    expect(err(INVITE, { maxHeader: 100 }).status).toBe(513);
    expect(err(INVITE.slice(0, 300), { maxHeader: 100 }).status).toBe(513);
    expect(parseMessage(b(INVITE), { maxBody: Buffer.byteLength(SDP) }).body.length).toBe(Buffer.byteLength(SDP));
  });

  it('empty and CRLF-only datagrams are 400', () => {
    for (const d of ['', '\r\n', '\r\n\r\n', '\r\n\r\n\r\n\r\n', 'x']) expect(() => parseMessage(d), JSON.stringify(d)).toThrow(SipParseError);
  });
});

describe('StreamFramer', () => {
  const msgs = [INVITE, OPTIONS, REGISTER, RESPONSE_200].map(b);
  const all = Buffer.concat(msgs);

  it('several messages in one chunk', () => {
    const r = pushAll([all]);
    expect(r.frames.map(String)).toEqual(msgs.map(String));
    expect(r.frames.map((f) => parseMessage(f).constructor.name)).toEqual(['SipRequest', 'SipRequest', 'SipRequest', 'SipResponse']);
  });

  it('split at every single position gives the same frames', () => {
    for (let i = 1; i < all.length; i++) {
      const r = pushAll([all.subarray(0, i), all.subarray(i)]);
      expect(r.frames.map(String), `split at ${i}`).toEqual(msgs.map(String));
    }
  });

  it('one byte at a time', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < all.length; i++) chunks.push(all.subarray(i, i + 1));
    const framer = new StreamFramer();
    const r = pushAll(chunks, framer);
    expect(r.frames.map(String)).toEqual(msgs.map(String));
    expect(framer.buffered).toBe(0);
  });

  it('stale bytes past the pending data in the framer buffer are never read (CRLF there is not a header end)', () => {
    // The framer's buffers come from Buffer.allocUnsafe: make their unused part all CRLFs.
    const real = Buffer.allocUnsafe.bind(Buffer);
    const spy = vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((n: number) => real(n).fill('\r\n'));
    try {
      for (const step of [1, 2, 3, 7, 64]) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < all.length; i += step) chunks.push(all.subarray(i, i + step));
        const r = pushAll(chunks);
        expect(r.frames.map(String), `step ${step}`).toEqual(msgs.map(String));
      }
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('whole messages pushed one after another (a shorter one after a longer one)', () => {
    const framer = new StreamFramer();
    const r = new Recorder();
    for (const m of [INVITE, OPTIONS, OPTIONS, INVITE, RESPONSE_200].map(b)) framer.push(m, r);
    expect(r.frames.map(String)).toEqual([INVITE, OPTIONS, OPTIONS, INVITE, RESPONSE_200]);
    expect(framer.buffered).toBe(0);
  });

  it('a partial header left after a complete message is found once the rest arrives', () => {
    const framer = new StreamFramer();
    const r = new Recorder();
    const opts = b(OPTIONS);
    framer.push(Buffer.concat([b(INVITE).subarray(0, 100)]), r);
    framer.push(Buffer.concat([b(INVITE).subarray(100), opts.subarray(0, opts.length - 10)]), r);
    expect(r.frames).toHaveLength(1);
    framer.push(opts.subarray(opts.length - 10), r);
    expect(r.frames.map(String)).toEqual([INVITE, OPTIONS]);
  });

  it('binary bodies with CRLFCRLF inside are framed by Content-Length only', () => {
    const body = Buffer.from('\r\n\r\nINVITE sip:x SIP/2.0\r\n\r\n\0\r\r\n', 'latin1');
    const msg = Buffer.concat([b(OPTIONS.replace('Content-Length: 0', `Content-Length: ${body.length}`)), body]);
    const r = pushAll([Buffer.concat([msg, msg])]);
    expect(r.frames).toHaveLength(2);
    expect(parseMessage(r.frames[1]!).body.equals(body)).toBe(true);
    const mpart = torture('valid', 'mpart01.dat');
    expect(pushAll([mpart.subarray(0, 700), mpart.subarray(700)]).frames[0]!.equals(mpart)).toBe(true);
  });

  it('keep-alives: CRLFCRLF is a ping, a lone CRLF a pong; both between and before messages', () => {
    expect(pushAll([b('\r\n\r\n')]).events).toEqual([false, true]);
    expect(pushAll([b('\r\n')]).events).toEqual([false]);
    expect(pushAll([b('\r'), b('\n'), b('\r'), b('\n')]).events).toEqual([false, true]);
    const r = pushAll([Buffer.concat([b('\r\n\r\n'), b(OPTIONS), b('\r\n'), b(OPTIONS), b('\r\n\r\n')])]);
    expect(r.events).toEqual([false, true, 'frame', false, 'frame', false, true]);
    expect(r.frames.map(String)).toEqual([OPTIONS, OPTIONS]);
  });

  it('a missing Content-Length is a 400, with the headers attached for the answer', () => {
    const err = framingError([b(OPTIONS.replace('Content-Length: 0\r\n', ''))]);
    expect(err.status).toBe(400);
    expect(err.isRequest).toBe(true);
    const res = parseMessage(responseForParseError(err)!) as SipResponse;
    expect(res.status).toBe(400);
    expect(res.callId).toBe('a84b4c76e66710');
  });

  it('malformed or conflicting Content-Length values are 400', () => {
    for (const v of ['-999', 'five', '', '1 2', '99999999999']) {
      expect(framingError([b(OPTIONS.replace('Content-Length: 0', `Content-Length: ${v}`))]).status, v).toBe(400);
    }
    expect(framingError([b(OPTIONS.replace('Content-Length: 0', 'Content-Length: 0\r\nl: 5'))]).status).toBe(400);
    // Equal repeated values are fine; compact and odd-case names count.
    expect(pushAll([b(OPTIONS.replace('Content-Length: 0', 'Content-Length: 0\r\nl: 0'))]).frames).toHaveLength(1);
    expect(pushAll([b(OPTIONS.replace('Content-Length: 0', 'cOnTeNt-LeNgTh  :  0'))]).frames).toHaveLength(1);
  });

  it('a bare CR between messages is a 400', () => {
    expect(framingError([b('\rX')]).status).toBe(400);
  });

  it('header over the limit is 513, whether or not its end has arrived', () => {
    const long = OPTIONS.replace('Accept:', `X-Pad: ${'a'.repeat(500)}\r\nAccept:`);
    expect(framingError([b(long)], new StreamFramer({ maxHeader: 256 })).status).toBe(513);
    const framer = new StreamFramer({ maxHeader: 256 });
    const head = b('OPTIONS sip:a@b SIP/2.0\r\nX-Pad: ' + 'a'.repeat(1000));
    const err = framingError([head.subarray(0, 200), head.subarray(200, 400)], framer);
    expect(err.status).toBe(513);
  });

  it('body over the limit is 513 with the headers attached, so a 513 response can be built', () => {
    const big = INVITE.replace(/Content-Length: \d+/, 'Content-Length: 70000');
    const err = framingError([b(big)]);
    expect(err.status).toBe(513);
    expect(err.isRequest).toBe(true);
    expect(err.headers?.get('call-id')).toBe('a84b4c76e66710@pc33.atlanta.example.com');
    const res = parseMessage(responseForParseError(err)!) as SipResponse;
    expect(res.status).toBe(513);
    expect(res.via).toHaveLength(2);
    expect(res.cseq).toEqual({ seq: 314159, method: 'INVITE' });
    expect(framingError([b(INVITE)], new StreamFramer({ maxBody: 10 })).status).toBe(513);
  });

  it('a failed framer rejects further pushes and holds no data', () => {
    const framer = new StreamFramer();
    framingError([b(OPTIONS.replace('Content-Length: 0\r\n', ''))], framer);
    expect(framer.failed).toBe(true);
    expect(framer.buffered).toBe(0);
    expect(() => framer.push(b(OPTIONS), new Recorder())).toThrow(SipParseError);
    expect(() => framer.push(b(OPTIONS), new Recorder())).toThrow(/already failed/);
  });

  it('an exception thrown by the sink also leaves the framer failed', () => {
    const framer = new StreamFramer();
    const sink: FrameSink = {
      onFrame() {
        throw new Error('consumer bug');
      },
      onKeepAlive() {},
    };
    expect(() => framer.push(b(OPTIONS), sink)).toThrow('consumer bug');
    expect(framer.failed).toBe(true);
  });

  it('empty chunks are ignored', () => {
    const framer = new StreamFramer();
    const r = new Recorder();
    framer.push(Buffer.alloc(0), r);
    framer.push(b(OPTIONS), r);
    framer.push(Buffer.alloc(0), r);
    expect(r.frames).toHaveLength(1);
  });

  it('memory is bounded: buffered never exceeds the limits (plus one chunk)', () => {
    const limits = { maxHeader: 1024, maxBody: 4096 };
    const chunk = 100;
    // A header that never ends.
    {
      const framer = new StreamFramer(limits);
      const r = new Recorder();
      const endless = b('OPTIONS sip:a@b SIP/2.0\r\n' + 'X: y\r\n'.repeat(1000));
      let failed = false;
      for (let i = 0; i < endless.length && !failed; i += chunk) {
        try {
          framer.push(endless.subarray(i, i + chunk), r);
        } catch (e) {
          expect((e as SipParseError).status).toBe(513);
          failed = true;
        }
        expect(framer.buffered).toBeLessThanOrEqual(limits.maxHeader + chunk);
      }
      expect(failed).toBe(true);
    }
    // A body that is as large as allowed, trickled in.
    {
      const framer = new StreamFramer(limits);
      const r = new Recorder();
      const body = 'b'.repeat(limits.maxBody);
      const msg = b(OPTIONS.replace('Content-Length: 0', `Content-Length: ${body.length}`) + body);
      for (let i = 0; i < msg.length; i += chunk) {
        framer.push(msg.subarray(i, i + chunk), r);
        expect(framer.buffered).toBeLessThanOrEqual(limits.maxHeader + 4 + limits.maxBody + chunk);
      }
      expect(r.frames).toHaveLength(1);
      expect(framer.buffered).toBe(0);
    }
    // Keep-alives forever hold nothing.
    {
      const framer = new StreamFramer(limits);
      const r = new Recorder();
      for (let i = 0; i < 1000; i++) framer.push(b('\r\n\r\n'), r);
      expect(framer.buffered).toBe(0);
      expect(r.events.filter((e) => e === true)).toHaveLength(1000);
    }
  });

  it('partial reports pending data', () => {
    const framer = new StreamFramer();
    const r = new Recorder();
    framer.push(b(OPTIONS).subarray(0, 50), r);
    expect(framer.partial).toBe(true);
    expect(framer.buffered).toBe(50);
    framer.push(b(OPTIONS).subarray(50), r);
    expect(framer.partial).toBe(false);
  });

  it('frames handed to the sink stay valid after more data arrives', () => {
    const framer = new StreamFramer();
    const kept: Buffer[] = [];
    const sink: FrameSink = { onFrame: (d) => kept.push(d), onKeepAlive() {} };
    const data = Buffer.concat([b(INVITE), b(OPTIONS), b(REGISTER)]);
    framer.push(data.subarray(0, 1000), sink);
    framer.push(data.subarray(1000, 1300), sink);
    framer.push(data.subarray(1300), sink);
    expect(kept.map(String)).toEqual([INVITE, OPTIONS, REGISTER]);
  });
});
