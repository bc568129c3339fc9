// A bare LF or CR inside a header line is refused (400), never kept in a value: copied back into a
// response (Call-ID, To...) it would end the line early for a peer that splits on either, and
// what follows would read as headers of ours (response splitting). Folding (CRLF + SP) still works.
import { describe, expect, it } from 'vitest';
import { createResponse, parseMessage, SipHeaders, SipParseError, SipRequest as Req, type SipRequest } from '../../src/message/index.js';

const msg = (callId: string, extra = ''): Buffer =>
  Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\n${extra}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n`);

describe('line endings inside header lines', () => {
  it.each([
    ['bare LF', 'abc\nX-Injected: yes', /Bare LF/],
    ['bare CR', 'abc\rX-Injected: yes', /Bare CR/],
  ])('%s in a value: SipParseError 400', (_n, callId, reason) => {
    let err: unknown;
    try {
      parseMessage(msg(callId));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SipParseError);
    expect((err as SipParseError).status).toBe(400);
    expect((err as SipParseError).message).toMatch(reason);
  });

  it('a folded line (CRLF then a space) is still one value', () => {
    const m = parseMessage(msg('ok-1', 'Subject: first\r\n second\r\n')) as SipRequest;
    expect(m.headers.get('subject')).toBe('first second');
    expect(m.callId).toBe('ok-1');
  });

  it('a bare LF in the body is the body\'s business', () => {
    const text = `MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: b1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\na\nb\rc`;
    expect((parseMessage(Buffer.from(text)) as SipRequest).body.toString()).toBe('a\nb\rc');
  });

  it('a value or name the application sets with a line break (or a name that is no token) is refused, not written', () => {
    const h = new SipHeaders();
    expect(() => h.set('X-Name', 'Bob\r\nX-Admin: yes')).toThrow(TypeError);
    expect(() => h.append('Subject', 'hi\nthere')).toThrow(/line break/);
    expect(() => h.prepend('Via', 'SIP/2.0/UDP a\r')).toThrow(TypeError);
    expect(() => h.append('X-Bad: yes\r\nX', 'v')).toThrow(/token/);
    expect(() => h.append('X Space', 'v')).toThrow(/token/);
    expect(() => new SipHeaders({ 'X-Name': 'a\nb' })).toThrow(TypeError);
    const req = parseMessage(msg('ok-2')) as SipRequest;
    expect(() => createResponse(req, 200, undefined, { headers: { 'X-Caller': 'evil\r\nX-Injected: 1' } })).toThrow(TypeError);
    expect(() => new Req({ method: 'OPTIONS', uri: 'sip:a@b', headers: { Subject: 'x\ry' } })).toThrow(TypeError);
    // What is fine stays fine.
    h.append('X-Name', 'Bob "the builder" <ok>');
    expect(h.get('x-name')).toBe('Bob "the builder" <ok>');
  });
});
