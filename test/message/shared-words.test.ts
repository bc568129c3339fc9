import { describe, expect, it } from 'vitest';
import { parseMessage, parseNameAddr, parseParams, parseUri } from '../../src/message/index.js';

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

// Header parameter names (Contact, From, Via...) are shared strings when they are the usual ones:
// the Map must hold what the general parser (parseParams over the string) reads.
describe('header parameters read as shared words', () => {
  const cases = [
    ';expires=3600;+sip.instance="<urn:uuid:1>";reg-id=1;q=0.7',
    ';EXPIRES=1;Q=1;Tag=x;Reg-Id=2',
    ';expire=1;expiress=2;tah=3;tag;q;qq=4;+sip.instancf=5;reg_id=6',
    ';methods="INVITE,BYE";pub-gruu="sip:a@h;gr=1";temp-gruu="x";ob;alias;id=7',
    ';branch=z9hG4bK1;received=192.0.2.1;rport;maddr=h;ttl=1;lr;handling=optional;purpose=icon;reason=x;refresher=uac',
    ';%74ag=1;t%61g=2;ta=3;a=4;tagx=5',
  ];
  for (const params of cases) {
    it(params, () => {
      const expected = new Map<string, string | null>();
      parseParams(params, 0, expected, 'Contact');
      const m = parseMessage(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContact: <sip:a@h>${params}\r\nContent-Length: 0\r\n\r\n`);
      expect([...m.contacts[0]!.params]).toEqual([...expected]);
    });
  }
});

// Contact q is read as Number() reads it (a plain decimal without a call to it).
describe('Contact q values', () => {
  const values = ['0.7', '0.5', '1', '1.', '1.0', '.5', '0', '0.000', '0.001', '0.1234567890123', '0.12345678901234567', '1.000000000000001', '0.3333333333333333', '1e-1', '0x1', '"0.5"', '2', '1.5', '00.25', '.', '0..1', '-0'];
  for (const v of values) {
    it(v, () => {
      const m = parseMessage(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContact: <sip:a@h>;q=${v}\r\nContent-Length: 0\r\n\r\n`);
      const n = Number(v);
      expect(m.contacts[0]!.q).toBe(n >= 0 && n <= 1 ? n : undefined);
    });
  }
});
