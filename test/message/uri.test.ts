import { describe, expect, it } from 'vitest';
import { formatNameAddr, formatUri, parseContact, parseMessage, parseNameAddr, parseUri, SipParseError, uriOf, type SipUri } from '../../src/message/index.js';

const entries = <K, V>(m: Map<K, V>): [K, V][] => [...m];

describe('parseUri: sip / sips', () => {
  it('user, password, host, port, params, headers', () => {
    const u = parseUri('sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent');
    expect(u.scheme).toBe('sips');
    expect(u.user).toBe('alice');
    expect(u.password).toBe('secret');
    expect(u.host).toBe('atlanta.example.com');
    expect(u.port).toBe(5061);
    expect(entries(u.params)).toEqual([
      ['transport', 'tcp'],
      ['lr', null],
      ['maddr', '239.255.255.1'],
    ]);
    expect(entries(u.headers)).toEqual([
      ['subject', 'project x'],
      ['priority', 'urgent'],
    ]);
  });

  it('an empty user part before "@" is read liberally as an empty user', () => {
    expect(parseUri('sip:@example.com')).toMatchObject({ user: '', host: 'example.com' });
  });

  it('host only, no user, no port', () => {
    const u = parseUri('sip:example.com');
    expect(u).toMatchObject({ scheme: 'sip', host: 'example.com' });
    expect(u.user).toBeUndefined();
    expect(u.password).toBeUndefined();
    expect(u.port).toBeUndefined();
    expect(u.params.size).toBe(0);
    expect(u.headers.size).toBe(0);
  });

  it('the scheme is case-insensitive and reported in lower case', () => {
    expect(parseUri('SIP:bob@Example.COM').scheme).toBe('sip');
    expect(parseUri('SiPs:bob@example.com').scheme).toBe('sips');
    expect(parseUri('SIP:bob@Example.COM').host).toBe('Example.COM');
  });

  it('IPv4 and IPv6 references (brackets removed), with and without port', () => {
    expect(parseUri('sip:bob@192.0.2.4:5070')).toMatchObject({ host: '192.0.2.4', port: 5070 });
    expect(parseUri('sip:[2001:db8::10]')).toMatchObject({ host: '2001:db8::10' });
    expect(parseUri('sip:[2001:db8::10]').port).toBeUndefined();
    expect(parseUri('sip:bob@[2001:db8::10]:5070;transport=udp')).toMatchObject({ user: 'bob', host: '2001:db8::10', port: 5070 });
    expect(parseUri('sip:[::ffff:192.0.2.1]:5060')).toMatchObject({ host: '::ffff:192.0.2.1', port: 5060 });
    expect(parseUri('sip:[::1]').host).toBe('::1');
  });

  it('port bounds: 0..65535', () => {
    expect(parseUri('sip:h:0').port).toBe(0);
    expect(parseUri('sip:h:65535').port).toBe(65535);
    for (const bad of ['sip:h:65536', 'sip:h:', 'sip:h:5x', 'sip:h:-1', 'sip:h:99999999999999999999']) {
      expect(() => parseUri(bad), bad).toThrow(SipParseError);
    }
  });

  it('% unescaping is done once, in user, password, params and headers', () => {
    const u = parseUri('sip:%61lice%20smith:p%40ss@example.com;n%61me=v%61lue%25%34%31;%6C%72?h%65ader=%3Csip:x%40y%3E');
    expect(u.user).toBe('alice smith');
    expect(u.password).toBe('p@ss');
    expect(entries(u.params)).toEqual([
      ['name', 'value%41'],
      ['lr', null],
    ]);
    expect(entries(u.headers)).toEqual([['header', '<sip:x@y>']]);
  });

  it('an escaped user may hold "@", ";", "?" and ":" (only the first real "@" ends it)', () => {
    expect(parseUri('sip:sips%3Auser%40example.com@example.net')).toMatchObject({ user: 'sips:user@example.com', host: 'example.net' });
    const semi = parseUri('sip:user;par=u%40example.net@example.com');
    expect(semi).toMatchObject({ user: 'user;par=u@example.net', host: 'example.com' });
    expect(semi.params.size).toBe(0);
  });

  it('%00 does not truncate; invalid escapes stay literal; UTF-8 escapes decode', () => {
    expect(parseUri('sip:null-%00-null@example.com').user).toBe('null-\0-null');
    expect(parseUri('sip:%Z%45x%4@example.com').user).toBe('%ZEx%4');
    expect(parseUri('sip:%D0%B8%D0%BC%D1%8F@example.com').user).toBe('имя');
    expect(parseUri('sip:100%25@example.com').user).toBe('100%');
  });

  it('URI params: names lower-cased, values kept in case; a param without value is null', () => {
    const u = parseUri('sip:h;Transport=TCP;LR;Method=INVITE');
    expect(entries(u.params)).toEqual([
      ['transport', 'TCP'],
      ['lr', null],
      ['method', 'INVITE'],
    ]);
  });

  it('URI headers: several, empty value, a valueless name', () => {
    const u = parseUri('sip:h?a=1&b=&c&&d=x%26y');
    expect(entries(u.headers)).toEqual([
      ['a', '1'],
      ['b', ''],
      ['c', ''],
      ['d', 'x&y'],
    ]);
  });

  it('malformed sip URIs are SipParseError (400)', () => {
    for (const bad of [
      'sip:',
      'sip:bob@',
      'sip:bob@exa mple.com',
      'sip:bob@example.com;',
      'sip:bob@example.com;;lr',
      'sip:bob@example.com;a=',
      'sip:bob@[2001:db8::1',
      'sip:bob@[2001:db8::g]',
      'sip:bob@exa<mple.com',
      'sip:bob@example.com>',
      'sip:bob@example.com\r\n',
      'sip:bob@example.com\0',
      ':bob@example.com',
      'bob@example.com',
      '1sip:bob@example.com',
      's p:bob@example.com',
    ]) {
      expect(() => parseUri(bad), JSON.stringify(bad)).toThrow(SipParseError);
      try {
        parseUri(bad);
      } catch (e) {
        expect((e as SipParseError).status).toBe(400);
      }
    }
  });
});

describe('parseUri: tel and other schemes', () => {
  it('tel: the number is the user part, params parsed', () => {
    const u = parseUri('tel:+1-201-555-0123;phone-context=example.com;ext=22');
    expect(u.scheme).toBe('tel');
    expect(u.user).toBe('+1-201-555-0123');
    expect(u.host).toBe('');
    expect(entries(u.params)).toEqual([
      ['phone-context', 'example.com'],
      ['ext', '22'],
    ]);
    expect(parseUri('TEL:7042;phone-context=+1-201-555').user).toBe('7042');
    expect(parseUri('tel:%2B1234').user).toBe('+1234');
    expect(() => parseUri('tel:')).toThrow(SipParseError);
    expect(() => parseUri('tel:;x=1')).toThrow(SipParseError);
  });

  it('unknown schemes are kept opaque', () => {
    expect(parseUri('nobodyKnowsThisScheme:totallyopaquecontent')).toMatchObject({
      scheme: 'nobodyknowsthisscheme',
      host: '',
      opaque: 'totallyopaquecontent',
    });
    expect(parseUri('soap.beep://192.0.2.103:3002')).toMatchObject({ scheme: 'soap.beep', opaque: '//192.0.2.103:3002' });
    expect(parseUri('urn:service:sos').opaque).toBe('service:sos');
  });
});

describe('formatUri', () => {
  it('round trips what it parses (escaping what needs it)', () => {
    for (const s of [
      'sip:example.com',
      'sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent',
      'sip:bob@[2001:db8::10]:5070;transport=udp',
      'sip:%00@host5.example.com',
      'sip:sips%3Auser%40example.com@example.net',
      'sip:user;par=u%40example.net@example.com',
      'tel:+1-201-555-0123;phone-context=example.com',
      'urn:service:sos',
    ]) {
      const u = parseUri(s);
      expect(parseUri(formatUri(u)), s).toEqual(u);
    }
  });

  it('writes a URI from parts', () => {
    const u: SipUri = {
      scheme: 'sip',
      user: 'a b@c',
      host: '2001:db8::1',
      port: 5060,
      params: new Map<string, string | null>([
        ['transport', 'tcp'],
        ['lr', null],
      ]),
      headers: new Map([['Subject', 'hi there']]),
    };
    expect(formatUri(u)).toBe('sip:a%20b%40c@[2001:db8::1]:5060;transport=tcp;lr?Subject=hi%20there');
  });
});

describe('name-addr (From, To, Contact, Route)', () => {
  it('quoted display name with quoted-pairs, URI, params, tag', () => {
    const na = parseNameAddr('"J Rosenberg \\\\\\"" <sip:jdrosen@example.com> ; tag = 98asjd8;Other="x;y"');
    expect(na.displayName).toBe('J Rosenberg \\"');
    expect(na.uri).toBe('sip:jdrosen@example.com');
    expect(na.tag).toBe('98asjd8');
    expect(entries(na.params)).toEqual([
      ['tag', '98asjd8'],
      ['other', '"x;y"'],
    ]);
  });

  it('token display names (several tokens, no LWS before <), empty quoted name, no name', () => {
    expect(parseNameAddr('Bob  Smith <sip:bob@example.com>').displayName).toBe('Bob  Smith');
    expect(parseNameAddr('caller<sip:caller@example.com>;tag=323')).toMatchObject({ displayName: 'caller', tag: '323' });
    expect(parseNameAddr('"" <sip:bob@example.com>').displayName).toBe('');
    expect(parseNameAddr('<sip:bob@example.com>').displayName).toBeUndefined();
    expect(parseNameAddr('"Ünïcødé ☎" <sip:bob@example.com>').displayName).toBe('Ünïcødé ☎');
  });

  it('addr-spec form: parameters after the URI belong to the header, not the URI', () => {
    const na = parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam;tag=5');
    expect(na.uri).toBe('sip:+19725552222@gw1.example.net');
    expect(entries(na.params)).toEqual([
      ['unknownparam', null],
      ['tag', '5'],
    ]);
    expect(uriOf(na).params.size).toBe(0);
    const inside = parseNameAddr('<sip:+19725552222@gw1.example.net;unknownparam>');
    expect(inside.params.size).toBe(0);
    expect(uriOf(inside).params.get('unknownparam')).toBeNull();
  });

  it('the URI keeps its escapes (parseUri/uriOf unescape)', () => {
    const na = parseNameAddr('<sip:I%20have%20spaces@example.net>;tag=938');
    expect(na.uri).toBe('sip:I%20have%20spaces@example.net');
    expect(uriOf(na).user).toBe('I have spaces');
  });

  it('errors: unterminated quote, missing >, spaces inside <>, non-token display name, URI with ? or , outside <>', () => {
    for (const bad of [
      '"Mr. J. User <sip:j.user@example.com>',
      '<sip:bob@example.com',
      '"Watson, Thomas" < sip:t.watson@example.org >',
      'Bell, Alexander <sip:a.g.bell@example.com>;tag=43',
      'sip:user@example.com?Route=%3Csip:sip.example.com%3E',
      '<sip:bob@example.com>;;;;',
      '<sip:bob@example.com> trailing',
      '"name" sip:bob@example.com',
      '<>',
      '',
      '<bob>',
      '<sip:a"b@example.com>',
      '<sip:a<b@example.com>',
      'sip:a"b@example.com',
      'sip:a<b@example.com',
      'sip:a>b@example.com',
    ]) {
      expect(() => parseNameAddr(bad), bad).toThrow(SipParseError);
    }
  });

  it('"tag" without value is a flag, not a tag', () => {
    const na = parseNameAddr('<sip:bob@example.com>;tag');
    expect(na.tag).toBeUndefined();
  });

  it('formatNameAddr quotes and escapes the display name', () => {
    const na = parseNameAddr('"A \\"B\\" \\\\ C" <sip:a@example.com>;tag=1;lr');
    expect(formatNameAddr(na)).toBe('"A \\"B\\" \\\\ C" <sip:a@example.com>;tag=1;lr');
    expect(parseNameAddr(formatNameAddr(na))).toEqual(na);
  });

  it('parameter values of one Contact never leak into the next one parsed', () => {
    expect(parseContact('<sip:a@b>;q=0.5;expires=60;tag=x')).toMatchObject({ q: 0.5, expires: 60, tag: 'x' });
    const c = parseContact('<sip:c@d>');
    expect(c.q).toBeUndefined();
    expect(c.expires).toBeUndefined();
    expect(c.tag).toBeUndefined();
    const list = parseMessage(
      'REGISTER sip:r SIP/2.0\r\nCSeq: 1 REGISTER\r\nContact: <sip:a@b>;q=0.1;expires=5, <sip:c@d>, *\r\nContact: <sip:e@f>;expires=7\r\n\r\n',
    ).contacts;
    expect(list.map((x) => [x.q, x.expires, x.star])).toEqual([
      [0.1, 5, undefined],
      [undefined, undefined, undefined],
      [undefined, undefined, true],
      [undefined, 7, undefined],
    ]);
  });

  it('Contact: star, expires, q (out-of-range values ignored, never wrapped)', () => {
    expect(parseContact('*')).toMatchObject({ star: true, uri: '*' });
    expect(parseContact('  *  ')).toMatchObject({ star: true });
    const c = parseContact('<sip:bob@192.0.2.4>;expires=3600;q=0.7');
    expect(c.expires).toBe(3600);
    expect(c.q).toBe(0.7);
    expect(parseContact('<sip:a@b>;expires=4294967295').expires).toBe(4294967295);
    expect(parseContact('<sip:a@b>;expires=280297596632815').expires).toBeUndefined();
    expect(parseContact('<sip:a@b>;expires=-1').expires).toBeUndefined();
    expect(parseContact('<sip:a@b>;q=1.5').q).toBeUndefined();
    expect(parseContact('<sip:a@b>;q=abc').q).toBeUndefined();
    expect(parseContact('<sip:a@b>;q=0').q).toBe(0);
  });
});
