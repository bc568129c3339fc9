import { describe, expect, it } from 'vitest';
import { parseMessage, parseNameAddr, parseUri } from '../../src/message/index.js';

// Fast paths that give shared strings or skip a copy must read what the general code reads.
describe('URI parameters read as shared words', () => {
  const cases: [string, [string, string | null][]][] = [
    ['sip:a@h;lr', [['lr', null]]],
    ['sip:a@h;LR;Transport=UDP', [['lr', null], ['transport', 'UDP']]],
    ['sip:a@h;transport=udp;lr=on;ttl=15', [['transport', 'udp'], ['lr', 'on'], ['ttl', '15']]],
    ['sip:a@h;transports=tcpx;l;lrr', [['transports', 'tcpx'], ['l', null], ['lrr', null]]],
    ['sip:a@h;transport=t%63p;m%61ddr=x', [['transport', 'tcp'], ['maddr', 'x']]],
    ['sip:a@h;user=phone;method=INVITE;ob', [['user', 'phone'], ['method', 'INVITE'], ['ob', null]]],
    ['sip:a@h;x=ws;y=wss;z=udpp', [['x', 'ws'], ['y', 'wss'], ['z', 'udpp']]],
  ];
  for (const [uri, params] of cases) {
    it(uri, () => {
      expect([...parseUri(uri).params]).toEqual(params);
      // The same URI read in place from a message (the Request-URI) and from a Route entry.
      const m = parseMessage(
        `OPTIONS ${uri} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nRoute: <${uri}>\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
      );
      expect(m.isRequest() && [...m.requestUri.params]).toEqual(params);
      expect([...parseUri(m.routes[0]!.uri).params]).toEqual(params);
    });
  }
});

describe('quoted display names', () => {
  const cases: [string, string | undefined][] = [
    ['"Alice Liddell" <sip:a@h>', 'Alice Liddell'],
    ['"" <sip:a@h>', ''],
    ['"A \\"B\\" C" <sip:a@h>', 'A "B" C'],
    ['"back\\\\slash" <sip:a@h>;tag=x', 'back\\slash'],
    ['"\\\\" <sip:a@h>', '\\'],
    ['Bob  Smith <sip:a@h>', 'Bob  Smith'],
    ['<sip:a@h>', undefined],
  ];
  for (const [value, name] of cases) {
    it(value, () => {
      expect(parseNameAddr(value, 'From').displayName).toBe(name);
      const m = parseMessage(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: ${value}\r\nTo: ${value}\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`);
      expect(m.from.displayName).toBe(name);
    });
  }
});
