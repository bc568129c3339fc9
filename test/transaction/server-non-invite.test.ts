import { describe, expect, it } from 'vitest';
import { SipServerTimeoutError } from '../../src/transaction/errors.js';
import { harness, isStatus, req, tcpPeer, tcpSocket, udpPeer, wire } from './helpers.js';

describe('non-INVITE server transaction (RFC 3261 §17.2.2)', () => {
  it('retransmission in Trying is absorbed silently; in Proceeding/Completed gets the last response', () => {
    const h = harness();
    const options = req({ method: 'OPTIONS' });
    h.layer.receive(options, udpPeer);
    const txn = h.txns[0]!;
    expect(txn.state).toBe('trying');
    h.layer.receive(wire(options), udpPeer);
    expect(h.transport.sent).toHaveLength(0); // no 100 for non-INVITE
    void txn.respond(183);
    expect(txn.state).toBe('proceeding');
    h.layer.receive(wire(options), udpPeer);
    expect(h.transport.responses(183)).toHaveLength(2);
    void txn.respond(200);
    // Completed over UDP lives on as the layer's compact record (Timer J); the object is done.
    expect(txn.state).toBe('terminated');
    expect(h.layer.completedCount).toBe(1);
    h.clock.advance(1000);
    h.layer.receive(wire(options), udpPeer);
    expect(h.transport.times(isStatus(200))).toEqual([0, 1000]);
    expect(h.txns).toHaveLength(1);
    expect(h.layer.stats.requestsAbsorbed).toBe(3);
  });

  it('Timer J: 64*T1 over UDP; a request with the same branch after it is a new transaction', () => {
    const h = harness({ respondWith: 200 });
    const reg = req({ method: 'REGISTER' });
    h.layer.receive(reg, udpPeer);
    const txn = h.txns[0]!;
    h.clock.advance(31999);
    h.layer.receive(wire(reg), udpPeer);
    expect(h.txns).toHaveLength(1);
    expect(h.transport.responses(200)).toHaveLength(2);
    expect(h.layer.completedCount).toBe(1);
    h.clock.advance(1);
    expect(txn.state).toBe('terminated');
    expect(h.layer.serverCount).toBe(0);
    expect(h.layer.completedCount).toBe(0);
    h.layer.receive(wire(reg), udpPeer);
    expect(h.txns).toHaveLength(2);
  });

  it('Timer J is zero over TCP: terminated as soon as the final response is sent', () => {
    const opened: unknown[] = [];
    const closed: unknown[] = [];
    const h = harness({ onOpen: (p) => opened.push(p.socket), onClose: (p) => closed.push(p.socket) });
    h.layer.receive(req({ method: 'OPTIONS', transport: 'TCP' }), tcpPeer);
    const txn = h.txns[0]!;
    expect(h.layer.busy(tcpSocket)).toBe(true);
    expect(h.layer.openOn(tcpSocket)).toBe(1);
    expect(opened).toEqual([tcpSocket]);
    void txn.respond(200);
    expect(txn.state).toBe('terminated');
    expect(h.transport.sent).toHaveLength(1);
    expect(h.layer.busy(tcpSocket)).toBe(false);
    expect(closed).toEqual([tcpSocket]);
    expect(h.layer.queue.size - h.layer.ownTimers).toBe(0);
  });

  it('UDP transactions do not call onOpen/onClose', () => {
    const calls: string[] = [];
    const h = harness({ respondWith: 200, onOpen: () => calls.push('open'), onClose: () => calls.push('close') });
    h.layer.receive(req({ method: 'OPTIONS' }), udpPeer);
    h.clock.advance(40000);
    expect(calls).toEqual([]);
  });

  it('application never answering: 500 after serverNonInviteTimeout (default 64*T1 = 32 s)', () => {
    const h = harness();
    h.layer.receive(req({ method: 'MESSAGE' }), udpPeer);
    const txn = h.txns[0]!;
    h.clock.advance(31999);
    expect(h.transport.sent).toHaveLength(0);
    h.clock.advance(1);
    expect(h.transport.times(isStatus(500))).toEqual([32000]);
    expect(txn.signal.aborted).toBe(true);
    expect(txn.signal.reason).toBeInstanceOf(SipServerTimeoutError);
    h.clock.advance(32000);
    expect(txn.state).toBe('terminated');
    expect(h.layer.serverCount).toBe(0);
    expect(h.layer.queue.size).toBe(0);

    const h2 = harness({ timers: { serverNonInviteTimeout: 2000 } });
    h2.layer.receive(req({ method: 'MESSAGE', transport: 'TCP' }), tcpPeer);
    h2.clock.advance(2000);
    expect(h2.transport.times(isStatus(500))).toEqual([2000]);
    expect(h2.layer.serverCount).toBe(0);
  });

  it('respond(number) builds the response with the transaction To tag; responses go to `from`', () => {
    const h = harness();
    h.layer.receive(req({ method: 'OPTIONS' }), udpPeer);
    const txn = h.txns[0]!;
    void txn.respond(200, 'Fine', { headers: { Allow: 'INVITE, ACK' } });
    const [s] = h.transport.sent;
    const res = wire(s!.msg) as unknown as import('../../src/message/index.js').SipResponse;
    expect(s!.dst).toBe(udpPeer);
    expect(res.reason).toBe('Fine');
    expect(res.to.tag).toBe(txn.toTag);
    expect(res.headers.getAll('allow')).toEqual(['INVITE', 'ACK']);
  });
});
