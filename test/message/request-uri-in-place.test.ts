import { describe, expect, it } from 'vitest';
import { parseMessage, parseUri, type SipRequest } from '../../src/message/index.js';

// The Request-URI of a parsed request is read where it lies in the received bytes; it must give
// what parseUri gives on the same text (the value, or the same error), and never read past its end
// (the From and To after it hold '@' and ']'). URIs the Request-Line refuses (headers, spaces) are not here.
const URIS = [
  'sip:bob@example.com',
  'sip:host.example.com',
  'SIP:Bob@Example.COM:5070;Transport=TCP;lr',
  'sips:alice:secret@[2001:db8::1]:5061;maddr=239.255.255.1;ttl=15',
  'sip:%61lice@192.0.2.1;user=phone;x%41=1',
  'sip:+1-212-555-1212:1234@gateway.com;user=phone',
  'sip:user;par=u%40example.net@example.com',
  'sip:example.com:99999',
  'sip:@example.com',
  'sip:[2001:db8::1',
  'sip:ex"ample.com',
  'sip:example.com;=x',
  'sips:x',
  'tel:+358-555-1234567;postd=pp22',
  'urn:service:sos',
];

const request = (uri: string): SipRequest =>
  parseMessage(
    `OPTIONS ${uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@elsewhere.example>;tag=1\r\nTo: <sip:b@there.example>\r\nCall-ID: c@d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
  ) as SipRequest;

const outcome = (f: () => unknown): unknown => {
  try {
    return { value: JSON.parse(JSON.stringify(f(), (_k, v) => (v instanceof Map ? [...v] : v))) };
  } catch (e) {
    return { error: (e as Error).message };
  }
};

describe('Request-URI parsed in place', () => {
  for (const uri of URIS) {
    it(uri, () => {
      const req = request(uri);
      expect(outcome(() => req.requestUri)).toEqual(outcome(() => parseUri(uri)));
    });
  }

  it('a changed uri or method is parsed from the new text', () => {
    const req = request('sip:bob@example.com');
    req.uri = 'sip:carol@example.org;lr';
    expect(req.requestUri.host).toBe('example.org');
    const other = request('sip:bob@example.com');
    other.method = 'INFO';
    expect(other.requestUri.user).toBe('bob');
  });
});
