import { describe, expect, it } from 'vitest';
import { createResponse, parseMessage, type SipRequest } from '../../src/message/index.js';

// createResponse copies Via, From, To, Call-ID and CSeq straight from the received lines; the
// response must be what copying from split lines gave (compact names, odd spacing, folded lines,
// several Via lines), and the request keeps its lines unsplit.
const RAW =
  'INVITE sip:bob@example.com SIP/2.0\r\n' +
  'v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n' +
  'Via:SIP/2.0/TCP 192.0.2.2;branch=z9hG4bK2 ,\r\n SIP/2.0/UDP 192.0.2.3;branch=z9hG4bK3\r\n' +
  'f: "A" <sip:alice@example.com>;tag=a1\r\n' +
  'To :  <sip:bob@example.com>  \r\n' +
  'i: c1@example.com\r\n' +
  'CSeq: 1 INVITE\r\n' +
  'Record-Route: <sip:p1.example.com;lr>\r\n' +
  'Max-Forwards: 70\r\n' +
  'Content-Length: 0\r\n\r\n';

describe('createResponse copies the request lines in place', () => {
  it('gives the same response as from split lines', () => {
    const inPlace = parseMessage(RAW) as SipRequest;
    const split = parseMessage(RAW) as SipRequest;
    split.headers.set('X-Split', '1'); // forces the lines to be split first
    const a = createResponse(inPlace, 200, undefined, { toTag: 't' }).toString();
    const b = createResponse(split, 200, undefined, { toTag: 't' }).toString();
    expect(a).toBe(b);
    expect(a).toContain('v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n');
    expect(a).toContain('Via: SIP/2.0/TCP 192.0.2.2;branch=z9hG4bK2 , SIP/2.0/UDP 192.0.2.3;branch=z9hG4bK3\r\n');
    expect(a).toContain('Record-Route: <sip:p1.example.com;lr>\r\n');
    expect(createResponse(inPlace, 200).via.map((v) => v.branch)).toEqual(['z9hG4bK1', 'z9hG4bK2', 'z9hG4bK3']);
    // The request's own lines stay unsplit (still read from the received text).
    expect(inPlace.headers.source).toBeDefined();
    expect(split.headers.source).toBeUndefined();
  });

  it('finds every line of a header wherever it stands, also past the parser\'s count of three', () => {
    // The scan for a header stops after as many lines as the parser counted (three meaning "three
    // or more"): Vias split by other lines, four Record-Routes, a Via after the CSeq.
    const raw =
      'INVITE sip:bob@example.com SIP/2.0\r\n' +
      'Record-Route: <sip:p1.example.com;lr>\r\nVIA: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nRecord-Route: <sip:p2.example.com;lr>\r\n' +
      'From: <sip:alice@example.com>;tag=a1\r\nRecord-Route: <sip:p3.example.com;lr>\r\nTo: <sip:bob@example.com>\r\n' +
      'Call-ID: c2\r\nCSeq: 1 INVITE\r\nv: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK2\r\nrecord-route: <sip:p4.example.com;lr>\r\n' +
      'Content-Length: 0\r\n\r\n';
    const inPlace = parseMessage(raw) as SipRequest;
    const split = parseMessage(raw) as SipRequest;
    split.headers.set('X-Split', '1');
    const a = createResponse(inPlace, 180, undefined, { toTag: 't' });
    expect(a.toString()).toBe(createResponse(split, 180, undefined, { toTag: 't' }).toString());
    expect(a.via.map((v) => v.branch)).toEqual(['z9hG4bK1', 'z9hG4bK2']);
    expect(a.headers.getAll('record-route')).toHaveLength(4);
  });
});

describe('replaceFirst on received lines', () => {
  it('overrides the one line in place: same reads, same response, same bytes as on split lines', () => {
    const inPlace = parseMessage(RAW) as SipRequest;
    const split = parseMessage(RAW) as SipRequest;
    split.headers.set('X-Split', '1');
    split.headers.delete('X-Split');
    const stamped = 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;received=198.51.100.7';
    expect(inPlace.headers.replaceFirst('via', stamped)).toBe(true);
    expect(split.headers.replaceFirst('Via', stamped)).toBe(true);
    // Still read from the received text (createResponse copies from it in place).
    expect(inPlace.headers.source).toBeDefined();
    expect(inPlace.headers.linesOf('via')).toEqual(split.headers.linesOf('via'));
    expect(inPlace.headers.getAll('via')).toEqual(split.headers.getAll('via'));
    expect(inPlace.topVia!.received).toBe('198.51.100.7');
    expect(inPlace.via.map((v) => v.branch)).toEqual(['z9hG4bK1', 'z9hG4bK2', 'z9hG4bK3']);
    const a = createResponse(inPlace, 200, undefined, { toTag: 't' }).toString();
    expect(a).toBe(createResponse(split, 200, undefined, { toTag: 't' }).toString());
    expect(a).toContain('v: ' + stamped + '\r\n');
    // The request itself serialises as the split one does (the changed line as "Name: value").
    expect(inPlace.toString()).toBe(split.toString());
    // A later change splits the lines, the replaced value kept.
    inPlace.headers.append('X-More', '1');
    expect(inPlace.headers.source).toBeUndefined();
    expect(inPlace.headers.linesOf('via')[0]).toBe(stamped);
    expect(inPlace.headers.replaceFirst('x-none', 'v')).toBe(false);
  });

  it('is false, and changes nothing, for a header the message lacks', () => {
    const m = parseMessage(RAW) as SipRequest;
    expect(m.headers.replaceFirst('subject', 'x')).toBe(false);
    expect(m.headers.source).toBeDefined();
    expect(m.toString()).toBe(parseMessage(RAW).toString());
  });
});
