import { describe, expect, it } from 'vitest';
import { generateBranch, type SipRequest } from '../../src/message/index.js';
import { flushMicrotasks } from '../../src/transaction/clock.js';
import { SipTransactionError } from '../../src/transaction/errors.js';
import type { SipDestination, SipPeer } from '../../src/transaction/types.js';
import { ackFor, harness, req, resp, tcpDst, tcpPeer, tcpSocket, udpDst, udpPeer, wire } from './helpers.js';

describe('TransactionLayer', () => {
  it('close() settles everything with a clear error and clears every timer', async () => {
    const closes: string[] = [];
    const h = harness({ onClose: (p) => closes.push(String(p.proto)) });
    // server: one pending INVITE over TCP, one completed OPTIONS over UDP
    h.layer.receive(req({ transport: 'TCP' }), tcpPeer);
    h.layer.receive(req({ method: 'OPTIONS' }), udpPeer);
    const [pendingInvite, options] = h.txns;
    void options!.respond(200);
    // client: one pending, one accepted
    const errors: unknown[] = [];
    const pending = h.layer.request(req({ method: 'MESSAGE', branch: generateBranch() }), udpDst, { onError: (e) => errors.push(e) });
    const pendingResult = pending.result;
    const invite = req({ branch: generateBranch(), transport: 'TCP' });
    const accepted = h.layer.request(invite, tcpDst, { onError: (e) => errors.push(e) });
    await flushMicrotasks(); // first send done: the TCP client transaction is open
    h.layer.receive(resp(invite, 200), tcpPeer);
    expect(accepted.state).toBe('accepted');
    expect(h.layer.queue.size).toBeGreaterThan(0);

    h.layer.close();
    h.layer.close(); // idempotent
    expect(h.layer.closed).toBe(true);
    expect(pendingInvite!.state).toBe('terminated');
    expect(pendingInvite!.signal.aborted).toBe(true);
    expect((pendingInvite!.signal.reason as SipTransactionError).code).toBe('ERR_SIP_LAYER_CLOSED');
    await expect(pendingInvite!.respond(200)).rejects.toMatchObject({ code: 'ERR_SIP_LAYER_CLOSED' });
    expect(options!.state).toBe('terminated');
    expect(errors).toHaveLength(1);
    expect((errors[0] as SipTransactionError).code).toBe('ERR_SIP_LAYER_CLOSED');
    await expect(pendingResult).rejects.toMatchObject({ code: 'ERR_SIP_LAYER_CLOSED' });
    expect(accepted.state).toBe('terminated');
    expect(h.layer.serverCount + h.layer.clientCount).toBe(0);
    expect(h.layer.queue.size).toBe(0);
    expect(h.clock.pending).toBe(0);
    expect(h.layer.stats.pending).toBe(0);
    expect(h.layer.busy(tcpSocket)).toBe(false);
    expect(closes.sort()).toEqual(['tcp', 'tcp']);
    // afterwards: nothing comes in, nothing goes out
    const before = h.transport.sent.length;
    h.layer.receive(req(), udpPeer);
    expect(h.transport.sent.length).toBe(before);
    expect(() => h.layer.request(req({ method: 'OPTIONS' }), udpDst)).toThrow(SipTransactionError);
    h.clock.advance(100000);
    expect(h.transport.sent.length).toBe(before);
  });

  it('drain() waits for pending transactions, then closes; or closes at the deadline', async () => {
    const h = harness();
    h.layer.receive(req({ method: 'OPTIONS' }), udpPeer);
    let done = false;
    const drained = h.layer.drain(10000).then(() => (done = true));
    await flushMicrotasks();
    expect(done).toBe(false);
    void h.txns[0]!.respond(200);
    await drained;
    expect(h.layer.closed).toBe(true);
    expect(h.transport.responses(200)).toHaveLength(1);

    const h2 = harness();
    h2.layer.receive(req({ method: 'OPTIONS' }), udpPeer);
    let done2 = false;
    void h2.layer.drain(10000).then(() => (done2 = true));
    await h2.clock.advanceAsync(9999);
    expect(done2).toBe(false);
    await h2.clock.advanceAsync(1);
    expect(done2).toBe(true);
    expect(h2.txns[0]!.signal.aborted).toBe(true);
  });

  it('connection bookkeeping: onOpen/onClose in pairs and busy(socket) for server and client transactions', async () => {
    const events: string[] = [];
    const h = harness({
      onOpen: (p: SipDestination, t) => events.push(`open ${p.proto} ${'isInvite' in t && t.isInvite ? 'INVITE' : 'other'}`),
      onClose: (p: SipDestination) => events.push(`close ${p.proto}`),
    });
    const sock = { id: 'c2' };
    const dst: SipDestination = { ...tcpDst, socket: sock };
    const opts = req({ method: 'OPTIONS', branch: generateBranch(), transport: 'TCP' });
    h.layer.request(opts, dst);
    expect(h.layer.busy(sock)).toBe(false); // client side: open once the first send succeeded
    await flushMicrotasks();
    h.layer.receive(req({ transport: 'TCP' }), tcpPeer);
    expect(h.layer.busy(sock)).toBe(true);
    expect(h.layer.busy(tcpSocket)).toBe(true);
    h.layer.receive(resp(opts, 200), tcpPeer);
    expect(h.layer.busy(sock)).toBe(false);
    void h.txns[0]!.respond(486);
    expect(h.layer.busy(tcpSocket)).toBe(true); // waits for the ACK (Timer H)
    h.clock.advance(32000);
    expect(h.layer.busy(tcpSocket)).toBe(false);
    expect(events).toEqual(['open tcp other', 'open tcp INVITE', 'close tcp', 'close tcp']);
  });

  it('a client transaction whose first send fails never opens', async () => {
    const events: string[] = [];
    const h = harness({ onOpen: () => events.push('open'), onClose: () => events.push('close') });
    h.transport.failWith = new Error('ECONNREFUSED');
    const txn = h.layer.request(req({ method: 'OPTIONS', branch: generateBranch(), transport: 'TCP' }), tcpDst);
    await flushMicrotasks();
    expect(txn.state).toBe('terminated');
    expect(events).toEqual([]);
  });

  it('RFC 2543 fallback matching (no magic cookie): retransmission, ACK and CANCEL', () => {
    const h = harness();
    const invite = req({ branch: null, callId: 'old-1' });
    h.layer.receive(invite, udpPeer);
    h.layer.receive(wire(invite), udpPeer);
    expect(h.txns).toHaveLength(1);
    const inviteB = req({ branch: 'no-cookie-123', callId: 'old-2' });
    h.layer.receive(inviteB, udpPeer);
    h.layer.receive(wire(inviteB), udpPeer);
    expect(h.txns).toHaveLength(2);
    // CANCEL matches the first INVITE by Request-URI, Call-ID, CSeq number, From tag, top Via
    h.layer.receive(req({ method: 'CANCEL', branch: null, callId: 'old-1' }), udpPeer);
    expect(h.transport.responses(487)).toHaveLength(1);
    expect(h.txns[0]!.signal.aborted).toBe(true);
    // ACK for the 487 (To tag added by us) is absorbed
    h.layer.receive(ackFor(invite, wire(h.transport.responses(487)[0]!)), udpPeer);
    expect(h.txns[0]!.state).toBe('confirmed');
    // a different CSeq is another transaction
    h.layer.receive(req({ branch: null, callId: 'old-1', cseq: 2 }), udpPeer);
    expect(h.txns).toHaveLength(3);
  });

  it('RFC 2543 CANCEL matches its INVITE even when received/rport were stamped into the INVITE\'s Via', () => {
    const h = harness();
    const natPeer: SipPeer = { addr: '203.0.113.5', port: 31337, family: 4, proto: 'udp' };
    h.layer.receive(req({ branch: 'old2543', sentBy: 'client.invalid', viaExtra: ';rport', callId: 'nat-1' }), natPeer);
    expect(h.txns).toHaveLength(1);
    h.layer.receive(req({ method: 'CANCEL', branch: 'old2543', sentBy: 'client.invalid', viaExtra: ';rport', callId: 'nat-1' }), natPeer);
    expect(h.transport.responses(481)).toHaveLength(0);
    expect(h.transport.responses(487)).toHaveLength(1);
    expect(h.txns[0]!.signal.aborted).toBe(true);
  });

  it('stamps received/rport into the top Via (RFC 3581), so responses carry them', () => {
    const h = harness({ respondWith: 200 });
    const natPeer: SipPeer = { addr: '203.0.113.5', port: 31337, family: 4, proto: 'udp' };
    h.layer.receive(req({ method: 'OPTIONS', viaExtra: ';rport' }), natPeer);
    const via = wire(h.transport.responses(200)[0]!).topVia!;
    expect(via.received).toBe('203.0.113.5');
    expect(via.rport).toBe(31337);
    expect(via.sentBy).toBe('192.0.2.10:5062');
    // same host and no rport: untouched
    h.layer.receive(req({ method: 'OPTIONS' }), udpPeer);
    const via2 = wire(h.transport.responses(200)[1]!).topVia!;
    expect(via2.received).toBeUndefined();
    expect(via2.params.has('rport')).toBe(false);
    // IPv6
    const v6: SipPeer = { addr: '2001:db8::1', port: 5060, family: 6, proto: 'udp' };
    h.layer.receive(req({ method: 'OPTIONS', viaExtra: ';rport' }), v6);
    const via3 = wire(h.transport.responses(200)[2]!).topVia!;
    expect(via3.received).toBe('2001:db8::1');
    expect(via3.rport).toBe(5060);
  });

  it('bad requests never reach onRequest: missing From gets 400 through a transaction', () => {
    const h = harness();
    const bad = req({ method: 'OPTIONS', omit: ['From'] });
    h.layer.receive(bad, udpPeer);
    expect(h.txns).toHaveLength(0);
    expect(h.transport.responses(400)).toHaveLength(1);
    h.layer.receive(wire(bad), udpPeer);
    expect(h.transport.responses(400)).toHaveLength(2); // retransmission answered the same
    expect(h.layer.stats.malformed).toBe(1);
    // no Via: nobody to answer
    h.layer.receive(req({ method: 'OPTIONS', omit: ['Via'] }), udpPeer);
    expect(h.transport.responses(400)).toHaveLength(2);
    expect(h.layer.stats.malformed).toBe(2);
    // an ACK that matches nothing goes up without a transaction
    const acks: (SipRequest | undefined)[] = [];
    h.layer.onAck = (a, _f, t) => acks.push(t === undefined ? a : undefined);
    h.layer.receive(req({ method: 'ACK' }), udpPeer);
    expect(acks).toHaveLength(1);
    expect(h.layer.stats.strayAcks).toBe(1);
  });

  it('no onRequest handler: 500', () => {
    const h = harness({ onRequest: undefined });
    h.layer.onRequest = undefined;
    h.layer.receive(req({ method: 'OPTIONS' }), udpPeer);
    expect(h.transport.responses(500)).toHaveLength(1);
  });

  it('stats count what happened', () => {
    const h = harness({ respondWith: 200 });
    const o = req({ method: 'OPTIONS' });
    h.layer.receive(o, udpPeer);
    h.layer.receive(wire(o), udpPeer);
    const c = req({ method: 'OPTIONS', branch: generateBranch() });
    h.layer.request(c, udpDst);
    h.clock.advance(500);
    h.layer.receive(resp(c, 200), udpPeer);
    h.layer.receive(resp(c, 200), udpPeer);
    const s = h.layer.stats;
    expect({
      serverCreated: s.serverCreated,
      clientCreated: s.clientCreated,
      requestsAbsorbed: s.requestsAbsorbed,
      responsesRetransmitted: s.responsesRetransmitted,
      requestsRetransmitted: s.requestsRetransmitted,
      responsesAbsorbed: s.responsesAbsorbed,
      pending: s.pending,
      serverActive: s.serverActive,
      clientActive: s.clientActive,
    }).toEqual({
      serverCreated: 1,
      clientCreated: 1,
      requestsAbsorbed: 1,
      responsesRetransmitted: 1,
      requestsRetransmitted: 1,
      responsesAbsorbed: 1,
      pending: 0,
      serverActive: 0, // the answered UDP OPTIONS is a compact Completed record now
      clientActive: 1,
    });
    expect(h.layer.completedCount).toBe(1);
    h.clock.advance(40000);
    expect([s.serverActive, s.clientActive, h.layer.completedCount]).toEqual([0, 0, 0]);
  });

  it('a thousand concurrent transactions run on one real timer', () => {
    const h = harness({ respondWith: 200 });
    for (let i = 0; i < 1000; i++) h.layer.receive(req({ method: 'OPTIONS', callId: 'c' + i }), udpPeer);
    for (let i = 0; i < 1000; i++) h.layer.request(req({ method: 'OPTIONS', branch: generateBranch() }), udpDst);
    expect(h.clock.pending).toBe(1);
    expect(h.layer.serverCount).toBe(0); // answered at once: 1000 compact Completed records
    expect(h.layer.completedCount).toBe(1000);
    h.clock.advance(40000);
    expect(h.layer.serverCount + h.layer.clientCount + h.layer.completedCount).toBe(0);
    expect(h.layer.queue.size).toBe(0);
    expect(h.layer.stats.timeouts).toBe(1000);
  });
});
