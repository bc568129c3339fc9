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

  it('server keys: sent-by host is case-insensitive, ACK and CANCEL find the INVITE', () => {
    const a = req({ branch: 'z9hG4bK-k', sentBy: 'Client.Example.COM:5060' });
    const b = req({ branch: 'z9hG4bK-k', sentBy: 'client.example.com:5060', method: 'ACK' });
    expect(serverKey(b, b.topVia!, 'INVITE')).toBe(serverKey(a, a.topVia!, 'INVITE'));
    expect(serverKey(a, a.topVia!, 'INVITE')).not.toBe(serverKey(a, a.topVia!, 'CANCEL'));
  });
});
