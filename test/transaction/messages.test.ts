import { describe, expect, it } from 'vitest';
import { parseMessage, type SipRequest, type SipResponse } from '../../src/message/index.js';
import { buildAckFor2xx, buildCancel, serverKey, stampVia } from '../../src/transaction/messages.js';
import { req, resp, udpPeer, wire } from './helpers.js';

describe('transaction message helpers', () => {
  it('buildAckFor2xx: new branch, Request-URI = Contact, Route = Record-Route reversed (§13.2.2.4)', () => {
    const invite = req({ branch: 'z9hG4bK-inv' });
    const ok = parseMessage(
      resp(invite, 200, 'callee')
        .toString()
        .replace('\r\n\r\n', '\r\nRecord-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\nContact: <sip:bob@198.51.100.9:5070>\r\n\r\n'),
    ) as SipResponse;
    const ack = wire(buildAckFor2xx(invite, ok, { body: 'v=0\r\n', contentType: 'application/sdp' }));
    expect(ack.method).toBe('ACK');
    expect(ack.uri).toBe('sip:bob@198.51.100.9:5070');
    expect(ack.topVia!.branch).not.toBe('z9hG4bK-inv');
    expect(ack.topVia!.branch!.startsWith('z9hG4bK')).toBe(true);
    expect(ack.topVia!.sentBy).toBe(invite.topVia!.sentBy);
    expect(ack.headers.getAll('route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(ack.to.tag).toBe('callee');
    expect(ack.cseq).toEqual({ seq: 1, method: 'ACK' });
    expect(ack.contentType).toBe('application/sdp');
    expect(ack.body.toString()).toBe('v=0\r\n');
    expect([ack.headers.has('authorization'), ack.headers.has('proxy-authorization')]).toEqual([false, false]);
  });

  it('buildAckFor2xx: the ACK carries the credentials of the INVITE (§13.2.2.4)', () => {
    const invite = req();
    invite.headers.append('Proxy-Authorization', 'Digest username="a", realm="p1", nonce="1", uri="sip:x", response="0"');
    invite.headers.append('Proxy-Authorization', 'Digest username="a", realm="p2", nonce="2", uri="sip:x", response="0"');
    invite.headers.append('Authorization', 'Digest username="a", realm="uas", nonce="3", uri="sip:x", response="0"');
    const ack = wire(buildAckFor2xx(invite, resp(invite, 200, 'callee')));
    expect(ack.headers.getAll('proxy-authorization')).toEqual(invite.headers.getAll('proxy-authorization'));
    expect(ack.headers.getAll('authorization')).toEqual(invite.headers.getAll('authorization'));
  });

  it('buildCancel keeps the INVITE branch, so the CANCEL matches its server transaction', () => {
    const invite = req();
    const cancel = wire(buildCancel(invite));
    expect(serverKey(cancel, cancel.topVia!, 'INVITE')).toBe(serverKey(invite, invite.topVia!, 'INVITE'));
  });

  it('stampVia leaves a Via that already says where it came from', () => {
    const r: SipRequest = req({ sentBy: 'client.example.com', viaExtra: ';received=192.0.2.10' });
    expect(stampVia(r, udpPeer)).toBe(false);
    const r2 = req({ sentBy: 'client.example.com' });
    expect(stampVia(r2, udpPeer)).toBe(true);
    expect(r2.topVia!.received).toBe('192.0.2.10'); // parsed view kept in step
    expect(wire(r2).topVia!.received).toBe('192.0.2.10');
  });

  it('stampVia writes received/rport into the top line as the parsed path would, and falls back for what it does not read', () => {
    const peer = { addr: '127.0.0.1', port: 5070, family: 4 as const, proto: 'udp' as const, socket: undefined };
    const cases: [via: string, line: string][] = [
      ['SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-1;rport', 'SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-1;rport=5070;received=127.0.0.1'],
      ['SIP/2.0/UDP h.example:5070;branch=z9hG4bK-1;received=6.6.6.6;RPORT=9', 'SIP/2.0/UDP h.example:5070;branch=z9hG4bK-1;received=127.0.0.1;rport=5070'],
      ['SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1', 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1;received=127.0.0.1'],
      ['SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1;ttl=1;received;rport', 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1;ttl=1;received=127.0.0.1;rport=5070'],
      // Parsed path: white space among the parameters, a quoted string.
      ['SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1 ;rport', 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1;rport=5070;received=127.0.0.1'],
      ['SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1;x="a;b";rport', 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1;x="a;b";rport=5070;received=127.0.0.1'],
    ];
    for (const [via, line] of cases) {
      const r = parseMessage(`OPTIONS sip:a@b SIP/2.0\r\nVia: ${via}\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK-2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`) as SipRequest;
      expect(stampVia(r, peer)).toBe(true);
      expect(r.headers.getAll('via')).toEqual([line, 'SIP/2.0/TCP x;branch=z9hG4bK-2']);
      // The parsed view says the same as the text parsed afresh.
      const again = wire(r).topVia!;
      expect(r.topVia!.received).toBe(again.received);
      expect(r.topVia!.rport).toBe(again.rport);
      expect([...r.topVia!.params]).toEqual([...again.params]);
      expect(r.via.length).toBe(2);
    }
  });

  it('server keys: sent-by host is case-insensitive, ACK and CANCEL find the INVITE', () => {
    const a = req({ branch: 'z9hG4bK-k', sentBy: 'Client.Example.COM:5060' });
    const b = req({ branch: 'z9hG4bK-k', sentBy: 'client.example.com:5060', method: 'ACK' });
    expect(serverKey(b, b.topVia!, 'INVITE')).toBe(serverKey(a, a.topVia!, 'INVITE'));
    expect(serverKey(a, a.topVia!, 'INVITE')).not.toBe(serverKey(a, a.topVia!, 'CANCEL'));
  });
});
