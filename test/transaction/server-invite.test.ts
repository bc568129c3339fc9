import { describe, expect, it } from 'vitest';
import type { SipRequest, SipResponse } from '../../src/message/index.js';
import { SipCancelledError, SipServerTimeoutError, SipTransactionError } from '../../src/transaction/errors.js';
import type { InviteServerTransaction } from '../../src/transaction/invite-server-transaction.js';
import { ackFor, gaps, harness, isStatus, req, tcpPeer, tcpSocket, udpPeer, wire } from './helpers.js';

describe('INVITE server transaction (RFC 3261 §17.2.1, RFC 6026)', () => {
  it('sends 100 Trying at 200 ms when the application has not answered', () => {
    const h = harness();
    h.layer.receive(req(), udpPeer);
    expect(h.txns).toHaveLength(1);
    h.clock.advance(199);
    expect(h.transport.sent).toHaveLength(0);
    h.clock.advance(1);
    expect(h.transport.times(isStatus(100))).toEqual([200]);
    const trying = h.transport.responses(100)[0]!;
    expect(trying.to.tag).toBeUndefined(); // no To tag on 100
    expect(h.transport.sent[0]!.dst).toBe(udpPeer);
    expect(h.layer.stats.auto100).toBe(1);
  });

  it('no 100 Trying when the application answers first; auto-100 is configurable', () => {
    const h = harness();
    h.layer.receive(req(), udpPeer);
    h.clock.advance(50);
    void h.txns[0]!.respond(180);
    h.clock.advance(1000);
    expect(h.transport.responses(100)).toHaveLength(0);

    const h2 = harness({ timers: { trying100: 0 } });
    h2.layer.receive(req(), udpPeer);
    expect(h2.transport.times(isStatus(100))).toEqual([0]);
    const h3 = harness({ timers: { trying100: false } });
    h3.layer.receive(req(), udpPeer);
    h3.clock.advance(5000);
    expect(h3.transport.sent).toHaveLength(0);
  });

  it('absorbs a retransmitted INVITE: handler called once, last response repeated', () => {
    const h = harness();
    const invite = req();
    h.layer.receive(invite, udpPeer);
    h.layer.receive(wire(invite), udpPeer);
    expect(h.txns).toHaveLength(1);
    // Nothing sent yet: the retransmission gets 100 Trying at once.
    expect(h.transport.times(isStatus(100))).toEqual([0]);
    void h.txns[0]!.respond(180);
    h.clock.advance(500);
    h.layer.receive(wire(invite), udpPeer);
    expect(h.transport.responses(180)).toHaveLength(2);
    expect(h.layer.stats.requestsAbsorbed).toBe(2);
    expect(h.txns).toHaveLength(1);
  });

  it('non-2xx over UDP: Timer G doubles to T2 until Timer H (64*T1), then reports it unacked', () => {
    const unacked: SipResponse[] = [];
    const h = harness({ respondWith: 486, onUnacked: (_t, r) => unacked.push(r) });
    h.layer.receive(req(), udpPeer);
    const txn = h.txns[0]!;
    const events: string[] = [];
    txn.on('unacked', (r) => events.push('unacked ' + r.status));
    txn.on('terminated', () => events.push('terminated@' + h.clock.now()));
    expect(txn.state).toBe('completed');
    h.clock.advance(40000);
    const times = h.transport.times(isStatus(486));
    expect(times).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(gaps(times)).toEqual([500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000]);
    expect(events).toEqual(['unacked 486', 'terminated@32000']);
    expect(unacked.map((r) => r.status)).toEqual([486]);
    expect(h.layer.serverCount).toBe(0);
    expect(h.layer.stats.unacked).toBe(1);
  });

  it('ACK for the non-2xx is absorbed: Confirmed, Timer I (T4), retransmissions stop', () => {
    const acks: SipRequest[] = [];
    const h = harness({ respondWith: 603, onAck: (a) => acks.push(a) });
    const invite = req();
    h.layer.receive(invite, udpPeer);
    h.clock.advance(1000); // G at 500
    const final = wire(h.transport.responses(603)[0]!);
    h.layer.receive(ackFor(invite, final), udpPeer);
    const txn = h.txns[0]!;
    expect(txn.state).toBe('confirmed');
    h.layer.receive(ackFor(invite, final), udpPeer); // retransmitted ACK
    h.layer.receive(wire(invite), udpPeer); // late INVITE retransmission: absorbed, no answer in Confirmed
    h.clock.advance(4999);
    expect(txn.state).toBe('confirmed');
    h.clock.advance(1);
    expect(txn.state).toBe('terminated');
    expect(h.transport.times(isStatus(603))).toEqual([0, 500]);
    expect(acks).toHaveLength(0);
    expect(h.layer.stats.acksAbsorbed).toBe(2);
  });

  it('retransmitted INVITE in Completed gets the final response again', () => {
    const h = harness({ respondWith: 480 });
    const invite = req();
    h.layer.receive(invite, udpPeer);
    h.clock.advance(100);
    h.layer.receive(wire(invite), udpPeer);
    expect(h.transport.times(isStatus(480))).toEqual([0, 100]);
  });

  it('2xx over UDP: retransmitted on G\'s schedule until the ACK, which reaches the application once', () => {
    const acks: [SipRequest, InviteServerTransaction | undefined][] = [];
    const h = harness({ respondWith: 200, onAck: (a, _f, t) => acks.push([a, t]) });
    const invite = req();
    h.layer.receive(invite, udpPeer);
    const txn = h.txns[0]! as InviteServerTransaction;
    const txnAcks: SipRequest[] = [];
    txn.on('ack', (a) => txnAcks.push(a));
    expect(txn.state).toBe('accepted');
    h.clock.advance(8000);
    expect(h.transport.times(isStatus(200))).toEqual([0, 500, 1500, 3500, 7500]);
    const ok = wire(h.transport.responses(200)[0]!);
    // The 2xx ACK is a new transaction: its own branch; matched by dialog + CSeq.
    const ack = ackFor(invite, ok, { branch: 'z9hG4bK-ack-2xx' });
    h.layer.receive(ack, udpPeer);
    expect(acks).toHaveLength(1);
    expect(acks[0]![1]).toBe(txn);
    expect(txnAcks).toHaveLength(1);
    expect(txn.acked).toBe(true);
    h.layer.receive(ackFor(invite, ok, { branch: 'z9hG4bK-ack-2xx' }), udpPeer); // repeated ACK absorbed
    expect(acks).toHaveLength(1);
    h.clock.advance(30000);
    expect(h.transport.times(isStatus(200))).toEqual([0, 500, 1500, 3500, 7500]);
    expect(txn.state).toBe('terminated'); // Timer L
    expect(h.layer.stats.unacked).toBe(0);
    // An ACK after the transaction is gone is handed up without a transaction.
    h.layer.receive(ackFor(invite, ok, { branch: 'z9hG4bK-ack-late' }), udpPeer);
    expect(acks).toHaveLength(2);
    expect(acks[1]![1]).toBeUndefined();
  });

  it('2xx never ACKed is reported after 64*T1 (Timer L)', () => {
    const unacked: number[] = [];
    const h = harness({ respondWith: 200, onUnacked: (_t, r) => unacked.push(r.status) });
    h.layer.receive(req(), udpPeer);
    const txn = h.txns[0]!;
    let reported = -1;
    txn.on('unacked', () => (reported = h.clock.now()));
    h.clock.advance(31999);
    expect(unacked).toEqual([]);
    h.clock.advance(1);
    expect(unacked).toEqual([200]);
    expect(reported).toBe(32000);
    expect(h.transport.times(isStatus(200))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(txn.state).toBe('terminated');
  });

  it('retransmitted INVITE while Accepted gets the 2xx again; the 2xx keeps the To tag of the 180', () => {
    const h = harness();
    const invite = req();
    h.layer.receive(invite, udpPeer);
    const txn = h.txns[0]!;
    void txn.respond(180);
    void txn.respond(200);
    h.layer.receive(wire(invite), udpPeer);
    const [ringing] = h.transport.responses(180);
    const oks = h.transport.responses(200);
    expect(oks).toHaveLength(2);
    expect(ringing!.to.tag).toBeDefined();
    expect(wire(oks[0]!).to.tag).toBe(wire(ringing!).to.tag);
  });

  it('reliable transport: no G or 2xx retransmission, H/L still run, Timer I is zero', () => {
    const h = harness({ respondWith: 486 });
    const invite = req({ transport: 'TCP' });
    h.layer.receive(invite, tcpPeer);
    const txn = h.txns[0]!;
    h.clock.advance(10000);
    expect(h.transport.times(isStatus(486))).toEqual([0]);
    expect(h.layer.busy(tcpSocket)).toBe(true);
    h.layer.receive(ackFor(invite, wire(h.transport.responses(486)[0]!)), tcpPeer);
    expect(txn.state).toBe('terminated'); // I = 0
    expect(h.layer.busy(tcpSocket)).toBe(false);

    const unacked: number[] = [];
    const h2 = harness({ respondWith: 200, onUnacked: (_t, r) => unacked.push(r.status) });
    h2.layer.receive(req({ transport: 'TCP' }), tcpPeer);
    h2.clock.advance(40000);
    expect(h2.transport.times(isStatus(200))).toEqual([0]);
    expect(unacked).toEqual([200]);

    const h3 = harness({ respondWith: 486 });
    h3.layer.receive(req({ transport: 'TCP' }), tcpPeer);
    h3.clock.advance(31999);
    expect(h3.txns[0]!.state).toBe('completed');
    h3.clock.advance(1);
    expect(h3.txns[0]!.state).toBe('terminated'); // Timer H over TCP too
  });

  it('CANCEL: 200 to the CANCEL, 487 to the INVITE, signal aborted, INVITE ACK absorbed', () => {
    const cancelled: SipRequest[] = [];
    const h = harness();
    const invite = req();
    h.layer.receive(invite, udpPeer);
    const txn = h.txns[0]!;
    txn.on('cancel', (c) => cancelled.push(c));
    void txn.respond(180);
    const signal = txn.signal;
    expect(signal.aborted).toBe(false);
    const cancel = req({ method: 'CANCEL', branch: invite.topVia!.branch! });
    h.layer.receive(cancel, udpPeer);
    const ok = h.transport.responses(200);
    const terminated = h.transport.responses(487);
    expect(ok).toHaveLength(1);
    expect(ok[0]!.cseq.method).toBe('CANCEL');
    expect(terminated).toHaveLength(1);
    expect(terminated[0]!.cseq.method).toBe('INVITE');
    expect(wire(ok[0]!).to.tag).toBe(wire(terminated[0]!).to.tag); // §9.2: same To tag
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(SipCancelledError);
    expect(cancelled).toHaveLength(1);
    expect(txn.cancelRequest).toBeDefined();
    expect(h.txns).toHaveLength(1); // the CANCEL never reaches onRequest
    expect(h.layer.stats.cancelsMatched).toBe(1);
    // The application's late answer is refused, without an unhandled rejection.
    return txn.respond(200).then(
      () => expect.unreachable(),
      (err: SipTransactionError) => {
        expect(err.code).toBe('ERR_SIP_TXN_STATE');
        // Retransmitted CANCEL gets its 200 again; the ACK for the 487 is absorbed.
        h.layer.receive(wire(cancel), udpPeer);
        expect(h.transport.responses(200)).toHaveLength(2);
        h.layer.receive(ackFor(invite, wire(terminated[0]!)), udpPeer);
        expect(txn.state).toBe('confirmed');
      },
    );
  });

  it('CANCEL after the final response: 200 to the CANCEL, no effect on the INVITE', () => {
    const h = harness({ respondWith: 486 });
    const invite = req();
    h.layer.receive(invite, udpPeer);
    h.layer.receive(req({ method: 'CANCEL', branch: invite.topVia!.branch! }), udpPeer);
    expect(h.transport.responses(200)).toHaveLength(1);
    expect(h.transport.responses(487)).toHaveLength(0);
    expect(h.txns[0]!.signal.aborted).toBe(false);
  });

  it('CANCEL for an unknown transaction gets 481 (and other sent-by does not match)', () => {
    const h = harness();
    const invite = req();
    h.layer.receive(invite, udpPeer);
    h.layer.receive(req({ method: 'CANCEL', branch: 'z9hG4bK-nothing' }), udpPeer);
    h.layer.receive(req({ method: 'CANCEL', branch: invite.topVia!.branch!, sentBy: '203.0.113.9:5060' }), udpPeer);
    expect(h.transport.responses(481)).toHaveLength(2);
    expect(h.layer.stats.cancelsUnmatched).toBe(2);
    expect(h.txns[0]!.signal.aborted).toBe(false);
  });

  it('application never answering: 408 after serverInviteTimeout (default 3 min), signal aborted, nothing left', () => {
    const h = harness();
    h.layer.receive(req(), udpPeer);
    const txn = h.txns[0]!;
    h.clock.advance(179999);
    expect(h.transport.responses(408)).toHaveLength(0);
    h.clock.advance(1);
    expect(h.transport.times(isStatus(408))[0]).toBe(180000);
    expect(txn.signal.reason).toBeInstanceOf(SipServerTimeoutError);
    expect(h.layer.stats.serverTimeouts).toBe(1);
    h.clock.advance(40000); // G retransmissions, then H
    expect(txn.state).toBe('terminated');
    expect(h.layer.serverCount).toBe(0);
    expect(h.layer.queue.size - h.layer.ownTimers).toBe(0);

    const h2 = harness({ timers: { serverInviteTimeout: 5000 } });
    h2.layer.receive(req(), udpPeer);
    h2.clock.advance(5000);
    expect(h2.transport.times(isStatus(408))).toEqual([5000]);
  });

  it('transport failure while responding: respond() rejects with it, the transaction ends (§17.2.4)', async () => {
    const h = harness();
    h.layer.receive(req(), udpPeer);
    const txn = h.txns[0]!;
    const boom = new Error('EHOSTUNREACH');
    h.transport.failWith = boom;
    const errors: unknown[] = [];
    txn.on('error', (e) => errors.push(e));
    await expect(txn.respond(200)).rejects.toBe(boom);
    expect(txn.state).toBe('terminated');
    expect(errors).toEqual([boom]);
    expect(txn.signal.reason).toBe(boom);
    expect(h.errors).toContain(boom);
    expect(h.layer.stats.transportErrors).toBe(1);
    expect(h.layer.serverCount).toBe(0);
    expect(h.layer.queue.size - h.layer.ownTimers).toBe(0);
  });

  it('a throwing onRequest gets 500 and is reported', () => {
    const h = harness({
      onRequest: () => {
        throw new Error('handler bug');
      },
    });
    h.layer.receive(req(), udpPeer);
    expect(h.transport.responses(500)).toHaveLength(1);
    expect((h.errors[0] as Error).message).toBe('handler bug');
  });
});
