/**
 * RFC 4475 "SIP Torture Test Messages": all 50 messages of the RFC archive, byte-exact, as
 * listed in test/fixtures/rfc4475/INDEX.txt. Each message is fed to parseMessage as one UDP
 * datagram (that is how the RFC describes them; it matters for body framing).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseMessage,
  parseUri,
  responseForParseError,
  SipParseError,
  SipRequest,
  SipResponse,
  validateRequest,
  type SipMessage,
} from '../../src/message/index.js';
import { allTorture, headerLines, RFC4475_DIR, torture, tortureNames, type Rfc4475Dir } from './fixtures.js';

const parse = (dir: Rfc4475Dir, name: string): SipRequest | SipResponse => parseMessage(torture(dir, name));
const req = (dir: Rfc4475Dir, name: string): SipRequest => {
  const m = parse(dir, name);
  expect(m).toBeInstanceOf(SipRequest);
  return m as SipRequest;
};
const res = (dir: Rfc4475Dir, name: string): SipResponse => {
  const m = parse(dir, name);
  expect(m).toBeInstanceOf(SipResponse);
  return m as SipResponse;
};
/** The error parseMessage throws for a fixture (fails the test if it does not throw one). */
function parseError(dir: Rfc4475Dir, name: string): SipParseError {
  try {
    parse(dir, name);
  } catch (e) {
    expect(e).toBeInstanceOf(SipParseError);
    return e as SipParseError;
  }
  throw new Error(`${name} parsed, but must be rejected`);
}
/** Every lazy view, so that a view error shows up in the test that touches it. */
function touchViews(m: SipMessage): void {
  void m.via;
  void m.cseq;
  void m.contacts;
  void m.maxForwards;
  if (m.isRequest()) void m.requestUri;
}
const bodyAfterHeader = (data: Buffer): Buffer => data.subarray(data.indexOf('\r\n\r\n') + 4);

describe('RFC 4475 fixtures', () => {
  const index = readFileSync(`${RFC4475_DIR}INDEX.txt`, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('#'))
    .map((l) => l.split(' | '));

  it('are the 50 byte-exact files of the RFC archive (SHA256SUMS)', () => {
    const sums = readFileSync(`${RFC4475_DIR}SHA256SUMS`, 'utf8').trim().split('\n');
    expect(sums).toHaveLength(50);
    const all = allTorture();
    expect(all).toHaveLength(50);
    const byName = new Map(all.map(([, name, data]) => [name, data]));
    for (const line of sums) {
      const [hash, name] = line.split(/\s+/) as [string, string];
      const data = byName.get(name);
      expect(data, name).toBeDefined();
      expect(createHash('sha256').update(data!).digest('hex'), name).toBe(hash);
    }
  });

  it('are filed in the directory INDEX.txt names', () => {
    expect(index).toHaveLength(50);
    for (const [name, dir] of index) expect(tortureNames(dir as Rfc4475Dir), name).toContain(name);
    expect(tortureNames('valid')).toHaveLength(13);
    expect(tortureNames('invalid')).toHaveLength(19);
    expect(tortureNames('semantic')).toHaveLength(17);
    expect(tortureNames('extra')).toEqual(['test.dat']);
  });
});

describe('RFC 4475 §3.1.1 valid messages: parse with the values INDEX.txt names', () => {
  it.each(tortureNames('valid'))('%s parses, every view included', (name) => {
    const m = parse('valid', name);
    touchViews(m);
    void m.from;
    void m.to;
    void m.callId;
  });

  it('wsinv: a short tortuous INVITE (folding, LWS everywhere, odd case, compact forms)', () => {
    const m = req('valid', 'wsinv.dat');
    expect(m.method).toBe('INVITE');
    expect(m.uri).toBe('sip:vivekg@chair-dnrc.example.com;unknownparam');
    expect(m.requestUri).toMatchObject({ scheme: 'sip', user: 'vivekg', host: 'chair-dnrc.example.com' });
    expect([...m.requestUri.params]).toEqual([['unknownparam', null]]);
    expect(m.to.uri).toBe('sip:vivekg@chair-dnrc.example.com');
    expect(m.to.tag).toBe('1918181833n');
    expect(m.to.displayName).toBeUndefined();
    expect(m.from.displayName).toBe('J Rosenberg \\"');
    expect(m.from.uri).toBe('sip:jdrosen@example.com');
    expect(m.from.tag).toBe('98asjd8');
    expect(m.maxForwards).toBe(68);
    expect(m.callId).toBe('wsinv.ndaksdj@192.0.2.1');
    expect(m.cseq).toEqual({ seq: 9, method: 'INVITE' });
    expect(m.headers.get('content-length')).toBe('150');
    expect(m.body).toHaveLength(150);
    expect(m.body.toString('latin1').startsWith('v=0\r\n')).toBe(true);
    expect(m.headers.has('Subject')).toBe(true);
    expect(m.headers.get('subject')).toBe('');
    expect(m.via.map((v) => [v.protocol, v.transport, v.host, v.port, v.branch])).toEqual([
      ['SIP/2.0', 'UDP', '192.0.2.2', undefined, '390skdjuw'],
      ['SIP/2.0', 'TCP', 'spindle.example.com', undefined, 'z9hG4bK9ikj8'],
      ['SIP/2.0', 'UDP', '192.168.255.111', undefined, 'z9hG4bK30239'],
    ]);
    expect(m.headers.get('NewFangledHeader')).toBe('newfangled value continued newfangled value');
    expect(m.headers.get('UnknownHeaderWithUnusualValue')).toBe(';;,,;;,;');
    expect(m.headers.get('route')).toBe('<sip:services.example.com;lr;unknownwith=value;unknown-no-value>');
    expect(m.contentType).toBe('application/sdp');
    expect(m.contacts).toHaveLength(1);
    const c = m.contacts[0]!;
    expect(c.displayName).toBe('Quoted string ""');
    expect(c.uri).toBe('sip:jdrosen@example.com');
    expect([...c.params]).toEqual([
      ['newparam', 'newvalue'],
      ['secondparam', null],
      ['q', '0.33'],
    ]);
    expect(c.q).toBe(0.33);
    expect(validateRequest(m)).toBeUndefined();
  });

  it('intmeth: a wide range of valid characters', () => {
    const method = "!interesting-Method0123456789_*+`.%indeed'~";
    const m = req('valid', 'intmeth.dat');
    expect(m.method).toBe(method); // '%' is not an escape in a method
    expect(m.cseq).toEqual({ seq: 139122385, method });
    expect(m.requestUri).toMatchObject({
      scheme: 'sip',
      user: "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*",
      password: "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)",
      host: 'example.com',
    });
    expect(m.requestUri.params.size).toBe(0);
    expect(m.to.displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7f'); // quoted-pairs of raw control characters
    expect(m.to.uri).toBe("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com");
    expect(m.from.displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(m.from.uri).toBe('sip:mundane@example.com');
    expect(m.from.params.get("fromparam''~+*_!.-%")).toBe('"работающий"');
    expect(m.from.tag).toBe("_token~1'+`*%!-.");
    expect(m.callId).toBe('intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    expect(m.via[0]!.branch).toBe("z9hG4bK-.!%66*_+`'~");
    // UTF-8 value starting with a byte order mark: kept, not trimmed as "white space".
    expect(m.headers.get("extensionHeader-!.%*+_`'~")).toBe('\uFEFF大停電');
    expect(m.maxForwards).toBe(255);
    expect(m.body).toHaveLength(0);
  });

  it('esc01: % escapes are decoded once, in the right places', () => {
    const m = req('valid', 'esc01.dat');
    expect(m.requestUri).toMatchObject({ user: 'sips:user@example.com', host: 'example.net' });
    expect(parseUri(m.to.uri).user).toBe('user');
    expect(parseUri(m.from.uri).user).toBe('I have spaces');
    expect(m.contacts).toHaveLength(1);
    const contact = parseUri(m.contacts[0]!.uri);
    expect(contact.user).toBe('caller');
    expect([...contact.params]).toEqual([
      ['lr', null],
      ['name', 'value%41'], // %25%34%31 -> "%41", not "A"
    ]);
    expect(m.callId).toBe('esc01.239409asdfakjkn23onasd0-3234'); // i:
    expect(m.contentType).toBe('application/sdp'); // C:
    expect(m.body).toHaveLength(150);
  });

  it('escnull: escaped NULs do not truncate URI user parts', () => {
    const m = req('valid', 'escnull.dat');
    expect(parseUri(m.to.uri).user).toBe('null-\0-null');
    expect(parseUri(m.from.uri).user).toBe('null-\0-null');
    expect(m.contacts.map((c) => parseUri(c.uri).user)).toEqual(['\0', '\0\0']);
    expect(m.headers.get('content-length')).toBe('0'); // "L:0"
    expect(m.body).toHaveLength(0);
  });

  it('esc02: % that is not an escape', () => {
    const m = req('valid', 'esc02.dat');
    expect(m.method).toBe('RE%47IST%45R'); // not REGISTER
    expect(m.cseq.method).toBe('RE%47IST%45R');
    expect(m.to.displayName).toBe('%Z%45');
    expect(m.from.displayName).toBe('%Z%45');
    expect(m.via[0]!.branch).toBe('z9hG4bK209%fzsnel234');
    expect(m.contacts.map((c) => c.uri)).toEqual(['sip:alias1@host1.example.com', 'sip:alias3@host3.example.com']);
    expect(m.headers.get('C%6Fntact')).toBe('<sip:alias2@host2.example.com>');
  });

  it('lwsdisp: no LWS between display name and <', () => {
    const m = req('valid', 'lwsdisp.dat');
    expect(m.from).toMatchObject({ displayName: 'caller', uri: 'sip:caller@example.com', tag: '323' });
  });

  it('longreq: long values and 34 Via values under every spelling of "Via"', () => {
    const data = torture('valid', 'longreq.dat');
    const m = parseMessage(data) as SipRequest;
    expect(m.to.displayName).toBe('I have a user name of ' + 'extreme'.repeat(10) + ' proportion');
    const to = parseUri(m.to.uri);
    expect(to).toMatchObject({ user: 'user', host: 'example.com', port: 6000 });
    expect(to.params.get('unknownparam1')).toBe('very' + 'long'.repeat(20) + 'value');
    expect(to.params.get('longparam' + 'name'.repeat(25))).toBe('shortvalue');
    expect(to.params.get('very' + 'long'.repeat(25) + 'parameternamewithnovalue')).toBeNull();
    expect(parseUri(m.from.uri).user).toBe('amazinglylongcallername'.repeat(5));
    expect(m.from.tag).toBe('1' + '298'.repeat(50) + '2424');
    expect(m.from.params.get('unknownheaderparam' + 'name'.repeat(20))).toBe('unknowheaderparam' + 'value'.repeat(15));
    expect(m.from.params.get('unknownvaluelessparamname' + 'paramname'.repeat(9))).toBeNull();
    expect(m.callId).toBe('longreq.one' + 'really'.repeat(20) + 'longcallid');
    expect(m.headers.get('Unknown-' + 'Long'.repeat(20) + '-Name')).toBe(
      'unknown-' + 'long'.repeat(20) + '-value; unknown-' + 'long'.repeat(20) + '-parameter-name = unknown-' + 'long'.repeat(20) + '-parameter-value',
    );
    expect(m.via).toHaveLength(34);
    expect(m.via.slice(0, 33).map((v) => v.host)).toEqual(Array.from({ length: 33 }, (_, i) => `sip${33 - i}.example.com`));
    expect(m.via.every((v) => v.transport === 'TCP')).toBe(true);
    const last = m.via[33]!;
    expect(last.host).toBe('host.example.com');
    expect(last.received).toBe('192.0.2.5');
    expect(last.branch).toMatch(/^verylong(long)+branchvalue$/);
    expect(m.contacts).toHaveLength(1);
    expect(m.headers.get('content-length')).toBe('150'); // l: 150
    expect(m.body).toHaveLength(150);
  });

  it('dblreq: the octets after Content-Length in a datagram are ignored', () => {
    const data = torture('valid', 'dblreq.dat');
    const m = parseMessage(data) as SipRequest;
    expect(m.method).toBe('REGISTER');
    expect(m.cseq).toEqual({ seq: 8, method: 'REGISTER' });
    expect(m.callId).toBe('dblreq.0ha0isndaksdj99sdfafnl3lk233412'); // I:
    expect(m.body).toHaveLength(0);
    const out = m.toBuffer();
    expect(out.toString('latin1')).not.toContain('INVITE');
    expect(out.equals(data.subarray(0, data.indexOf('\r\n\r\n') + 4))).toBe(true);
  });

  it('semiuri: semicolons in the user part are not URI parameters', () => {
    const m = req('valid', 'semiuri.dat');
    expect(m.requestUri.user).toBe('user;par=u@example.net');
    expect(m.requestUri.host).toBe('example.com');
    expect(m.requestUri.params.size).toBe(0);
    expect(m.headers.getAll('Accept')).toEqual([
      'application/sdp',
      'application/pkcs7-mime',
      'multipart/mixed',
      'multipart/signed',
      'message/sip',
      'message/sipfrag',
    ]);
  });

  it('transports: unknown transport tokens are allowed', () => {
    const m = req('valid', 'transports.dat');
    expect(m.via.map((v) => v.transport)).toEqual(['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
    expect(m.via.map((v) => v.host)).toEqual(['t1', 't2', 't3', 't4', 't5'].map((h) => `${h}.example.com`));
    expect(m.callId).toBe('transports.kijh4akdnaqjkwendsasfdj');
  });

  it('mpart01: a binary multipart body is framed by Content-Length, never scanned', () => {
    const data = torture('valid', 'mpart01.dat');
    const m = parseMessage(data) as SipRequest;
    expect(m.method).toBe('MESSAGE');
    expect(m.contentType).toBe('multipart/mixed;boundary=7a9cbec02ceef655');
    expect(m.body).toHaveLength(553);
    expect(m.body.equals(bodyAfterHeader(data))).toBe(true);
    expect(m.body.includes(0)).toBe(true);
    expect(m.via[0]).toMatchObject({ transport: 'UDP', host: '127.0.0.1', port: 5070, rport: null });
    expect(m.via[0]!.branch).toBe('z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-');
    expect(m.headers.get('date')).toBe('Sat, 15 Oct 2005 04:44:56 GMT');
  });

  it('unreason: a UTF-8 reason phrase', () => {
    const m = res('valid', 'unreason.dat');
    expect(m.status).toBe(200);
    expect(m.reason).toBe('= 2**3 * 5**2 но сто девяносто девять - простое');
    expect(m.body).toHaveLength(154);
    expect(m.cseq).toEqual({ seq: 35, method: 'INVITE' });
  });

  it('noreason: an empty reason phrase', () => {
    const m = res('valid', 'noreason.dat');
    expect(m.status).toBe(100);
    expect(m.reason).toBe('');
    expect(m.to.tag).toBe('902jndnke3');
    expect(m.toBuffer().toString('latin1').startsWith('SIP/2.0 100 \r\n')).toBe(true);
  });
});

describe('RFC 4475 §3.1.2 invalid messages: rejected with the named status', () => {
  const expected: Record<string, number> = {
    'badinv01.dat': 400,
    'clerr.dat': 400,
    'ncl.dat': 400,
    'scalar02.dat': 400,
    'quotbal.dat': 400,
    'ltgtruri.dat': 400,
    'lwsruri.dat': 400,
    'lwsstart.dat': 400,
    'trws.dat': 400,
    'escruri.dat': 400,
    'regbadct.dat': 400,
    'badaspec.dat': 400,
    'baddn.dat': 400,
    'badvers.dat': 505,
    'mismatch01.dat': 400,
    'mismatch02.dat': 501, // INDEX: 400 acceptable, 501 preferred (unknown method)
  };
  const responses = ['scalarlg.dat', 'bigcode.dat'];
  const liberal = ['baddate.dat'];

  it('every invalid/ file is covered', () => {
    expect([...Object.keys(expected), ...responses, ...liberal].sort()).toEqual(tortureNames('invalid'));
  });

  it.each(Object.entries(expected))('%s -> %i', (name, status) => {
    const err = parseError('invalid', name);
    expect(err.status).toBe(status);
    expect(err.isRequest).toBe(true);
  });

  it.each(responses)('%s: an invalid response is rejected (a receiver drops it; nothing to answer)', (name) => {
    const err = parseError('invalid', name);
    expect(err.isRequest).toBe(false);
    expect(responseForParseError(err)).toBeUndefined();
  });

  it('bigcode: status 4294967301 is an error, never wrapped to a small number', () => {
    const err = parseError('invalid', 'bigcode.dat');
    expect(err.status).toBe(400);
    expect(err.reason).toMatch(/status/i);
  });

  it('scalar02 / scalarlg: CSeq over 2^32-1 is an error', () => {
    expect(parseError('invalid', 'scalar02.dat').reason).toMatch(/CSeq/);
    expect(parseError('invalid', 'scalarlg.dat').reason).toMatch(/CSeq/);
  });

  it('baddate: accepted by design (liberal reading allowed by INDEX): the codec does not interpret Date', () => {
    // RFC 4475 §3.1.2.12: an element may ignore an invalid Date. Nothing in this stack uses Date,
    // so the value is kept as an opaque string and the message is processed normally.
    const m = req('invalid', 'baddate.dat');
    expect(m.headers.get('Date')).toBe('Fri, 01 Jan 2010 16:00:00 EST');
    expect(m.body).toHaveLength(150);
    expect(validateRequest(m)).toBeUndefined();
  });

  it('clerr: Content-Length larger than the datagram is a 400', () => {
    expect(parseError('invalid', 'clerr.dat').reason).toMatch(/Content-Length/);
  });

  it('ncl: a negative Content-Length is a 400 (never used as a count)', () => {
    expect(parseError('invalid', 'ncl.dat').reason).toMatch(/Content-Length/);
  });

  const requests = Object.keys(expected);
  it.each(requests)('%s: responseForParseError answers with the status and the copied Via/From/To/Call-ID/CSeq', (name) => {
    const data = torture('invalid', name);
    const err = parseError('invalid', name);
    const out = responseForParseError(err);
    expect(out, name).toBeInstanceOf(Buffer);
    const orig = headerLines(data);
    const got = headerLines(out!);
    expect(got.start).toMatch(new RegExp(`^SIP/2\\.0 ${err.status} `));
    const norm = (n: string): string => ({ v: 'via', f: 'from', t: 'to', i: 'call-id', l: 'content-length' })[n.toLowerCase()] ?? n.toLowerCase();
    const pick = (lines: [string, string][], key: string): string[] => lines.filter(([n]) => norm(n) === key).map(([, v]) => v);
    // Folded request lines arrive unfolded in the response; compare with single spaces.
    const unfold = (s: string): string => s.replace(/\s+/g, ' ');
    for (const key of ['via', 'from', 'call-id', 'cseq']) {
      expect(pick(got.lines, key).map(unfold), `${name} ${key}`).toEqual(pick(orig.lines, key).map(unfold));
    }
    const origTo = pick(orig.lines, 'to');
    const gotTo = pick(got.lines, 'to');
    expect(gotTo).toHaveLength(1);
    if (/;\s*tag=/i.test(origTo[0]!)) expect(gotTo[0]).toBe(origTo[0]);
    else expect(gotTo[0]).toMatch(new RegExp(`^${origTo[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')};tag=[0-9a-f]+$`));
    expect(pick(got.lines, 'content-length')).toEqual(['0']);
  });
});

describe('RFC 4475 §3.2-3.4 semantic messages: the parser must not fail', () => {
  it.each(tortureNames('semantic'))('%s parses', (name) => {
    const m = parse('semantic', name);
    touchViews(m);
  });

  it('insuf, multi01, mcl01: validateRequest answers 400', () => {
    for (const name of ['insuf.dat', 'multi01.dat', 'mcl01.dat']) {
      const err = validateRequest(req('semantic', name));
      expect(err, name).toBeInstanceOf(SipParseError);
      expect(err!.status, name).toBe(400);
    }
  });

  it('the other semantic requests pass validateRequest (their codes belong to later layers)', () => {
    for (const name of tortureNames('semantic')) {
      if (['insuf.dat', 'multi01.dat', 'mcl01.dat'].includes(name)) continue;
      const m = parse('semantic', name);
      if (m.isRequest()) expect(validateRequest(m), name).toBeUndefined();
    }
  });

  it('insuf: missing Call-ID/From/To are view errors, not crashes', () => {
    const m = req('semantic', 'insuf.dat');
    expect(() => m.from).toThrow(SipParseError);
    expect(() => m.to).toThrow(SipParseError);
    expect(() => m.callId).toThrow(SipParseError);
    expect(m.maxForwards).toBeUndefined();
    expect(m.body).toHaveLength(152);
  });

  it('mcl01: conflicting Content-Length values frame nothing: the datagram is the body', () => {
    const m = req('semantic', 'mcl01.dat');
    expect(m.headers.getAll('content-length')).toEqual(['13', '5']);
    expect(m.body).toHaveLength(67);
  });

  it('multi01: duplicated single-valued headers are all kept', () => {
    const m = req('semantic', 'multi01.dat');
    expect(m.headers.getAll('cseq')).toEqual(['5 INVITE', '59 INVITE']);
    expect(m.headers.getAll('call-id')).toHaveLength(2);
    expect(m.headers.getAll('to')).toHaveLength(2);
    expect(m.headers.getAll('from')).toHaveLength(2);
    expect(m.headers.getAll('max-forwards')).toEqual(['70', '5']);
    expect(m.contacts).toHaveLength(2);
    expect(validateRequest(m)!.reason).toMatch(/Multiple/);
  });

  it('badbranch: a branch that is only the magic cookie', () => {
    expect(req('semantic', 'badbranch.dat').via[0]!.branch).toBe('z9hG4bK');
  });

  it('unkscm / novelsc: unknown and atypical Request-URI schemes parse', () => {
    const a = req('semantic', 'unkscm.dat');
    expect(a.uri).toBe('nobodyKnowsThisScheme:totallyopaquecontent');
    expect(a.requestUri).toMatchObject({ scheme: 'nobodyknowsthisscheme', opaque: 'totallyopaquecontent' });
    const b = req('semantic', 'novelsc.dat');
    expect(b.uri).toBe('soap.beep://192.0.2.103:3002');
    expect(b.requestUri.scheme).toBe('soap.beep');
  });

  it('unksm2: unknown URI schemes in To/From/Contact', () => {
    const m = req('semantic', 'unksm2.dat');
    expect(m.to.uri).toBe('isbn:2983792873');
    expect(m.from.uri).toBe('http://www.example.com');
    expect(m.from.tag).toBe('3234233');
    expect(m.contacts.map((c) => c.uri)).toEqual(['name:John_Smith']);
  });

  it('bext01: Require and Proxy-Require lists', () => {
    const m = req('semantic', 'bext01.dat');
    expect(m.headers.getAll('Require')).toEqual(['nothingSupportsThis', 'nothingSupportsThisEither']);
    expect(m.headers.getAll('proxy-require')).toEqual(['noProxiesSupportThis', 'norDoAnyProxiesSupportThis']);
    expect(m.via[0]!.transport).toBe('TLS');
  });

  it('invut: unknown Content-Type', () => {
    const m = req('semantic', 'invut.dat');
    expect(m.contentType).toBe('application/unknownformat');
    expect(m.body).toHaveLength(40);
  });

  it('regaut01: unknown Authorization scheme kept as written; "Content-Length:0"', () => {
    const m = req('semantic', 'regaut01.dat');
    expect(m.headers.get('authorization')).toBe('NoOneKnowsThisScheme opaque-data=here');
    expect(m.body).toHaveLength(0);
  });

  it('bcast: a broadcast address in the second Via', () => {
    const m = res('semantic', 'bcast.dat');
    expect(m.via.map((v) => v.host)).toEqual(['192.0.2.198', '255.255.255.255']);
    expect(m.body).toHaveLength(154);
  });

  it('zeromf: Max-Forwards 0', () => {
    expect(req('semantic', 'zeromf.dat').maxForwards).toBe(0);
  });

  it('cparam01: an addr-spec Contact parameter is a header parameter, not a URI parameter', () => {
    const c = req('semantic', 'cparam01.dat').contacts[0]!;
    expect(c.uri).toBe('sip:+19725552222@gw1.example.net');
    expect(c.params.has('unknownparam')).toBe(true);
    expect(parseUri(c.uri).params.has('unknownparam')).toBe(false);
  });

  it('cparam02: inside <> it is a URI parameter', () => {
    const c = req('semantic', 'cparam02.dat').contacts[0]!;
    expect(c.uri).toBe('sip:+19725552222@gw1.example.net;unknownparam');
    expect(c.params.size).toBe(0);
    expect(parseUri(c.uri).params.get('unknownparam')).toBeNull();
  });

  it('regescrt: an escaped Route URI header in a Contact (M:)', () => {
    const c = req('semantic', 'regescrt.dat').contacts[0]!;
    const u = parseUri(c.uri);
    expect([...u.headers]).toEqual([['Route', '<sip:sip.example.com>']]);
  });

  it('sdp01: Accept: text/nobodyKnowsThis', () => {
    expect(req('semantic', 'sdp01.dat').headers.getAll('accept')).toEqual(['text/nobodyKnowsThis']);
  });

  it('inv2543: RFC 2543 syntax, no Content-Length: the body is the rest of the datagram', () => {
    const data = torture('semantic', 'inv2543.dat');
    const m = parseMessage(data) as SipRequest;
    expect(m.headers.has('content-length')).toBe(false);
    expect(m.body).toHaveLength(105);
    expect(m.body.equals(bodyAfterHeader(data))).toBe(true);
    expect(m.via[0]!.branch).toBeUndefined();
    expect(m.from.tag).toBeUndefined();
    expect(m.maxForwards).toBeUndefined();
    // addr-spec form: ';user=phone' after the URI is a header parameter of To (RFC 3261 §20.10).
    expect(m.to.params.get('user')).toBe('phone');
    expect(parseUri(m.to.uri).params.size).toBe(0);
    // Serialising adds the Content-Length the datagram did not have.
    expect(parseMessage(m.toBuffer()).headers.get('content-length')).toBe('105');
  });
});

describe('RFC 4475 extra/test.dat', () => {
  it('does not crash: a SipParseError (no SIP-Version on the Request-Line)', () => {
    let result: unknown;
    try {
      result = parse('extra', 'test.dat');
    } catch (e) {
      result = e;
    }
    expect(result instanceof SipParseError || result instanceof SipRequest).toBe(true);
    if (result instanceof SipParseError) {
      expect(result.status).toBe(400);
      // Whatever it says, building the answer must not throw either.
      responseForParseError(result);
    }
  });
});
