import { describe, expect, it } from 'vitest';
import {
  createResponse,
  generateCallId,
  generateTag,
  parseMessage,
  reasonPhrase,
  responseForParseError,
  SipParseError,
  SipRequest,
  SipResponse,
} from '../../src/message/index.js';
import { INVITE, OPTIONS, REGISTER, RESPONSE_200, SDP, torture, tortureNames } from './fixtures.js';

const hasFolding = (data: Buffer): boolean => {
  const head = data.subarray(0, data.indexOf('\r\n\r\n') + 2).toString('latin1');
  return /\r\n[ \t]/.test(head);
};
const contentLengthOf = (out: Buffer): number => {
  const m = parseMessage(out);
  return Number(m.headers.get('content-length'));
};

describe('toBuffer: untouched messages round trip byte for byte', () => {
  it.each(tortureNames('valid'))('RFC 4475 %s', (name) => {
    const data = torture('valid', name);
    const m = parseMessage(data);
    const out = m.toBuffer();
    if (name === 'dblreq.dat') {
      // The datagram's trailing octets are not part of the message.
      expect(out.equals(data.subarray(0, data.indexOf('\r\n\r\n') + 4))).toBe(true);
    } else if (hasFolding(data)) {
      // Folded lines are written unfolded (one SP): same message, not the same bytes.
      expect(parseMessage(out).toBuffer().equals(out)).toBe(true);
      expect([...parseMessage(out).headers]).toEqual([...m.headers]);
      expect(parseMessage(out).body.equals(m.body)).toBe(true);
    } else {
      expect(out.toString('latin1')).toBe(data.toString('latin1'));
      expect(out.equals(data)).toBe(true);
    }
  });

  it('typical messages', () => {
    for (const text of [INVITE, OPTIONS, REGISTER, RESPONSE_200]) {
      expect(parseMessage(text).toBuffer().toString('utf8')).toBe(text);
    }
  });

  it('odd spacing around the colon, trailing LWS and compact names are kept as received', () => {
    const text = [
      'OPTIONS sip:a@example.com SIP/2.0',
      'Via  :   SIP/2.0/UDP h;branch=z9hG4bK1   ',
      'v:SIP/2.0/UDP h2;branch=z9hG4bK2',
      'To :<sip:a@example.com>',
      'f\t:\t<sip:b@example.com>;tag=1',
      'i: x',
      'CSeq: 1 OPTIONS',
      'L:0',
      '',
      '',
    ].join('\r\n');
    expect(parseMessage(text).toBuffer().toString('latin1')).toBe(text);
  });

  it('a changed line is written in the normal form, the others stay as received', () => {
    const text = ['OPTIONS sip:a@example.com SIP/2.0', 'Via  :  SIP/2.0/UDP h;branch=z9hG4bK1', 'X-A :1', 'CSeq: 1 OPTIONS', 'L:0', '', ''].join('\r\n');
    const m = parseMessage(text);
    m.headers.set('x-a', '2');
    expect(m.toBuffer().toString()).toBe(
      ['OPTIONS sip:a@example.com SIP/2.0', 'Via  :  SIP/2.0/UDP h;branch=z9hG4bK1', 'X-A: 2', 'CSeq: 1 OPTIONS', 'L:0', '', ''].join('\r\n'),
    );
  });

  it('body bytes are copied exactly (binary, NUL, bare CR/LF)', () => {
    const data = torture('valid', 'mpart01.dat');
    const m = parseMessage(data);
    const out = m.toBuffer();
    expect(out.subarray(out.length - 553).equals(m.body)).toBe(true);
  });
});

describe('toBuffer: the received copy only while the body is the parsed one', () => {
  it('a body replaced by a view of the same bytes (shorter, same), a copy, or changed in place is written as it is now', () => {
    const data = Buffer.from(INVITE);
    const bodyAt = data.indexOf('\r\n\r\n') + 4;
    const variants: [string, (m: ReturnType<typeof parseMessage>) => void, Buffer][] = [
      ['untouched', () => {}, data],
      ['same view', (m) => (m.body = data.subarray(bodyAt)), data],
      ['shorter view', (m) => (m.body = data.subarray(bodyAt, data.length - 3)), data.subarray(bodyAt, data.length - 3)],
      ['a copy', (m) => (m.body = Buffer.from(data.subarray(bodyAt))), data],
      ['changed in place', (m) => (m.body[0] = 0x77), data],
    ];
    for (const [name, change, expectedBody] of variants) {
      const input = Buffer.from(data);
      const m = parseMessage(input);
      change(m);
      const out = m.toBuffer();
      const back = parseMessage(out);
      expect(back.body.equals(m.body), name).toBe(true);
      expect(contentLengthOf(out), name).toBe(m.body.length);
      if (name === 'changed in place') expect(back.body[0], name).toBe(0x77);
      else expect(back.body.equals(name === 'shorter view' ? expectedBody : data.subarray(bodyAt)), name).toBe(true);
      // A copy of the input, never the input itself.
      expect(out === input || out.buffer === input.buffer && out.byteOffset === input.byteOffset, name).toBe(false);
    }
  });

  it('a datagram with octets after the body (Content-Length shorter) and leading CRLFs: only the message is written', () => {
    const data = Buffer.concat([Buffer.from('\r\n\r\n'), Buffer.from(INVITE), Buffer.from('trailing junk')]);
    const out = parseMessage(data).toBuffer();
    expect(out.equals(Buffer.from(INVITE))).toBe(true);
  });
});

describe('toBuffer: Content-Length always matches the body', () => {
  it('after the body is replaced (longer, shorter, empty, UTF-8 string, Uint8Array)', () => {
    const m = parseMessage(INVITE);
    expect(contentLengthOf(m.toBuffer())).toBe(Buffer.byteLength(SDP));
    for (const body of ['x'.repeat(1000), 'short', '', 'ünïcødé ☎', Buffer.from([0, 13, 10, 13, 10, 255]), new Uint8Array([1, 2, 3])]) {
      m.setBody(body);
      const out = m.toBuffer();
      const expected = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      expect(contentLengthOf(out)).toBe(expected);
      expect(parseMessage(out).body.equals(Buffer.from(typeof body === 'string' ? Buffer.from(body) : body))).toBe(true);
    }
    m.body = Buffer.from('direct assignment');
    expect(contentLengthOf(m.toBuffer())).toBe(17);
  });

  it('setBody with a content type sets Content-Type', () => {
    const m = parseMessage(OPTIONS);
    m.setBody('{"a":1}', 'application/json');
    expect(parseMessage(m.toBuffer()).contentType).toBe('application/json');
  });

  it('a compact "l" or an odd Content-Length spelling is rewritten in place with the real length', () => {
    const text = ['OPTIONS sip:a@example.com SIP/2.0', 'CSeq: 1 OPTIONS', 'l:   0007', 'X-After: 1', '', 'abcdefg'].join('\r\n');
    const m = parseMessage(text);
    expect(m.body.toString()).toBe('abcdefg');
    m.setBody('abc');
    expect(m.toBuffer().toString()).toBe(['OPTIONS sip:a@example.com SIP/2.0', 'CSeq: 1 OPTIONS', 'l: 3', 'X-After: 1', '', 'abc'].join('\r\n'));
  });

  it('a missing Content-Length is added; repeated ones collapse into one', () => {
    const r = new SipRequest({ method: 'MESSAGE', uri: 'sip:a@example.com', headers: { CSeq: '1 MESSAGE' }, body: 'hello' });
    expect(r.toBuffer().toString()).toBe('MESSAGE sip:a@example.com SIP/2.0\r\nCSeq: 1 MESSAGE\r\nContent-Length: 5\r\n\r\nhello');
    const mcl = parseMessage(torture('semantic', 'mcl01.dat'));
    const out = mcl.toBuffer();
    expect(parseMessage(out).headers.getAll('content-length')).toEqual([String(mcl.body.length)]);
  });

  it('contentLength is the body length', () => {
    const m = parseMessage(INVITE);
    expect(m.contentLength).toBe(Buffer.byteLength(SDP));
    m.setBody('');
    expect(m.contentLength).toBe(0);
  });

  it('changed start-line fields are written', () => {
    const m = parseMessage(OPTIONS) as SipRequest;
    m.uri = 'sip:other@example.com;transport=tcp';
    expect(m.requestUri.host).toBe('example.com');
    expect(m.requestUri.params.get('transport')).toBe('tcp');
    expect(m.toBuffer().toString().startsWith('OPTIONS sip:other@example.com;transport=tcp SIP/2.0\r\n')).toBe(true);
    const r = parseMessage(RESPONSE_200) as SipResponse;
    r.status = 486;
    r.reason = 'Busy Here';
    expect(r.toBuffer().toString().startsWith('SIP/2.0 486 Busy Here\r\n')).toBe(true);
  });
});

describe('constructors', () => {
  it('SipResponse without a reason gets the RFC 3261 phrase', () => {
    expect(new SipResponse({ status: 180 }).reason).toBe('Ringing');
    expect(new SipResponse({ status: 299 }).reason).toBe('Success');
    expect(reasonPhrase(404)).toBe('Not Found');
    expect(reasonPhrase(513)).toBe('Message Too Large');
    expect(reasonPhrase(650)).toBe('Global Failure');
  });

  it('a request built from parts serialises and parses back', () => {
    const r = new SipRequest({
      method: 'INVITE',
      uri: 'sip:bob@example.com',
      headers: [
        ['Via', 'SIP/2.0/UDP h;branch=z9hG4bK1'],
        ['To', '<sip:bob@example.com>'],
        ['From', `<sip:alice@example.com>;tag=${generateTag()}`],
        ['Call-ID', generateCallId('example.com')],
        ['CSeq', '1 INVITE'],
        ['Max-Forwards', '70'],
        ['Content-Type', 'application/sdp'],
      ],
      body: SDP,
    });
    const back = parseMessage(r.toBuffer()) as SipRequest;
    expect(back.method).toBe('INVITE');
    expect(back.body.toString()).toBe(SDP);
    expect(back.callId).toMatch(/^[0-9a-f]+@example\.com$/);
    expect([...back.headers].slice(0, 7)).toEqual([...r.headers]);
  });
});

describe('createResponse (RFC 3261 §8.2.6)', () => {
  const invite = (): SipRequest => parseMessage(INVITE) as SipRequest;

  it('copies every Via in order, From, To, Call-ID and CSeq; adds a To tag; Content-Length 0', () => {
    const req = invite();
    const res = createResponse(req, 180);
    expect(res.status).toBe(180);
    expect(res.reason).toBe('Ringing');
    expect(res.headers.getAll('via')).toEqual(req.headers.getAll('via'));
    expect(res.via.map((v) => v.branch)).toEqual(req.via.map((v) => v.branch));
    expect(res.headers.get('from')).toBe(req.headers.get('from'));
    expect(res.callId).toBe(req.callId);
    expect(res.cseq).toEqual(req.cseq);
    expect(res.to.uri).toBe(req.to.uri);
    expect(res.to.tag).toMatch(/^[0-9a-f]{8,}$/);
    expect(res.headers.get('to')).toBe(`${req.headers.get('to')};tag=${res.to.tag}`);
    const out = parseMessage(res.toBuffer()) as SipResponse;
    expect(out.status).toBe(180);
    expect(out.headers.get('content-length')).toBe('0');
    expect([...out.headers].map(([n]) => n)).toEqual(['Via', 'Via', 'From', 'To', 'Call-ID', 'CSeq', 'Record-Route', 'Content-Length']);
  });

  it('a given To tag is used; every final response of the same request can share it', () => {
    const req = invite();
    expect(createResponse(req, 200, undefined, { toTag: 'abc' }).to.tag).toBe('abc');
    expect(createResponse(req, 486, 'Busy', { toTag: 'abc' }).headers.get('to')).toBe('Bob <sip:bob@biloxi.example.com>;tag=abc');
  });

  it('100 Trying gets no To tag; an existing To tag is kept, never doubled', () => {
    const req = invite();
    expect(createResponse(req, 100).to.tag).toBeUndefined();
    expect(createResponse(req, 100).headers.get('to')).toBe(req.headers.get('to'));
    req.headers.set('To', '<sip:bob@biloxi.example.com>;TAG=existing');
    const res = createResponse(req, 200);
    expect(res.headers.getAll('to')).toEqual(['<sip:bob@biloxi.example.com>;TAG=existing']);
    expect(res.to.tag).toBe('existing');
    req.headers.set('To', 'sip:bob@biloxi.example.com;tag=x');
    expect(createResponse(req, 200).headers.get('to')).toBe('sip:bob@biloxi.example.com;tag=x');
  });

  it('Record-Route is copied into 1xx (non-100) and 2xx responses to INVITE, not into others', () => {
    const req = invite();
    const rr = req.headers.getAll('record-route');
    expect(rr).toHaveLength(2);
    expect(createResponse(req, 200).headers.getAll('record-route')).toEqual(rr);
    expect(createResponse(req, 183).headers.getAll('record-route')).toEqual(rr);
    expect(createResponse(req, 100).headers.has('record-route')).toBe(false);
    expect(createResponse(req, 486).headers.has('record-route')).toBe(false);
    const opts = parseMessage(OPTIONS.replace('Accept:', 'Record-Route: <sip:p1.example.com;lr>\r\nAccept:')) as SipRequest;
    expect(createResponse(opts, 200).headers.has('record-route')).toBe(false);
  });

  it('extra headers and a body', () => {
    const res = createResponse(invite(), 200, 'OK', {
      toTag: 't',
      headers: { Contact: '<sip:bob@192.0.2.4>', Allow: ['INVITE', 'ACK'] },
      body: SDP,
    });
    const out = parseMessage(res.toBuffer());
    expect(out.contacts[0]!.uri).toBe('sip:bob@192.0.2.4');
    expect(out.headers.getAll('allow')).toEqual(['INVITE', 'ACK']);
    expect(out.body.toString()).toBe(SDP);
    const res2 = createResponse(invite(), 200, 'OK', { headers: [['X-A', '1']] });
    expect(res2.headers.get('x-a')).toBe('1');
  });

  it('does not change the request', () => {
    const req = invite();
    const before = req.toBuffer();
    createResponse(req, 200);
    expect(req.toBuffer().equals(before)).toBe(true);
  });
});

describe('responseForParseError', () => {
  it('builds the 400 from what could be read', () => {
    const bad = INVITE.replace('CSeq: 314159 INVITE', 'CSeq: 314159 OPTIONS');
    let err: SipParseError | undefined;
    try {
      parseMessage(bad);
    } catch (e) {
      err = e as SipParseError;
    }
    expect(err).toBeInstanceOf(SipParseError);
    const out = parseMessage(responseForParseError(err!)!) as SipResponse;
    expect(out.status).toBe(400);
    expect(out.reason).toBe('Bad Request');
    expect(out.via).toHaveLength(2);
    expect(out.cseq).toEqual({ seq: 314159, method: 'OPTIONS' });
    expect(out.to.tag).toBeDefined();
    expect(out.headers.get('warning')).toMatch(/^399 - ".*CSeq.*"$/);
  });

  it('is undefined for responses and when a mandatory header is missing', () => {
    const noCallId = INVITE.replace(/Call-ID: [^\r]*\r\n/, '').replace('CSeq: 314159 INVITE', 'CSeq: 1 BYE');
    try {
      parseMessage(noCallId);
      expect.unreachable();
    } catch (e) {
      expect(responseForParseError(e as SipParseError)).toBeUndefined();
    }
    try {
      parseMessage(RESPONSE_200.replace('CSeq: 314159 INVITE', 'CSeq: x'));
      expect.unreachable();
    } catch (e) {
      expect((e as SipParseError).isRequest).toBe(false);
      expect(responseForParseError(e as SipParseError)).toBeUndefined();
    }
    expect(responseForParseError(new SipParseError('no headers'))).toBeUndefined();
  });

  it('answers 513 for a datagram header over the limit, copying Via/From/To/Call-ID/CSeq', () => {
    const big = INVITE.replace('\r\nContent-Type', `\r\nX-Filler: ${'y'.repeat(3000)}\r\nContent-Type`);
    try {
      parseMessage(big, { maxHeader: 1024 });
      expect.unreachable();
    } catch (e) {
      const err = e as SipParseError;
      expect(err.status).toBe(513);
      expect(err.isRequest).toBe(true);
      const out = parseMessage(responseForParseError(err)!) as SipResponse;
      expect(out.status).toBe(513);
      const req = parseMessage(INVITE);
      expect(out.callId).toBe(req.callId);
      expect(out.via.map((v) => v.branch)).toEqual(req.via.map((v) => v.branch));
      expect(out.cseq).toEqual(req.cseq);
    }
  });

  it('answers 513 for a datagram body over the limit', () => {
    const big = INVITE.replace(SDP, 'x'.repeat(2000)).replace(/Content-Length: \d+/, 'Content-Length: 2000');
    try {
      parseMessage(big, { maxBody: 1000 });
      expect.unreachable();
    } catch (e) {
      const err = e as SipParseError;
      expect(err.status).toBe(513);
      const out = parseMessage(responseForParseError(err)!) as SipResponse;
      expect(out.status).toBe(513);
      expect(out.reason).toBe('Message Too Large');
    }
  });
});
