import { describe, expect, it } from 'vitest';
import { parseContact, parseMessage, parseNameAddr, parseUri, SipParseError, SipRequest } from '../../src/message/index.js';

const head = (lines: string[]): string =>
  [
    'BYE sip:bob@192.0.2.4 SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
    'From: <sip:alice@example.com>;tag=a',
    'To: <sip:bob@example.com>;tag=b',
    'Call-ID: c1',
    'CSeq: 2 BYE',
    ...lines,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

describe('routes and recordRoutes (the route set views)', () => {
  it('every entry of every line, top first, as getAll + parseNameAddr reads them', () => {
    const m = parseMessage(
      head([
        'Route: <sip:p1.example.com;lr>, "Proxy 2" <sip:p2.example.com:5070;lr;transport=tcp>;x=1',
        'Max-Forwards: 70',
        'route: <sip:[2001:db8::3];lr>',
        'Record-Route: <sip:rr1.example.com;lr>,<sip:rr2.example.com;lr>',
      ]),
    );
    expect(m.routes.map((r) => r.uri)).toEqual(['sip:p1.example.com;lr', 'sip:p2.example.com:5070;lr;transport=tcp', 'sip:[2001:db8::3];lr']);
    expect(m.routes[1]!.displayName).toBe('Proxy 2');
    expect(m.routes[1]!.params.get('x')).toBe('1');
    expect(m.routes.map((r) => parseUri(r.uri).host)).toEqual(['p1.example.com', 'p2.example.com', '2001:db8::3']);
    expect(m.recordRoutes.map((r) => r.uri)).toEqual(['sip:rr1.example.com;lr', 'sip:rr2.example.com;lr']);
    const byStrings = m.headers.getAll('route').map((v) => parseNameAddr(v, 'Route').uri);
    expect(m.routes.map((r) => r.uri)).toEqual(byStrings);
    // Bytes untouched by reading the view: the message is written as it came.
    expect(m.toString()).toContain('Route: <sip:p1.example.com;lr>, "Proxy 2"');
  });

  it('one, two, three and more Route lines among other lines: every one is read (the scan stops after the last one counted)', () => {
    for (let n = 1; n <= 5; n++) {
      const lines: string[] = [];
      for (let i = 0; i < n; i++) lines.push(`${i % 2 ? 'route' : 'Route'}: <sip:p${i}.example.com;lr>`, `X-After-${i}: x`);
      const m = parseMessage(head(lines));
      expect(m.routes.map((r) => parseUri(r.uri).host)).toEqual(lines.filter((_, i) => i % 2 === 0).map((_, i) => `p${i}.example.com`));
      expect(m.recordRoutes).toEqual([]);
    }
  });

  it('follows the headers when the route set changes, and works on a message built in code', () => {
    const m = parseMessage(head(['Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>']));
    expect(m.routes).toHaveLength(2);
    m.headers.set('Route', '<sip:only.example.com;lr>');
    expect(m.routes.map((r) => r.uri)).toEqual(['sip:only.example.com;lr']);
    m.headers.delete('route');
    expect(m.routes).toEqual([]);
    const built = new SipRequest({ method: 'INVITE', uri: 'sip:b@example.com', headers: [['Record-Route', '<sip:a.example.com;lr>, <sip:b.example.com;lr>']] });
    expect(built.recordRoutes.map((r) => r.uri)).toEqual(['sip:a.example.com;lr', 'sip:b.example.com;lr']);
    expect(built.routes).toEqual([]);
  });

  it('a malformed entry is a SipParseError when read (a request with one still parses)', () => {
    const m = parseMessage(head(['Route: <sip:p1.example.com;lr', 'Max-Forwards: 70']));
    expect(() => m.routes).toThrow(SipParseError);
  });

  it('parseUri of a route URI just read (parsed in place in the received bytes) is parseUri of the same string', () => {
    const m = parseMessage(head(['Route: <sip:u%41@p1.example.com:5070;LR;x=%41?h=1>, <sip:p2.example.com;lr>', 'Record-Route: <tel:+1-555;ext=1>']));
    const uri = m.routes[0]!.uri;
    const fresh = parseUri(' '.slice(1) + uri); // an equal string made elsewhere
    expect(parseUri(uri)).toEqual({
      scheme: 'sip',
      user: 'uA',
      password: undefined,
      host: 'p1.example.com',
      port: 5070,
      params: new Map([
        ['lr', null],
        ['x', 'A'],
      ]),
      headers: new Map([['h', '1']]),
    });
    expect(fresh).toEqual(parseUri(uri));
    // Another string after the link: its own parse.
    expect(parseUri('sip:other.example.com').host).toBe('other.example.com');
    expect(parseUri(m.routes[1]!.uri).host).toBe('p2.example.com');
    expect(parseUri(m.recordRoutes[0]!.uri)).toMatchObject({ scheme: 'tel', user: '+1-555', params: new Map([['ext', '1']]) });
    // A bad URI fails as it does from a string.
    const bad = parseMessage(head(['Route: <sip:a@;lr>']));
    expect(() => parseUri(bad.routes[0]!.uri)).toThrow('Malformed URI: empty host');
  });

  it('a URI read from a parsed string (scratch bytes, reused by the next parse) is parsed from the string', () => {
    const na = parseNameAddr('<sip:alice@a.example.com;lr>');
    const uri = na.uri;
    parseNameAddr('<sip:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz@b.example.com>'); // overwrites the scratch bytes
    expect(parseUri(uri).host).toBe('a.example.com');
    expect(parseUri(uri).user).toBe('alice');
  });

  it('params of an entry read in place are those of the same value parsed as a string', () => {
    const values = [
      '<sip:a@x.example.com;lr>;EXPIRES=60;q=0.5;+sip.instance="<urn:uuid:1>";reg-id=1',
      '<sip:b@y.example.com> ; x = "q\\"uoted;,>" ; FLAG ; Mixed-Case=VaLue',
      '"Bob" <sip:c@z.example.com>;a=[2001:db8::1];b=%41;c',
      'sip:d@w.example.com;tag=xyz;lr',
      '<sip:e@v.example.com>;n=\u00e9t\u00e9;m=1', // not ASCII: the text is not the received bytes
    ];
    for (const v of values) {
      const m = parseMessage(head([`Contact: ${v}`, `Route: ${v}`]));
      const expected = [...parseContact(v).params];
      expect([...m.contacts[0]!.params]).toEqual(expected);
      expect([...m.routes[0]!.params]).toEqual(expected);
    }
  });
});
