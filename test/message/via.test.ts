import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BRANCH_COOKIE, formatVia, generateBranch, parseMessage, parseVia, SipParseError } from '../../src/message/index.js';

describe('parseVia', () => {
  it('transport, host, port, branch, received, rport with value, other params', () => {
    const v = parseVia('SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5067;maddr=224.2.0.1;ttl=16');
    expect(v.protocol).toBe('SIP/2.0');
    expect(v.transport).toBe('UDP');
    expect(v.host).toBe('pc33.atlanta.example.com');
    expect(v.port).toBe(5066);
    expect(v.sentBy).toBe('pc33.atlanta.example.com:5066');
    expect(v.branch).toBe('z9hG4bK776asdhds');
    expect(v.received).toBe('192.0.2.1');
    expect(v.rport).toBe(5067);
    expect([...v.params]).toEqual([
      ['branch', 'z9hG4bK776asdhds'],
      ['received', '192.0.2.1'],
      ['rport', '5067'],
      ['maddr', '224.2.0.1'],
      ['ttl', '16'],
    ]);
  });

  it('rport without a value is null (RFC 3581 request flag); absent is undefined', () => {
    expect(parseVia('SIP/2.0/UDP h;rport;branch=z9hG4bK1').rport).toBeNull();
    expect(parseVia('SIP/2.0/UDP h;branch=z9hG4bK1').rport).toBeUndefined();
    expect(parseVia('SIP/2.0/UDP h;branch=z9hG4bK1').port).toBeUndefined();
    expect(parseVia('SIP/2.0/UDP h;branch=z9hG4bK1').received).toBeUndefined();
    expect(parseVia('SIP/2.0/UDP h').branch).toBeUndefined();
  });

  it('transport is upper-cased; any token is allowed', () => {
    expect(parseVia('SIP/2.0/tcp h').transport).toBe('TCP');
    expect(parseVia('sip/2.0/tls h').protocol).toBe('SIP/2.0');
    for (const t of ['UDP', 'TCP', 'TLS', 'SCTP', 'WS', 'WSS', 'UNKNOWN', 'TLS-SCTP']) expect(parseVia(`SIP/2.0/${t} h`).transport).toBe(t);
  });

  it('IPv6 sent-by (brackets removed from host, kept in sentBy) and IPv6 received', () => {
    const v = parseVia('SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111;received=2001:db8::9:255;rport');
    expect(v.host).toBe('2001:db8::9:1');
    expect(v.port).toBe(5070);
    expect(v.sentBy).toBe('[2001:db8::9:1]:5070');
    expect(v.received).toBe('2001:db8::9:255');
    expect(v.rport).toBeNull();
    const noPort = parseVia('SIP/2.0/TCP [::1];branch=z9hG4bK1');
    expect(noPort.host).toBe('::1');
    expect(noPort.port).toBeUndefined();
    expect(noPort.sentBy).toBe('[::1]');
  });

  it('LWS around "/", ":", ";" and "=" (RFC 4475 wsinv)', () => {
    const v = parseVia('SIP  /   2.0 /UDP    192.0.2.2 : 5060 ;  branch  =   z9hG4bK9ikj8 ; rport');
    expect(v).toMatchObject({ protocol: 'SIP/2.0', transport: 'UDP', host: '192.0.2.2', port: 5060, branch: 'z9hG4bK9ikj8', rport: null });
  });

  it('port bounds and sent-by errors', () => {
    expect(parseVia('SIP/2.0/UDP h:0').port).toBe(0);
    expect(parseVia('SIP/2.0/UDP h:65535').port).toBe(65535);
    for (const bad of [
      'SIP/2.0/UDP h:65536',
      'SIP/2.0/UDP h:',
      'SIP/2.0/UDP h:x',
      'SIP/2.0/UDP',
      'SIP/2.0/UDP ',
      'SIP/2.0/UDPh',
      'SIP/2.0 h',
      'SIP/UDP h',
      'SIP/2.0/ h',
      '/2.0/UDP h',
      'SIP/2.0/UDP [::1',
      'SIP/2.0/UDP []',
      'SIP/2.0/UDP [,2001:db8::9]:5061',
      'SIP/2.0/UDP [2001:db8::g]',
      'SIP/2.0/UDP [::1 ]',
      'SIP/2.0/UDP ::1',
      'SIP/2.0/UDP h_\u00e9',
      'SIP/2.0/UDP h;;',
      'SIP/2.0/UDP 192.0.2.15;;,;,,',
      'SIP/2.0/UDP h;branch=',
      'SIP/2.0/UDP h;=x',
      'SIP/2.0/UDP h junk',
      'SIP/2.0/UDP h;branch="unterminated',
      '',
    ]) {
      expect(() => parseVia(bad), JSON.stringify(bad)).toThrow(SipParseError);
    }
  });

  it('parameter names are case-insensitive, values keep their case', () => {
    const v = parseVia('SIP/2.0/UDP h;BRANCH=z9hG4bKAbC;Received=10.0.0.1;RPort=1');
    expect(v.branch).toBe('z9hG4bKAbC');
    expect(v.received).toBe('10.0.0.1');
    expect(v.rport).toBe(1);
  });

  it('a non-numeric rport value is treated as the flag', () => {
    expect(parseVia('SIP/2.0/UDP h;rport=abc').rport).toBeNull();
    expect(parseVia('SIP/2.0/UDP h;rport=70000').rport).toBeNull();
  });
});

describe('Via in messages', () => {
  it('a comma list and several lines give one Via each, in order; malformed one is a 400', () => {
    const base = [
      'OPTIONS sip:a@example.com SIP/2.0',
      'Via: SIP/2.0/UDP one;branch=z9hG4bK1, SIP/2.0/TCP two:5061;branch=z9hG4bK2',
      'v: SIP/2.0/TLS [::1]:5062;branch=z9hG4bK3;rport',
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ];
    const m = parseMessage(base.join('\r\n'));
    expect(m.via.map((v) => [v.transport, v.host, v.port, v.branch])).toEqual([
      ['UDP', 'one', undefined, 'z9hG4bK1'],
      ['TCP', 'two', 5061, 'z9hG4bK2'],
      ['TLS', '::1', 5062, 'z9hG4bK3'],
    ]);
    expect(m.topVia!.host).toBe('one');
    const bad = [...base];
    bad[2] = 'v: SIP/2.0/TLS [::1]:5062;;branch=z9hG4bK3';
    expect(() => parseMessage(bad.join('\r\n'))).toThrow(SipParseError);
  });
});

describe('Via lists of every length', () => {
  it('one to six Via values, one per line or several on a line, top first', () => {
    for (let n = 1; n <= 6; n++) {
      const branches = Array.from({ length: n }, (_, i) => `z9hG4bK${i}`);
      const perLine = branches.map((b, i) => `Via: SIP/2.0/UDP h${i}.example.com:${5060 + i};branch=${b}`);
      const joined = [`Via: ${branches.map((b, i) => `SIP/2.0/UDP h${i}.example.com:${5060 + i};branch=${b}`).join(', ')}`];
      for (const vias of [perLine, joined]) {
        const m = parseMessage(['OPTIONS sip:b@h SIP/2.0', ...vias, 'From: <sip:a@h>;tag=1', 'To: <sip:b@h>', 'Call-ID: c', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n'));
        expect(m.via.map((v) => v.branch)).toEqual(branches);
        expect(m.via.map((v) => v.port)).toEqual(branches.map((_, i) => 5060 + i));
        m.via.push(parseVia('SIP/2.0/TCP x;branch=z9hG4bKx')); // a plain array
        expect(m.via.length).toBe(n + 1);
      }
    }
  });
});

describe('formatVia / generateBranch', () => {
  it('formats what parseVia reads, round trip', () => {
    for (const s of [
      'SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5067',
      'SIP/2.0/TCP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111;rport',
      'SIP/2.0/TLS h',
    ]) {
      expect(formatVia(parseVia(s))).toBe(s);
      expect(parseVia(formatVia(parseVia(s)))).toEqual(parseVia(s));
    }
  });

  it('branches carry the magic cookie and are unique', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10000; i++) {
      const b = generateBranch();
      expect(b.startsWith(BRANCH_COOKIE)).toBe(true);
      seen.add(b);
    }
    expect(seen.size).toBe(10000);
  });
});

describe('parsed views as plain data', () => {
  it('JSON.stringify and util.inspect show the lazily read parts of Via, From/To and Contact', () => {
    const m = parseMessage(
      [
        'INVITE sip:bob@example.com SIP/2.0',
        'Via: SIP/2.0/UDP h.example.com:5070;branch=z9hG4bKx;rport;x=1',
        'To: "Bob B" <sip:bob@example.com>',
        'From: <sip:alice@example.com>;tag=9;y=2',
        'Call-ID: c',
        'CSeq: 1 INVITE',
        'Contact: <sip:alice@192.0.2.1>;expires=60;q=0.5',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    expect(JSON.parse(JSON.stringify(m.via[0]))).toEqual({
      protocol: 'SIP/2.0', transport: 'UDP', host: 'h.example.com', port: 5070, sentBy: 'h.example.com:5070',
      branch: 'z9hG4bKx', rport: null, params: { branch: 'z9hG4bKx', rport: null, x: '1' },
    });
    expect(JSON.parse(JSON.stringify(m.to))).toEqual({ displayName: 'Bob B', uri: 'sip:bob@example.com', params: {} });
    expect(JSON.parse(JSON.stringify(m.from))).toEqual({ uri: 'sip:alice@example.com', params: { tag: '9', y: '2' }, tag: '9' });
    expect(JSON.parse(JSON.stringify(m.contacts[0]))).toEqual({ uri: 'sip:alice@192.0.2.1', params: { expires: '60', q: '0.5' }, expires: 60, q: 0.5 });
    expect(inspect(m.from)).toContain("uri: 'sip:alice@example.com'");
    expect(inspect(m.via[0])).toContain("'x' => '1'");
    // A Contact shows its own fields, a From (the same class) does not.
    expect(inspect(m.contacts[0])).toContain('q: 0.5');
    expect(inspect(m.from)).not.toContain('expires');
    expect(Object.keys(m.from)).toEqual(['tag']);
  });
});
