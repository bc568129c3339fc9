import { describe, expect, it } from 'vitest';
import { parseMessage, parseNameAddr } from '../../src/message/index.js';

// parseMessage notes the lines of Route, Record-Route and Content-Type while it scans the names
// (any case, compact `c`), and their views go straight to those lines: they must read what the
// general path (headers.get / getAll + parseNameAddr) reads, on names that only look alike too.
const msg = (lines: string[]): string =>
  [
    'INVITE sip:bob@192.0.2.4 SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
    'From: <sip:alice@example.com>;tag=a',
    'To: <sip:bob@example.com>',
    'Call-ID: c1',
    'CSeq: 1 INVITE',
    ...lines,
    '',
    '',
  ].join('\r\n');

const general = (m: ReturnType<typeof parseMessage>) => ({
  contentType: m.headers.get('content-type'),
  routes: m.headers.getAll('route').map((v) => parseNameAddr(v, 'Route').uri),
  recordRoutes: m.headers.getAll('record-route').map((v) => parseNameAddr(v, 'Record-Route').uri),
});

const views = (m: ReturnType<typeof parseMessage>) => ({
  contentType: m.contentType,
  routes: m.routes.map((r) => r.uri),
  recordRoutes: m.recordRoutes.map((r) => r.uri),
});

describe('Route, Record-Route and Content-Type lines noted by the parser', () => {
  const cases: [string, string[]][] = [
    ['usual spelling', ['Route: <sip:p1.example.com;lr>', 'Record-Route: <sip:r1.example.com;lr>', 'Content-Type: application/sdp']],
    ['any case', ['ROUTE: <sip:p1.example.com;lr>', 'record-route: <sip:r1.example.com;lr>', 'CONTENT-TYPE: text/plain']],
    ['compact c and odd spacing', ['c :   application/sdp  ', 'Route\t: <sip:p1.example.com;lr> , <sip:p2.example.com;lr>']],
    ['names that only look alike', ['Routes: <sip:x.example.com>', 'Route-Set: <sip:y.example.com>', 'Record-Routed: <sip:z.example.com>', 'Content-Types: a/b', 'cc: x', 'Content-Typ: a/c']],
    ['look-alikes before the real ones', ['Routex: <sip:x.example.com>', 'Content-Typex: a/b', 'Route: <sip:p1.example.com;lr>', 'Content-Type: a/c', 'Record-Route: <sip:r1.example.com;lr>']],
    ['several lines, values on continuation lines', ['Route:', ' <sip:p1.example.com;lr>', 'Max-Forwards: 70', 'route: <sip:[2001:db8::1];lr>,<sip:p3.example.com;lr>', 'Content-Type: multipart/mixed;', ' boundary="x, y"']],
    ['none of them', ['Max-Forwards: 70']],
  ];
  for (const [name, lines] of cases) {
    it(name, () => {
      const m = parseMessage(msg([...lines, 'Content-Length: 0']));
      expect(views(m)).toEqual(general(parseMessage(msg([...lines, 'Content-Length: 0']))));
    });
  }

  it('the views follow changes to the headers', () => {
    const m = parseMessage(msg(['Route: <sip:p1.example.com;lr>', 'Content-Type: application/sdp', 'Content-Length: 0']));
    expect(m.contentType).toBe('application/sdp');
    expect(m.routes).toHaveLength(1);
    m.headers.set('Content-Type', 'text/plain');
    m.headers.append('Route', '<sip:p2.example.com;lr>');
    expect(m.contentType).toBe('text/plain');
    expect(m.routes.map((r) => r.uri)).toEqual(['sip:p1.example.com;lr', 'sip:p2.example.com;lr']);
    m.headers.delete('content-type');
    expect(m.contentType).toBeUndefined();
  });

  it('the headers of a message refused for a bad start line keep their Route lines', () => {
    let err: unknown;
    try {
      parseMessage(msg(['Route: <sip:p1.example.com;lr>', 'Content-Length: 0']).replace('SIP/2.0\r\n', 'SIP/3.0\r\n'));
    } catch (e) {
      err = e;
    }
    const headers = (err as { headers?: { getAll(n: string): string[] } }).headers;
    expect(headers?.getAll('Route')).toEqual(['<sip:p1.example.com;lr>']);
  });
});
