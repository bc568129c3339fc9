// The WebSocket framing step (RFC 7118 §5): one SIP message per WebSocket message.
import { describe, expect, test } from 'vitest';
import { MessageFramer, parseWholeMessage, responseForParseError, SipParseError, type FrameSink } from '../../src/message/index.js';

const req = (body = '', cl: number | undefined = Buffer.byteLength(body)): string =>
  'MESSAGE sip:bob@example.com SIP/2.0\r\n' +
  'Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKabc\r\n' +
  'Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n' +
  'Call-ID: c1\r\nCSeq: 1 MESSAGE\r\n' +
  (cl === undefined ? '' : `Content-Length: ${cl}\r\n`) +
  `\r\n${body}`;

class Sink implements FrameSink {
  frames: Buffer[] = [];
  pings: boolean[] = [];
  onFrame(data: Buffer): void {
    this.frames.push(data);
  }
  onKeepAlive(ping: boolean): void {
    this.pings.push(ping);
  }
}

describe('MessageFramer', () => {
  test('each chunk is one frame; CRLF-only chunks are keep-alives', () => {
    const f = new MessageFramer();
    const sink = new Sink();
    f.push(Buffer.from(req('hi')), sink);
    f.push(Buffer.from('\r\n\r\n'), sink);
    f.push(Buffer.from('\r\n'), sink);
    expect(sink.frames.map(String)).toEqual([req('hi')]);
    expect(sink.pings).toEqual([true, false]);
  });

  test('a chunk over maxHeader + maxBody is refused with 513 before parsing', () => {
    const f = new MessageFramer({ maxHeader: 100, maxBody: 100 });
    const err = (() => {
      try {
        f.push(Buffer.alloc(201, 65), new Sink());
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(SipParseError);
    expect((err as SipParseError).status).toBe(513);
  });
});

describe('parseWholeMessage', () => {
  test('one message, with or without Content-Length (then the body is the rest), trailing CRLF tolerated', () => {
    expect(parseWholeMessage(Buffer.from(req('hello'))).body.toString()).toBe('hello');
    expect(parseWholeMessage(Buffer.from(req('hello', undefined))).body.toString()).toBe('hello');
    expect(parseWholeMessage(Buffer.from(req('hello') + '\r\n')).body.toString()).toBe('hello');
    expect(parseWholeMessage(Buffer.from(req())).body.length).toBe(0);
  });

  test('two messages in one frame: 400 with the first one\'s headers, so it can be answered', () => {
    try {
      parseWholeMessage(Buffer.from(req('a') + req('b')));
      expect.unreachable();
    } catch (e) {
      const err = e as SipParseError;
      expect(err.status).toBe(400);
      expect(err.reason).toMatch(/more than one/i);
      const res = responseForParseError(err)!.toString();
      expect(res).toMatch(/^SIP\/2\.0 400 /);
      expect(res).toContain('Call-ID: c1');
    }
  });

  test('a body shorter than its Content-Length is an error (a partial message)', () => {
    expect(() => parseWholeMessage(Buffer.from(req('abc', 10)))).toThrow(SipParseError);
  });
});
