import { describe, expect, it } from 'vitest';
import { headerKey, parseCSeq, parseMessage, SipHeaders, SipParseError, SipRequest, SipResponse, splitList } from '../../src/message/index.js';
import { INVITE, OPTIONS } from './fixtures.js';

const crlf = (...lines: string[]): string => lines.join('\r\n');
/** A minimal valid request with extra header lines. */
const request = (...extra: string[]): string =>
  crlf(
    'OPTIONS sip:bob@example.com SIP/2.0',
    'Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1',
    'To: <sip:bob@example.com>',
    'From: <sip:alice@example.com>;tag=1',
    'Call-ID: abc',
    'CSeq: 1 OPTIONS',
    ...extra,
    'Content-Length: 0',
    '',
    '',
  );
const parseError = (data: string | Buffer): SipParseError => {
  try {
    parseMessage(data);
  } catch (e) {
    expect(e).toBeInstanceOf(SipParseError);
    return e as SipParseError;
  }
  throw new Error('parsed, but must be rejected');
};

describe('header names', () => {
  const compact: [string, string][] = [
    ['i', 'Call-ID'],
    ['m', 'Contact'],
    ['e', 'Content-Encoding'],
    ['l', 'Content-Length'],
    ['c', 'Content-Type'],
    ['f', 'From'],
    ['s', 'Subject'],
    ['k', 'Supported'],
    ['t', 'To'],
    ['v', 'Via'],
    ['o', 'Event'],
    ['r', 'Refer-To'],
    ['b', 'Referred-By'],
    ['u', 'Allow-Events'],
    ['x', 'Session-Expires'],
    ['y', 'Identity'],
    ['a', 'Accept-Contact'],
    ['j', 'Reject-Contact'],
    ['d', 'Request-Disposition'],
  ];

  it('every compact form maps to its long name, in either case', () => {
    expect(compact).toHaveLength(19);
    for (const [short, long] of compact) {
      expect(headerKey(short)).toBe(long.toLowerCase());
      expect(headerKey(short.toUpperCase())).toBe(long.toLowerCase());
      expect(headerKey(long)).toBe(long.toLowerCase());
      expect(headerKey(long.toUpperCase())).toBe(long.toLowerCase());
    }
  });

  it.each(compact)('a message with "%s:" is read as %s (and written back as received)', (short, long) => {
    const values: Record<string, string> = {
      i: 'compact-call-id',
      m: '<sip:alice@192.0.2.1>',
      f: '<sip:carol@example.com>;tag=77',
      t: '<sip:dave@example.com>',
      v: 'SIP/2.0/TCP other.example.com;branch=z9hG4bK2',
      l: '0',
    };
    const value = values[short] ?? 'some-value';
    let text = request(`${short.toUpperCase()}: ${value}`);
    // Single-valued headers appear once: drop the long form the template already has.
    if (['i', 'f', 't', 'l'].includes(short)) text = text.replace(new RegExp(`\\r\\n${long}: [^\\r]*`), '');
    const m = parseMessage(text);
    expect(m.headers.getAll(long)).toContain(value);
    expect(m.headers.getAll(short)).toEqual(m.headers.getAll(long));
    expect(m.headers.getAll(long.toUpperCase())).toEqual(m.headers.getAll(long));
    expect(m.headers.has(short)).toBe(true);
    expect(m.toBuffer().toString()).toContain(`\r\n${short.toUpperCase()}: ${value}\r\n`);
    if (short === 'i') expect(m.callId).toBe(value);
    if (short === 'f') expect(m.from.tag).toBe('77');
    if (short === 'v') expect(m.via.map((v) => v.host)).toEqual(['host.example.com', 'other.example.com']);
    if (short === 'm') expect(m.contacts[0]!.uri).toBe('sip:alice@192.0.2.1');
  });

  it('names are case-insensitive everywhere', () => {
    const m = parseMessage(request('X-CUSTOM: 1', 'x-custom: 2', 'X-Custom: 3'));
    expect(m.headers.getAll('x-CuStOm')).toEqual(['1', '2', '3']);
    expect(m.headers.get('X-CUSTOM')).toBe('1');
    expect(m.headers.has('x-custom')).toBe(true);
    // Spellings on the wire are kept.
    expect([...m.headers].filter(([n]) => n.toLowerCase() === 'x-custom').map(([n]) => n)).toEqual(['X-CUSTOM', 'x-custom', 'X-Custom']);
  });

  it('a header named like an Object.prototype member is an ordinary header', () => {
    const h = new SipHeaders();
    h.set('constructor', 'a').append('toString', 'b').append('__proto__', 'c').append('hasOwnProperty', 'd');
    expect([...h]).toEqual([
      ['constructor', 'a'],
      ['toString', 'b'],
      ['__proto__', 'c'],
      ['hasOwnProperty', 'd'],
    ]);
    expect(h.serialize(0)).toBe('constructor: a\r\ntoString: b\r\n__proto__: c\r\nhasOwnProperty: d\r\nContent-Length: 0\r\n');
    const m = parseMessage(request('constructor: x', '__proto__: y'));
    expect(m.headers.get('constructor')).toBe('x');
    expect(m.headers.get('__proto__')).toBe('y');
  });

  it('LWS before the colon is allowed; a name with other characters or a line without a colon is a 400', () => {
    expect(parseMessage(request('X-A  \t: 1')).headers.get('x-a')).toBe('1');
    expect(parseError(request('X A: 1')).status).toBe(400);
    expect(parseError(request('X-A; 1')).status).toBe(400);
    expect(parseError(request('X-A 1')).status).toBe(400);
    expect(parseError(request(': 1')).status).toBe(400);
    expect(parseError(request('X(A): 1')).status).toBe(400);
  });
});

describe('header values', () => {
  it('folded lines join with one SP (SP and HT continuations, several in a row)', () => {
    const m = parseMessage(request('Subject: one', ' two', '\t three  ', '   \t four', 'X-Empty:', '  late value'));
    expect(m.headers.get('subject')).toBe('one two three four');
    expect(m.headers.get('x-empty')).toBe('late value');
  });

  it('a continuation line before the first header is a 400', () => {
    const err = parseError(crlf('OPTIONS sip:a@b SIP/2.0', ' folded', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', '', ''));
    expect(err.status).toBe(400);
  });

  it('values keep everything but the LWS around them', () => {
    const m = parseMessage(request('X-Weird:   \u00a0 a "b,c" <d;e> ; ;;  ', 'X-Bom: \ufeffvalue', 'X-Empty:', 'X-Spaces:    '));
    expect(m.headers.get('x-weird')).toBe('\u00a0 a "b,c" <d;e> ; ;;');
    expect(m.headers.get('x-bom')).toBe('\ufeffvalue');
    expect(m.headers.get('x-empty')).toBe('');
    expect(m.headers.get('x-spaces')).toBe('');
  });

  it('repeated list headers and comma-joined values are split in order', () => {
    const m = parseMessage(
      request('Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>', 'Route: <sip:p3.example.com;lr>', 'Supported: timer,100rel ,  path', 'Supported: gruu'),
    );
    expect(m.headers.getAll('route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>', '<sip:p3.example.com;lr>']);
    expect(m.headers.get('route')).toBe('<sip:p1.example.com;lr>');
    expect(m.headers.getAll('supported')).toEqual(['timer', '100rel', 'path', 'gruu']);
  });

  it('commas inside quoted strings (with quoted-pairs) and inside <> do not split', () => {
    const m = parseMessage(
      request(
        'Contact: "Doe, John \\"JD, Jr\\"" <sip:jd@example.com;x=a>;q=0.5, <sip:b@example.com?subject=a,b>, sip:c@example.com',
      ),
    );
    expect(m.headers.getAll('contact')).toEqual([
      '"Doe, John \\"JD, Jr\\"" <sip:jd@example.com;x=a>;q=0.5',
      '<sip:b@example.com?subject=a,b>',
      'sip:c@example.com',
    ]);
    expect(m.contacts.map((c) => c.displayName)).toEqual(['Doe, John "JD, Jr"', undefined, undefined]);
    expect(m.contacts[0]!.q).toBe(0.5);
  });

  it('headers that are not lists are never split at commas', () => {
    const m = parseMessage(
      request(
        'Date: Sat, 13 Nov 2010 23:29:00 GMT',
        'WWW-Authenticate: Digest realm="a", nonce="b", algorithm=MD5',
        'X-Unknown: a, b, c',
        'Subject: hello, world',
      ),
    );
    expect(m.headers.getAll('date')).toEqual(['Sat, 13 Nov 2010 23:29:00 GMT']);
    expect(m.headers.getAll('www-authenticate')).toEqual(['Digest realm="a", nonce="b", algorithm=MD5']);
    expect(m.headers.getAll('x-unknown')).toEqual(['a, b, c']);
    expect(m.headers.get('subject')).toBe('hello, world');
  });

  it('splitList keeps empty elements (so the element parser rejects them) and handles unbalanced input', () => {
    const out: string[] = [];
    splitList(';;,,;;,;', out);
    expect(out).toEqual([';;', '', ';;', ';']);
    const b: string[] = [];
    splitList('"unterminated, quote', b);
    expect(b).toEqual(['"unterminated, quote']);
    const c: string[] = [];
    splitList('<sip:a, b, "x>, y', c);
    expect(c).toEqual(['<sip:a, b, "x>, y']);
    const d: string[] = [];
    splitList('a\\, b', d); // a backslash outside quotes is just a character
    expect(d).toEqual(['a\\', 'b']);
  });

  it('unknown headers survive untouched, in order, through parse and serialise', () => {
    const extra = ['X-Unicode: ✓ zürich', 'P-Odd-Header: ;;,,;;,; "quoted \\" string" <x> (comment)', 'x-lower: 1', 'X-Lower: 2'];
    const m = parseMessage(request(...extra));
    const out = m.toBuffer().toString('utf8');
    expect(out).toContain('\r\n' + extra.join('\r\n') + '\r\n');
    expect(m.headers.get('x-unicode')).toBe('✓ zürich');
  });
});

describe('SipHeaders API', () => {
  const make = (): SipHeaders =>
    new SipHeaders([
      ['Via', 'SIP/2.0/UDP a;branch=z9hG4bK1'],
      ['To', '<sip:b@example.com>'],
      ['v', 'SIP/2.0/UDP b;branch=z9hG4bK2, SIP/2.0/UDP c;branch=z9hG4bK3'],
      ['X-A', '1'],
      ['From', '<sip:a@example.com>;tag=x'],
    ]);

  it('get returns the first value (first element of a list), getAll every value', () => {
    const h = make();
    expect(h.get('via')).toBe('SIP/2.0/UDP a;branch=z9hG4bK1');
    expect(h.getAll('VIA')).toEqual(['SIP/2.0/UDP a;branch=z9hG4bK1', 'SIP/2.0/UDP b;branch=z9hG4bK2', 'SIP/2.0/UDP c;branch=z9hG4bK3']);
    const list = new SipHeaders([['Allow', 'INVITE, ACK']]);
    expect(list.get('allow')).toBe('INVITE');
    expect(h.get('nope')).toBeUndefined();
    expect(h.getAll('nope')).toEqual([]);
  });

  it('has / delete', () => {
    const h = make();
    expect(h.has('V')).toBe(true);
    expect(h.delete('via')).toBe(true);
    expect(h.has('v')).toBe(false);
    expect(h.delete('via')).toBe(false);
    expect([...h].map(([n]) => n)).toEqual(['To', 'X-A', 'From']);
  });

  it('set replaces every line of a header at the position of the first one', () => {
    const h = make();
    h.set('VIA', ['SIP/2.0/TCP x;branch=z9hG4bKx', 'SIP/2.0/TCP y;branch=z9hG4bKy']);
    expect([...h]).toEqual([
      ['Via', 'SIP/2.0/TCP x;branch=z9hG4bKx'],
      ['Via', 'SIP/2.0/TCP y;branch=z9hG4bKy'],
      ['To', '<sip:b@example.com>'],
      ['X-A', '1'],
      ['From', '<sip:a@example.com>;tag=x'],
    ]);
    h.set('x-a', 2);
    expect(h.get('X-A')).toBe('2');
    h.set('Subject', 'new');
    expect([...h].at(-1)).toEqual(['Subject', 'new']);
    h.set('To', []);
    expect(h.has('to')).toBe(false);
  });

  it('append adds after the others, prepend before all; new names get their usual spelling', () => {
    const h = make();
    h.append('x-a', '2').append('call-id', 'c1').append('cseq', '1 INVITE').append('v', 'SIP/2.0/UDP d;branch=z9hG4bK4');
    h.prepend('via', 'SIP/2.0/UDP top;branch=z9hG4bK0');
    const lines = [...h];
    expect(lines[0]).toEqual(['Via', 'SIP/2.0/UDP top;branch=z9hG4bK0']);
    expect(lines.slice(-4)).toEqual([
      ['x-a', '2'],
      ['Call-ID', 'c1'],
      ['CSeq', '1 INVITE'],
      ['Via', 'SIP/2.0/UDP d;branch=z9hG4bK4'],
    ]);
    expect(h.getAll('via').map((v) => v.split(' ')[1]!.split(';')[0])).toEqual(['top', 'a', 'b', 'c', 'd']);
    expect(h.getAll('x-a')).toEqual(['1', '2']);
  });

  it('iterates [name, value] per line in wire order; entries() and toJSON() agree', () => {
    const h = make();
    // Names given through the API get their usual spelling ('v' -> 'Via'); parsed ones stay as written.
    expect([...h].map(([n]) => n)).toEqual(['Via', 'To', 'Via', 'X-A', 'From']);
    expect([...parseMessage(request('v: SIP/2.0/UDP x;branch=z9hG4bK9')).headers].map(([n]) => n)).toContain('v');
    expect([...h.entries()]).toEqual([...h]);
    expect(h.toJSON()).toEqual([...h]);
    expect(h.size).toBe(5);
  });

  it('clone is independent', () => {
    const h = make();
    const c = h.clone();
    c.set('X-A', 'changed');
    c.delete('to');
    expect(h.get('x-a')).toBe('1');
    expect(h.has('to')).toBe(true);
    expect(new SipHeaders(h).getAll('via')).toEqual(h.getAll('via'));
  });

  it('can be built from a record (arrays become several lines)', () => {
    const h = new SipHeaders({ Via: ['SIP/2.0/UDP a;branch=z9hG4bK1', 'SIP/2.0/UDP b;branch=z9hG4bK2'], 'Max-Forwards': 70, 'x-y': 'z' });
    expect([...h]).toEqual([
      ['Via', 'SIP/2.0/UDP a;branch=z9hG4bK1'],
      ['Via', 'SIP/2.0/UDP b;branch=z9hG4bK2'],
      ['Max-Forwards', '70'],
      ['x-y', 'z'],
    ]);
  });

  it('structured views follow header changes', () => {
    const m = parseMessage(INVITE);
    expect(m.via).toHaveLength(2);
    expect(m.cseq.seq).toBe(314159);
    m.headers.prepend('Via', 'SIP/2.0/TLS proxy.example.com;branch=z9hG4bKp');
    expect(m.via.map((v) => v.host)).toEqual(['proxy.example.com', 'pc33.atlanta.example.com', '2001:db8::9']);
    expect(m.topVia!.transport).toBe('TLS');
    m.headers.set('CSeq', '314160 INVITE');
    expect(m.cseq.seq).toBe(314160);
    m.headers.set('t', '<sip:x@example.com>;tag=new');
    expect(m.to.tag).toBe('new');
    m.headers.delete('From');
    expect(() => m.from).toThrow(SipParseError);
    m.headers.set('max-forwards', '69');
    expect(m.maxForwards).toBe(69);
    m.headers.delete('max-forwards');
    expect(m.maxForwards).toBeUndefined();
    m.headers.append('m', '<sip:second@example.com>');
    expect(m.contacts).toHaveLength(2);
    m.headers.delete('v');
    expect(m.via).toEqual([]);
    expect(m.topVia).toBeUndefined();
  });

  it('a malformed value set later makes its view throw SipParseError (400)', () => {
    const m = parseMessage(OPTIONS);
    m.headers.set('Via', 'garbage');
    expect(() => m.via).toThrow(SipParseError);
    m.headers.set('CSeq', 'x');
    expect(() => m.cseq).toThrow(SipParseError);
    m.headers.set('Max-Forwards', '-1');
    expect(() => m.maxForwards).toThrow(SipParseError);
    m.headers.set('Call-ID', '');
    expect(() => m.callId).toThrow(SipParseError);
  });
});

describe('scalar fields: out of range is an error, never wrapped', () => {
  it('CSeq: 0 and 2^32-1 are fine, 2^32 and beyond are 400', () => {
    expect(parseCSeq('0 INVITE')).toEqual({ seq: 0, method: 'INVITE' });
    expect(parseCSeq('4294967295 INVITE')).toEqual({ seq: 4294967295, method: 'INVITE' });
    for (const bad of ['4294967296 INVITE', '36893488147419103232 INVITE', '99999999999999999999999999 INVITE']) {
      expect(() => parseCSeq(bad)).toThrow(SipParseError);
    }
    const ok = parseMessage(request().replace('CSeq: 1 OPTIONS', 'CSeq: 4294967295 OPTIONS'));
    expect(ok.cseq.seq).toBe(4294967295);
    const err = parseError(request().replace('CSeq: 1 OPTIONS', 'CSeq: 4294967296 OPTIONS'));
    expect(err.status).toBe(400);
  });

  it('CSeq syntax: LWS and folding between number and method; garbage is 400', () => {
    expect(parseCSeq('  0009 \t INVITE ')).toEqual({ seq: 9, method: 'INVITE' });
    for (const bad of ['', 'INVITE', '1', '1INVITE', '-1 INVITE', '+1 INVITE', '1 INV ITE', '1.5 INVITE', '1 <INVITE>']) {
      expect(() => parseCSeq(bad), bad).toThrow(SipParseError);
    }
  });

  it('the CSeq method must match the request method (case-sensitive)', () => {
    expect(parseError(request().replace('CSeq: 1 OPTIONS', 'CSeq: 1 options')).status).toBe(400);
    // Responses carry whatever method the request had.
    const res = parseMessage(crlf('SIP/2.0 200 OK', 'CSeq: 1 FOO', 'Content-Length: 0', '', ''));
    expect(res.cseq.method).toBe('FOO');
  });

  it('Max-Forwards: 0..255 (leading zeros fine), 256 and beyond are 400', () => {
    for (const [v, n] of [
      ['0', 0],
      ['255', 255],
      ['0068', 68],
      ['00000000000000000000070', 70],
    ] as const) {
      expect(parseMessage(request(`Max-Forwards: ${v}`)).maxForwards).toBe(n);
    }
    for (const v of ['256', '300', '4294967366', '-1', '1.0', 'ten', '']) {
      expect(parseError(request(`Max-Forwards: ${v}`)).status, v).toBe(400);
    }
  });

  it('status codes: 100 and 699 are fine; 99, 700, 4294967301, short or non-numeric codes are errors', () => {
    const res = (line: string): string => crlf(line, 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'CSeq: 1 INVITE', 'Content-Length: 0', '', '');
    expect((parseMessage(res('SIP/2.0 100 Trying')) as SipResponse).status).toBe(100);
    expect((parseMessage(res('SIP/2.0 699 Whatever')) as SipResponse).status).toBe(699);
    expect((parseMessage(res('SIP/2.0 200')) as SipResponse).reason).toBe('');
    for (const bad of [
      'SIP/2.0 099 Low',
      'SIP/2.0 700 High',
      'SIP/2.0 999 High',
      'SIP/2.0 4294967301 better not break the receiver',
      'SIP/2.0 20',
      'SIP/2.0 2',
      'SIP/2.0 ',
      'SIP/2.0',
      'SIP/2.0 2x0 OK',
      'SIP/2.0 200OK',
      'SIP/2.0  200 OK',
      'SIP/2.0 -20 OK',
    ]) {
      const err = parseError(res(bad));
      expect(err.status, bad).toBe(400);
      expect(err.isRequest, bad).toBe(false);
    }
  });

  it('Content-Length: digits only, at most 2^31-1', () => {
    for (const v of ['-1', '+1', '1.0', 'five', '0x10', '99999999999', '1 2']) {
      expect(parseError(request().replace('Content-Length: 0', `Content-Length: ${v}`)).status, v).toBe(400);
    }
  });
});

describe('start line', () => {
  it('request line: method token, Request-URI, SIP/2.0 (version letters case-insensitive)', () => {
    const m = parseMessage(request().replace('SIP/2.0\r\n', 'sip/2.0\r\n')) as SipRequest;
    expect(m.method).toBe('OPTIONS');
    expect(m.uri).toBe('sip:bob@example.com');
  });

  it('a lower-case "sip/2.0" status line is a response', () => {
    const m = parseMessage(crlf('sip/2.0 180 Ringing', 'CSeq: 1 INVITE', 'Content-Length: 0', '', ''));
    expect(m).toBeInstanceOf(SipResponse);
    expect((m as SipResponse).status).toBe(180);
  });

  it('other versions are 505 (requests) with the headers kept for the answer', () => {
    const err = parseError(request().replace('SIP/2.0\r\n', 'SIP/3.0\r\n'));
    expect(err.status).toBe(505);
    expect(err.headers?.get('call-id')).toBe('abc');
    const res = parseError(crlf('SIP/3.0 200 OK', 'CSeq: 1 INVITE', '', ''));
    expect(res.status).toBe(505);
    expect(res.isRequest).toBe(false);
  });

  it('malformed request lines are 400', () => {
    for (const line of [
      'OPTIONS sip:bob@example.com',
      'OPTIONS  sip:bob@example.com SIP/2.0',
      'OPTIONS sip:bob@example.com SIP/2.0 ',
      'OPTIONS\tsip:bob@example.com\tSIP/2.0',
      'OPT<IONS sip:bob@example.com SIP/2.0',
      'OPTIONS <sip:bob@example.com> SIP/2.0',
      'OPTIONS bob@example.com SIP/2.0',
      'OPTIONS sip:bob@example.com HTTP/1.1',
      ' OPTIONS sip:bob@example.com SIP/2.0',
      'OPTIONS sip:bob@example.com?Route=x SIP/2.0',
    ]) {
      const err = parseError(request().replace('OPTIONS sip:bob@example.com SIP/2.0', line));
      expect(err.status, line).toBe(400);
      expect(err.isRequest, line).toBe(true);
    }
  });

  it('leading CRLFs before the start line are skipped (RFC 3261 §7.5)', () => {
    expect(parseMessage('\r\n\r\n' + request())).toBeInstanceOf(SipRequest);
  });
});

describe('the validated headers are recognised by exact name only', () => {
  // parseMessage recognises Via, From, To, Call-ID, CSeq, Contact, Max-Forwards and Content-Length
  // where they stand (letter by letter, any case, compact forms, LWS before the colon); a name
  // that differs by one character is an ordinary header whose value is never checked.
  const nearMisses = [
    'Vias: !!!', 'Vi: !!!', 'Va: !!!', 'Fromm: !!!', 'Frm: !!!', 'Tox: !!!', 'Ta: !!!', 'CSeqq: !!!', 'CSe: !!!',
    'CSeg: !!!', 'Call-IDs: !!!', 'Call_ID: !!!', 'Callid: !!!', 'Call-IE: !!!', 'Contacts: <', 'Contakt: <', 'Contact_: <',
    'Content-Lengthx: !!!', 'Content_Length: 99999', 'Content-Lenght: 99999', 'Max-Forward: 999', 'Max_Forwards: 999',
    'Max-Forwardz: 999', 'vv: !!!', 'ff: !!!', 'ii: !!!', 'mm: <', 'll: 99999', 'cc: !!!',
  ];
  it.each(nearMisses)('"%s" is an ordinary header', (line) => {
    const m = parseMessage(request(line));
    const [name, value] = [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)];
    expect(m.headers.get(name)).toBe(value);
    expect(m.via).toHaveLength(1);
    expect(m.cseq.seq).toBe(1);
    expect(m.body.length).toBe(0);
  });

  it('odd case and LWS before the colon still name the validated headers', () => {
    const m = parseMessage(
      crlf(
        'OPTIONS sip:bob@example.com SIP/2.0',
        'vIA \t: SIP/2.0/UDP a.example.com;branch=z9hG4bK1',
        'V : SIP/2.0/TCP b.example.com;branch=z9hG4bK2',
        't\t: <sip:bob@example.com>',
        'FROM : <sip:alice@example.com>;tag=9',
        'CALL-id  : abc',
        'cSEQ\t: 7 OPTIONS',
        'mAX-fORWARDS : 12',
        'M : <sip:alice@192.0.2.1>',
        'cONTENT-lENGTH\t: 2',
        '',
        'xyz',
      ),
    );
    expect(m.via.map((v) => v.host)).toEqual(['a.example.com', 'b.example.com']);
    expect(m.to.uri).toBe('sip:bob@example.com');
    expect(m.from.tag).toBe('9');
    expect(m.callId).toBe('abc');
    expect(m.cseq.seq).toBe(7);
    expect(m.maxForwards).toBe(12);
    expect(m.contacts[0]!.uri).toBe('sip:alice@192.0.2.1');
    expect(m.body.toString()).toBe('xy');
  });

  it.each([
    ['Max-Forwards: 70', 'mAX-fORWARDS : 256'],
    ['Content-Length: 0', 'CONTENT-LENGTH : x'],
    ['CSeq: 1 OPTIONS', 'cseq\t: x OPTIONS'],
    ['Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1', 'vIa : nonsense'],
    ['To: <sip:bob@example.com>', 'T : <sip:bob@example.com'],
  ])('a bad value is rejected when "%s" is spelled "%s"', (line, odd) => {
    expect(parseError(request('Max-Forwards: 70').replace(line, odd)).status).toBe(400);
  });
});

describe('parseMessage input', () => {
  it('a plain Uint8Array is read in place like a Buffer (same message, body a view of it)', () => {
    const bytes = new TextEncoder().encode(request());
    const framed = new Uint8Array(bytes.length + 4);
    framed.set(bytes, 2);
    const view = framed.subarray(2, 2 + bytes.length);
    const m = parseMessage(view);
    expect(m.cseq.seq).toBe(1);
    expect(m.toBuffer().equals(Buffer.from(bytes))).toBe(true);
    expect(() => parseMessage(new Uint8Array([1, 2, 3]))).toThrow(SipParseError);
  });
});

describe('Accept (RFC 3261 §21.4.7, RFC 4475 sdp01)', () => {
  it('matches media ranges: exact, type/*, */*, q=0 excludes, the most specific range decides', async () => {
    const { acceptsContentType: ok } = await import('../../src/message/index.js');
    expect(ok(undefined, 'application/sdp')).toBe(true);
    expect(ok([], 'application/sdp')).toBe(false); // an empty Accept: no body
    expect(ok(['text/nobodyKnowsThis'], 'application/sdp')).toBe(false);
    expect(ok(['application/sdp'], 'Application/SDP; charset=utf-8')).toBe(true);
    expect(ok(['application/*'], 'application/sdp')).toBe(true);
    expect(ok(['*/*'], 'application/sdp')).toBe(true);
    expect(ok(['*/*', 'application/sdp;q=0'], 'application/sdp')).toBe(false);
    expect(ok(['application/sdp;level=1;q=0.5'], 'application/sdp')).toBe(true);
    expect(ok(['text/plain', 'application/pidf+xml'], 'application/sdp')).toBe(false);
  });
});

describe('removeFirst (a proxy dropping its Via from a relayed response)', () => {
  const response = (...vias: string[]): SipResponse =>
    parseMessage(
      crlf('SIP/2.0 180 Ringing', ...vias, 'To: <sip:bob@example.com>;tag=2', 'From: <sip:alice@example.com>;tag=1', 'Call-ID: abc', 'CSeq: 1 INVITE', 'Content-Length: 0', '', ''),
    ) as SipResponse;

  it('drops the first line only; the others keep their spelling and the parsed view follows', () => {
    const res = response('Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp', 'v: SIP/2.0/TCP  phone.example.com;branch=z9hG4bKa', 'Via: SIP/2.0/UDP x.example.com;branch=z9hG4bKx');
    expect(res.topVia?.host).toBe('proxy.example.com');
    expect(res.headers.removeFirst('via')).toBe(true);
    expect(res.headers.getAll('via')).toEqual(['SIP/2.0/TCP  phone.example.com;branch=z9hG4bKa', 'SIP/2.0/UDP x.example.com;branch=z9hG4bKx']);
    expect(res.topVia?.host).toBe('phone.example.com');
    expect(res.via).toHaveLength(2);
    const wire = res.toBuffer().toString('latin1');
    expect(wire).toContain('\r\nv: SIP/2.0/TCP  phone.example.com;branch=z9hG4bKa\r\n'); // untouched lines as received
    expect(wire).not.toContain('proxy.example.com');
  });

  it('refuses (nothing changed) a first line holding several values, or no such header', () => {
    const res = response('Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp, SIP/2.0/UDP phone.example.com;branch=z9hG4bKa');
    expect(res.headers.removeFirst('via')).toBe(false);
    expect(res.headers.getAll('via')).toHaveLength(2);
    expect(res.headers.removeFirst('record-route')).toBe(false);
    expect(res.headers.size).toBe(6);
  });
});
