import { describe, expect, it } from 'vitest';
import { generateBranch, SipRequest, type SipResponse } from '../../src/message/index.js';
import type { ClientTransaction, ClientTransactionHandlers } from '../../src/transaction/client-transaction.js';
import type { InviteClientTransaction } from '../../src/transaction/invite-client-transaction.js';
import { SipTimeoutError, SipTransactionError } from '../../src/transaction/errors.js';
import { flushMicrotasks } from '../../src/transaction/clock.js';
import { gaps, harness, isMethod, req, resp, tcpDst, udpDst, udpPeer } from './helpers.js';

function recorder() {
  const log: string[] = [];
  const finals: SipResponse[] = [];
  const errors: unknown[] = [];
  const late: SipResponse[] = [];
  const handlers: ClientTransactionHandlers = {
    onProvisional: (r) => log.push('1xx ' + r.status),
    onFinal: (r) => {
      log.push('final ' + r.status);
      finals.push(r);
    },
    onLate2xx: (r) => late.push(r),
    onError: (e) => {
      log.push('error');
      errors.push(e);
    },
  };
  return { log, finals, errors, late, handlers };
}

describe('INVITE client transaction (RFC 3261 §17.1.1)', () => {
  it('Timer A doubles from T1 (uncapped, per the RFC) and Timer B fails it with SipTimeoutError at 64*T1', async () => {
    const h = harness();
    const r = recorder();
    const invite = req({ branch: generateBranch() });
    const txn = h.layer.request(invite, udpDst, r.handlers);
    const result = txn.result;
    expect(txn.state).toBe('calling');
    h.clock.advance(40000);
    const times = h.transport.times(isMethod('INVITE'));
    expect(times).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(gaps(times)).toEqual([500, 1000, 2000, 4000, 8000, 16000]);
    expect(r.errors).toHaveLength(1);
    const err = r.errors[0] as SipTimeoutError;
    expect(err).toBeInstanceOf(SipTimeoutError);
    expect(err.timer).toBe('B');
    expect(err.code).toBe('ERR_SIP_TIMEOUT');
    await expect(result).rejects.toBe(err);
    expect(txn.state).toBe('terminated');
    expect(h.layer.clientCount).toBe(0);
    expect(h.layer.stats.timeouts).toBe(1);
    expect(h.transport.sent.every((s) => s.dst === udpDst)).toBe(true);
  });

  it('capInviteRetransmit caps Timer A at T2 like Timer E', () => {
    const h = harness({ timers: { capInviteRetransmit: true } });
    h.layer.request(req({ branch: generateBranch() }), udpDst);
    h.clock.advance(40000);
    expect(gaps(h.transport.times(isMethod('INVITE')))).toEqual([500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000]);
  });

  it('a provisional response stops Timer A and Timer B', () => {
    const h = harness();
    const r = recorder();
    const invite = req({ branch: generateBranch() });
    const txn = h.layer.request(invite, udpDst, r.handlers);
    h.clock.advance(600);
    h.layer.receive(resp(invite, 180), udpPeer);
    expect(txn.state).toBe('proceeding');
    h.clock.advance(60000);
    expect(h.transport.times(isMethod('INVITE'))).toEqual([0, 500]);
    expect(r.errors).toHaveLength(0);
    expect(r.log).toEqual(['1xx 180']);
    h.layer.receive(resp(invite, 200), udpPeer);
    expect(r.log).toEqual(['1xx 180', 'final 200']);
  });

  it('non-2xx: the layer ACKs it (§17.1.1.3), Timer D absorbs retransmissions and re-sends the ACK', async () => {
    const h = harness();
    const r = recorder();
    const invite = req({ branch: generateBranch(), extra: ['Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>'] });
    const txn = h.layer.request(invite, udpDst, r.handlers) as InviteClientTransaction;
    h.layer.receive(resp(invite, 486, 'callee-tag'), udpPeer);
    expect(txn.state).toBe('completed');
    const [ack] = h.transport.requests('ACK');
    expect(ack).toBeDefined();
    expect(ack!.uri).toBe(invite.uri);
    expect(ack!.headers.getAll('via')).toEqual([invite.headers.getAll('via')[0]]);
    expect(ack!.topVia!.branch).toBe(invite.topVia!.branch);
    expect(ack!.callId).toBe(invite.callId);
    expect(ack!.from.tag).toBe(invite.from.tag);
    expect(ack!.to.tag).toBe('callee-tag');
    expect(ack!.cseq).toEqual({ seq: invite.cseq.seq, method: 'ACK' });
    expect(ack!.headers.getAll('route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(ack!.maxForwards).toBe(70);
    expect(ack!.body.length).toBe(0);
    expect(await txn.result).toBe(r.finals[0]);
    // Retransmitted 486 within D: ACK again, not handed up again.
    h.clock.advance(5000);
    h.layer.receive(resp(invite, 486, 'callee-tag'), udpPeer);
    expect(h.transport.requests('ACK')).toHaveLength(2);
    expect(r.finals).toHaveLength(1);
    expect(h.layer.stats.responsesAbsorbed).toBe(1);
    h.clock.advance(26999);
    expect(txn.state).toBe('completed');
    h.clock.advance(1); // Timer D = 32 s
    expect(txn.state).toBe('terminated');
    const strays: SipResponse[] = [];
    h.layer.onStray = (res) => strays.push(res);
    h.layer.receive(resp(invite, 486, 'callee-tag'), udpPeer);
    expect(strays).toHaveLength(1);
    expect(h.layer.stats.strayResponses).toBe(1);
  });

  it('2xx: Accepted (RFC 6026), later 2xx go to onLate2xx until Timer M, then to onStray', () => {
    const h = harness();
    const r = recorder();
    const strays: SipResponse[] = [];
    h.layer.onStray = (res) => strays.push(res);
    const invite = req({ branch: generateBranch() });
    const txn = h.layer.request(invite, udpDst, r.handlers);
    h.layer.receive(resp(invite, 200, 'a'), udpPeer);
    expect(txn.state).toBe('accepted');
    expect(h.transport.requests('ACK')).toHaveLength(0); // 2xx ACK is the UA core's (sendStateless)
    h.clock.advance(500);
    h.layer.receive(resp(invite, 200, 'a'), udpPeer); // retransmission
    h.layer.receive(resp(invite, 200, 'b'), udpPeer); // another fork
    expect(r.finals).toHaveLength(1);
    expect(r.late.map((x) => x.to.tag)).toEqual(['a', 'b']);
    h.clock.advance(31500);
    expect(txn.state).toBe('terminated');
    h.layer.receive(resp(invite, 200, 'a'), udpPeer);
    expect(strays).toHaveLength(1);
    expect(strays[0]!.cseq.method).toBe('INVITE');
  });

  it('reliable transport: no retransmission, but Timer B still fires; Timer D is zero', () => {
    const h = harness();
    const r = recorder();
    h.layer.request(req({ branch: generateBranch(), transport: 'TCP' }), tcpDst, r.handlers);
    h.clock.advance(31999);
    expect(h.transport.sent).toHaveLength(1);
    expect(r.errors).toHaveLength(0);
    h.clock.advance(1);
    expect((r.errors[0] as SipTimeoutError).timer).toBe('B');

    const h2 = harness();
    const invite = req({ branch: generateBranch(), transport: 'TCP' });
    const txn = h2.layer.request(invite, tcpDst);
    h2.layer.receive(resp(invite, 404), { ...udpPeer, proto: 'tcp' });
    expect(h2.transport.requests('ACK')).toHaveLength(1);
    expect(txn.state).toBe('terminated');
  });

  it('cancel() before any provisional waits for one (§9.1), then sends CANCEL; the 487 is still absorbed and ACKed', async () => {
    const h = harness();
    const r = recorder();
    const invite = req({ branch: generateBranch(), extra: ['Route: <sip:proxy.example.com;lr>'] });
    const txn = h.layer.request(invite, udpDst, r.handlers) as InviteClientTransaction;
    expect(txn.cancel()).toBe(true);
    expect(txn.cancel()).toBe(true);
    h.clock.advance(100);
    expect(h.transport.requests('CANCEL')).toHaveLength(0);
    h.layer.receive(resp(invite, 180), udpPeer);
    const cancels = h.transport.requests('CANCEL');
    expect(cancels).toHaveLength(1);
    const c = cancels[0]!;
    expect(c.uri).toBe(invite.uri);
    expect(c.headers.getAll('via')).toEqual([invite.headers.getAll('via')[0]]);
    expect(c.callId).toBe(invite.callId);
    expect(c.headers.get('from')).toBe(invite.headers.get('from'));
    expect(c.headers.get('to')).toBe(invite.headers.get('to'));
    expect(c.cseq).toEqual({ seq: invite.cseq.seq, method: 'CANCEL' });
    expect(c.headers.getAll('route')).toEqual(['<sip:proxy.example.com;lr>']);
    expect(h.layer.stats.cancelsSent).toBe(1);
    // CANCEL is its own non-INVITE transaction (same branch, method CANCEL): retransmitted over UDP.
    h.clock.advance(500);
    expect(h.transport.requests('CANCEL')).toHaveLength(2);
    h.layer.receive(resp(c, 200), udpPeer);
    expect(txn.cancelTransaction!.state).toBe('completed');
    h.layer.receive(resp(invite, 487), udpPeer);
    expect(r.log).toEqual(['1xx 180', 'final 487']);
    expect(h.transport.requests('ACK')).toHaveLength(1);
    expect((await txn.result).status).toBe(487);
    expect(txn.cancel()).toBe(false);
  });

  it('no final response within 64*T1 after CANCEL: SipTimeoutError("CANCEL")', () => {
    const h = harness();
    const r = recorder();
    const invite = req({ branch: generateBranch() });
    const txn = h.layer.request(invite, udpDst, r.handlers);
    h.layer.receive(resp(invite, 183), udpPeer);
    h.clock.advance(1000);
    txn.cancel();
    h.clock.advance(31999);
    expect(r.errors).toHaveLength(0);
    h.clock.advance(1);
    expect((r.errors[0] as SipTimeoutError).timer).toBe('CANCEL');
    h.clock.advance(60000);
    expect(h.layer.clientCount).toBe(0);
    expect(h.layer.queue.size).toBe(0);
  });

  it('Timer C: a ringing INVITE with no final response is cancelled, then given up', () => {
    const h = harness({ timers: { C: 60000 } });
    const r = recorder();
    const invite = req({ branch: generateBranch() });
    h.layer.request(invite, udpDst, r.handlers);
    h.layer.receive(resp(invite, 180), udpPeer);
    h.clock.advance(59999);
    expect(h.transport.requests('CANCEL')).toHaveLength(0);
    h.clock.advance(1);
    expect(h.transport.times(isMethod('CANCEL'))[0]).toBe(60000);
    h.clock.advance(32000);
    expect((r.errors[0] as SipTimeoutError).timer).toBe('C');
  });

  it('Timer C restarts on every provisional response (RFC 3261 §16.8): a long ring is not cancelled', () => {
    const h = harness({ timers: { C: 60000 } });
    const r = recorder();
    const invite = req({ branch: generateBranch() });
    h.layer.request(invite, udpDst, r.handlers);
    h.layer.receive(resp(invite, 180), udpPeer);
    h.clock.advance(50000);
    h.layer.receive(resp(invite, 180), udpPeer);
    h.clock.advance(50000);
    expect(h.transport.requests('CANCEL')).toHaveLength(0);
    h.clock.advance(10000);
    expect(h.transport.times(isMethod('CANCEL'))[0]).toBe(110000);
  });

  it('transport failure fails the transaction with that error (§17.1.4)', async () => {
    const h = harness();
    const r = recorder();
    const boom = new Error('ECONNREFUSED');
    h.transport.failWith = boom;
    const txn = h.layer.request(req({ branch: generateBranch() }), udpDst, r.handlers);
    await flushMicrotasks();
    expect(r.errors).toEqual([boom]);
    await expect(txn.result).rejects.toBe(boom);
    expect(txn.state).toBe('terminated');
    expect(h.layer.stats.transportErrors).toBe(1);
    expect(h.layer.queue.size).toBe(0);
    // synchronous throw from the transport too
    h.transport.throwSync = true;
    const t2 = h.layer.request(req({ method: 'OPTIONS', branch: generateBranch() }), udpDst, r.handlers);
    await flushMicrotasks();
    expect(t2.error).toBe(boom);
  });

  it('retransmission failure also fails it', async () => {
    const h = harness();
    const r = recorder();
    h.layer.request(req({ branch: generateBranch() }), udpDst, r.handlers);
    h.transport.failWith = new Error('ENETDOWN');
    await h.clock.advanceAsync(500);
    expect((r.errors[0] as Error).message).toBe('ENETDOWN');
    expect(h.layer.clientCount).toBe(0);
  });
});

describe('non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  it('Timer E doubles up to T2, Timer F times out at 64*T1', () => {
    const h = harness();
    const r = recorder();
    const txn = h.layer.request(req({ method: 'OPTIONS', branch: generateBranch() }), udpDst, r.handlers);
    expect(txn.state).toBe('trying');
    h.clock.advance(40000);
    const times = h.transport.times(isMethod('OPTIONS'));
    expect(times).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect((r.errors[0] as SipTimeoutError).timer).toBe('F');
  });

  it('in Proceeding, Timer E fires every T2', () => {
    const h = harness();
    const reg = req({ method: 'REGISTER', branch: generateBranch() });
    h.layer.request(reg, udpDst);
    h.clock.advance(600);
    h.layer.receive(resp(reg, 100), udpPeer);
    h.clock.advance(12000);
    expect(h.transport.times(isMethod('REGISTER'))).toEqual([0, 500, 1500, 5500, 9500]);
  });

  it('final response: Completed, Timer K (T4) absorbs retransmissions', () => {
    const h = harness();
    const r = recorder();
    const reg = req({ method: 'REGISTER', branch: generateBranch() });
    const txn = h.layer.request(reg, udpDst, r.handlers);
    h.layer.receive(resp(reg, 401), udpPeer);
    expect(txn.state).toBe('completed');
    h.layer.receive(resp(reg, 401), udpPeer);
    expect(r.finals).toHaveLength(1);
    h.clock.advance(4999);
    expect(txn.state).toBe('completed');
    h.clock.advance(1);
    expect(txn.state).toBe('terminated');
    expect(h.transport.requests('ACK')).toHaveLength(0);
  });

  it('reliable: no Timer E, Timer F still fires, Timer K zero', () => {
    const h = harness();
    const r = recorder();
    h.layer.request(req({ method: 'OPTIONS', branch: generateBranch(), transport: 'TCP' }), tcpDst, r.handlers);
    h.clock.advance(32000);
    expect(h.transport.sent).toHaveLength(1);
    expect((r.errors[0] as SipTimeoutError).timer).toBe('F');
    const opts = req({ method: 'OPTIONS', branch: generateBranch(), transport: 'TCP' });
    const txn = h.layer.request(opts, tcpDst);
    h.layer.receive(resp(opts, 200), { ...udpPeer, proto: 'tcp' });
    expect(txn.state).toBe('terminated');
  });

  it('matching is by branch and CSeq method (§17.1.3)', () => {
    const h = harness();
    const r = recorder();
    const strays: SipResponse[] = [];
    h.layer.onStray = (res) => strays.push(res);
    const opts = req({ method: 'OPTIONS', branch: generateBranch() });
    h.layer.request(opts, udpDst, r.handlers);
    h.layer.receive(resp(req({ method: 'INFO', branch: opts.topVia!.branch! }), 200), udpPeer); // same branch, other method
    h.layer.receive(resp(req({ method: 'OPTIONS' }), 200), udpPeer); // other branch
    expect(strays).toHaveLength(2);
    expect(r.finals).toHaveLength(0);
    h.layer.receive(resp(opts, 200), udpPeer);
    expect(r.finals).toHaveLength(1);
  });

  it('refuses requests it cannot make a transaction for', () => {
    const h = harness();
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as SipTransactionError).code;
      }
      return 'none';
    };
    expect(code(() => h.layer.request(req({ method: 'ACK' }), udpDst))).toBe('ERR_SIP_TXN_INVALID');
    expect(code(() => h.layer.request(req({ method: 'OPTIONS', branch: 'old-style' }), udpDst))).toBe('ERR_SIP_TXN_INVALID');
    // (the parser refuses such a message; a hand-built one reaches request())
    const mismatch = new SipRequest({ method: 'OPTIONS', uri: 'sip:x@example.net', headers: [...req({ method: 'OPTIONS' }).headers] });
    mismatch.headers.set('CSeq', '1 INFO');
    expect(code(() => h.layer.request(mismatch, udpDst))).toBe('ERR_SIP_TXN_INVALID');
    const o = req({ method: 'OPTIONS' });
    h.layer.request(o, udpDst);
    expect(code(() => h.layer.request(o, udpDst))).toBe('ERR_SIP_TXN_INVALID');
  });

  it('handlers that throw are reported and do not break the transaction', () => {
    const h = harness();
    const opts = req({ method: 'OPTIONS', branch: generateBranch() });
    const txn: ClientTransaction = h.layer.request(opts, udpDst, {
      onFinal: () => {
        throw new Error('handler bug');
      },
    });
    h.layer.receive(resp(opts, 200), udpPeer);
    expect(txn.state).toBe('completed');
    expect((h.errors[0] as Error).message).toBe('handler bug');
  });
});
