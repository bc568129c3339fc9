import { Subject, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { DialogLayer, SipDialog, type DialogSender } from '../../src/dialog/index.js';
import type { SipRequest, SipResponse } from '../../src/message/index.js';
import { flushMicrotasks, ManualClock } from '../../src/transaction/clock.js';
import type { ServerTransaction } from '../../src/transaction/server-transaction.js';
import { TransactionLayer } from '../../src/transaction/transaction-layer.js';
import { FakeTransport, req, resp, udpPeer, wire } from '../transaction/helpers.js';

/** A sender that records what dialogs send; the test answers through `answer`. */
class RecordingSender implements DialogSender {
  readonly sent: { req: SipRequest; transport: string; replies: Subject<SipResponse>; nextCSeq?: () => number }[] = [];
  readonly acks: { ack: SipRequest; res: SipResponse }[] = [];

  sendInDialog(r: SipRequest, transport: string, _flow?: unknown, nextCSeq?: () => number): Observable<SipResponse> {
    const replies = new Subject<SipResponse>();
    this.sent.push({ req: r, transport, replies, nextCSeq });
    return replies;
  }

  sendAck(ack: SipRequest, res: SipResponse): Promise<void> {
    this.acks.push({ ack, res });
    return Promise.resolve();
  }

  /** Answer the last request sent with `status` (the peer's response, reparsed), headers as given. */
  answer(status: number, extra: Record<string, string> = {}): SipResponse {
    const last = this.sent.at(-1)!;
    const r = wire(last.req);
    const res = resp(r, status, r.to.tag ?? 'x');
    for (const [k, v] of Object.entries(extra)) res.headers.set(k, v);
    last.replies.next(wire(res));
    last.replies.complete();
    return res;
  }
}

/** A transaction layer on a manual clock whose server transactions the test answers, with a dialog table on top. */
function harness(maxDialogs = 100) {
  const clock = new ManualClock();
  const transport = new FakeTransport(clock);
  const dialogs = new DialogLayer({ maxDialogs });
  const sender = new RecordingSender();
  dialogs.sender = sender;
  dialogs.contactFor = (txn) => `<sip:${txn.request.requestUri.user}@192.0.2.1:5060>`;
  const txns: ServerTransaction[] = [];
  const refused: number[] = [];
  const unacked: SipResponse[] = [];
  const layer = new TransactionLayer({
    transport,
    clock,
    timers: { T1: 100 },
    onResponse: (t, r) => dialogs.responding(t, r),
    onAck: (ack) => dialogs.ack(ack),
    onUnacked: (_t, r) => unacked.push(r),
    onRequest: (t) => {
      if (DialogLayer.inDialog(t.request)) {
        const m = dialogs.receive(t.request);
        if (m !== undefined && !(m instanceof SipDialog)) {
          refused.push(m.status);
          void t.respond(t.createResponse(m.status, m.reason, m.headers === undefined ? undefined : { headers: m.headers }));
          return;
        }
      }
      txns.push(t);
    },
  });
  /** An INVITE arrives from the peer and the "application" answers `status`. */
  const call = async (status: number, o: Parameters<typeof req>[0] = {}) => {
    const invite = req({ method: 'INVITE', extra: ['Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>'], ...o });
    layer.receive(invite, udpPeer);
    const txn = txns.at(-1)!;
    await txn.respond(status);
    return { invite, txn, res: transport.responses(status).at(-1)! };
  };
  return { clock, transport, dialogs, sender, layer, txns, refused, unacked, call };
}

describe('UAS dialogs (RFC 3261 §12.1.1)', () => {
  it('a 180 makes an early dialog, the 200 confirms it; both carry our Contact; target, routes, CSeq from the INVITE', async () => {
    const h = harness();
    const invite = req({ method: 'INVITE', cseq: 7, extra: ['Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>'] });
    h.layer.receive(invite, udpPeer);
    const txn = h.txns[0]!;
    await txn.respond(180);
    const ringing = h.transport.responses(180)[0]!;
    expect(ringing.headers.get('contact')).toBe('<sip:bob@192.0.2.1:5060>');
    const d = h.dialogs.ofServerTransaction(txn)!;
    expect(d.state).toBe('early');
    expect(d.role).toBe('uas');
    await txn.respond(200);
    expect(h.transport.responses(200)[0]!.headers.get('contact')).toBe('<sip:bob@192.0.2.1:5060>');
    expect(d.state).toBe('confirmed');
    expect(d.remoteTarget).toBe('sip:alice@192.0.2.10:5062');
    expect(d.routeSet).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(d.remoteCSeq).toBe(7);
    expect(d.localTag).toBe(txn.toTag);
    expect(d.remoteTag).toBe('ft-1');
    expect(h.dialogs.size).toBe(1);
  });

  it('a Contact the application set is kept; a 100 Trying creates nothing', async () => {
    const h = harness();
    h.layer.receive(req({ method: 'INVITE' }), udpPeer);
    const txn = h.txns[0]!;
    await txn.respond(100);
    expect(h.dialogs.size).toBe(0);
    await txn.respond(txn.createResponse(200, undefined, { headers: { Contact: '<sip:mine@203.0.113.5>' } }));
    expect(h.transport.responses(200)[0]!.headers.get('contact')).toBe('<sip:mine@203.0.113.5>');
    expect(h.dialogs.ofServerTransaction(txn)!.localContact).toBe('<sip:mine@203.0.113.5>');
  });

  it('a non-2xx final answer ends the early dialog (rejected), a CANCEL ends it as cancelled', async () => {
    const h = harness();
    h.layer.receive(req({ method: 'INVITE', callId: 'a' }), udpPeer);
    const a = h.txns[0]!;
    await a.respond(183);
    const d = h.dialogs.ofServerTransaction(a)!;
    await a.respond(486);
    expect(d.state).toBe('terminated');
    expect(await d.terminated).toMatchObject({ reason: 'rejected', status: 486 });
    const invite = req({ method: 'INVITE', callId: 'b', branch: 'z9hG4bK-cancel-me' });
    h.layer.receive(invite, udpPeer);
    const b = h.txns[1]!;
    await b.respond(180);
    const e = h.dialogs.ofServerTransaction(b)!;
    h.layer.receive(req({ method: 'CANCEL', callId: 'b', branch: 'z9hG4bK-cancel-me' }), udpPeer);
    expect(e.end).toMatchObject({ reason: 'cancelled', status: 487 });
    expect(h.dialogs.size).toBe(0);
  });

  it('SUBSCRIBE and REFER 2xx create dialogs; OPTIONS and MESSAGE do not', async () => {
    const h = harness();
    for (const method of ['SUBSCRIBE', 'REFER', 'OPTIONS', 'MESSAGE']) {
      h.layer.receive(req({ method, callId: method }), udpPeer);
      await h.txns.at(-1)!.respond(200);
    }
    expect([...h.dialogs.store.values()].map((d) => d.callId).sort()).toEqual(['REFER', 'SUBSCRIBE']);
    expect(h.transport.responses(200).filter((r) => r.headers.has('contact')).map((r) => r.callId).sort()).toEqual(['REFER', 'SUBSCRIBE']);
  });
});

describe("the peer's in-dialog requests (RFC 3261 §12.2.2, §14.2)", () => {
  it('481 for an unknown To tag; 500 for a CSeq not above the last; BYE ends the dialog and reaches `requests`', async () => {
    const h = harness();
    const { txn } = await h.call(200, { cseq: 5 });
    const d = h.dialogs.ofServerTransaction(txn)!;
    const seen: string[] = [];
    let completed = false;
    d.requests.subscribe({ next: (r) => seen.push(r.method), complete: () => (completed = true) });
    const tag = txn.toTag;
    h.layer.receive(req({ method: 'INFO', toTag: 'not-ours', cseq: 6 }), udpPeer);
    h.layer.receive(req({ method: 'INFO', toTag: tag, cseq: 5 }), udpPeer);
    expect(h.refused).toEqual([481, 500]);
    h.layer.receive(req({ method: 'INFO', toTag: tag, cseq: 6 }), udpPeer);
    h.layer.receive(req({ method: 'BYE', toTag: tag, cseq: 7 }), udpPeer);
    expect(seen).toEqual(['INFO', 'BYE']);
    expect(completed).toBe(true);
    expect(d.end).toMatchObject({ reason: 'bye', by: 'remote' });
    h.layer.receive(req({ method: 'INFO', toTag: tag, cseq: 8 }), udpPeer);
    expect(h.refused).toEqual([481, 500, 481]);
    expect(h.dialogs.size).toBe(0);
  });

  it('a BYE before the ACK is accepted (RFC 3261 §15)', async () => {
    const h = harness();
    const { txn } = await h.call(200);
    h.layer.receive(req({ method: 'BYE', toTag: txn.toTag, cseq: 2 }), udpPeer);
    expect(h.refused).toEqual([]);
    expect(h.dialogs.size).toBe(0);
  });

  it('a re-INVITE while ours is pending gets 491; while the previous one is unanswered, 500 with Retry-After', async () => {
    const h = harness();
    const { txn } = await h.call(200);
    const d = h.dialogs.ofServerTransaction(txn)!;
    d.reinvite({ body: 'v=0\r\n', contentType: 'application/sdp' }).subscribe({ error: () => undefined });
    h.layer.receive(req({ method: 'INVITE', toTag: txn.toTag, cseq: 2 }), udpPeer);
    expect(h.refused).toEqual([491]);
    h.sender.answer(200);
    h.layer.receive(req({ method: 'INVITE', toTag: txn.toTag, cseq: 3, branch: 'z9hG4bK-re1' }), udpPeer);
    h.layer.receive(req({ method: 'INVITE', toTag: txn.toTag, cseq: 4, branch: 'z9hG4bK-re2' }), udpPeer);
    expect(h.refused).toEqual([491, 500]);
    const fiveHundred = h.transport.responses(500).at(-1)!;
    expect(fiveHundred.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('a re-INVITE answered 2xx refreshes the remote target (its Contact); a refused one does not', async () => {
    const h = harness();
    const { txn } = await h.call(200);
    const d = h.dialogs.ofServerTransaction(txn)!;
    h.layer.receive(req({ method: 'INVITE', toTag: txn.toTag, cseq: 2, branch: 'z9hG4bK-r1', extra: ['Contact: <sip:alice@198.51.100.9:5070>'] }), udpPeer);
    const reinvite = h.txns.at(-1)!;
    await reinvite.respond(488);
    expect(d.remoteTarget).toBe('sip:alice@192.0.2.10:5062');
    // the codec's req() adds its own Contact first: the first Contact is the target
    h.layer.receive(req({ method: 'UPDATE', toTag: txn.toTag, cseq: 3, omit: ['Contact'], extra: ['Contact: <sip:alice@198.51.100.9:5070>'] }), udpPeer);
    await h.txns.at(-1)!.respond(200);
    expect(d.remoteTarget).toBe('sip:alice@198.51.100.9:5070');
    expect(d.state).toBe('confirmed');
  });

  it('the ACK for our 2xx reaches the dialog', async () => {
    const h = harness();
    const { invite, txn, res } = await h.call(200);
    const d = h.dialogs.ofServerTransaction(txn)!;
    const seen: string[] = [];
    d.requests.subscribe((r) => seen.push(r.method));
    const ack = req({ method: 'ACK', cseq: invite.cseq.seq, cseqMethod: 'ACK', toTag: res.to.tag, branch: 'z9hG4bK-ack' });
    h.layer.receive(ack, udpPeer);
    expect(seen).toEqual(['ACK']);
  });

  it('a 2xx never acknowledged is reported after 64*T1 (the server then sends BYE)', async () => {
    const h = harness();
    await h.call(200);
    h.clock.advance(64 * 100 - 1);
    expect(h.unacked).toHaveLength(0);
    h.clock.advance(1);
    expect(h.unacked).toHaveLength(1);
  });
});

describe('requests we send in a dialog (RFC 3261 §12.2.1)', () => {
  it('Request-URI = remote target, Route = route set, CSeq one more each time, tags from the dialog', async () => {
    const h = harness();
    const { txn, res } = await h.call(200);
    const d = h.dialogs.ofServerTransaction(txn)!;
    d.info({ headers: { 'Content-Type': 'application/dtmf-relay' }, body: 'Signal=5\r\n' }).subscribe({ error: () => undefined });
    d.bye().subscribe({ error: () => undefined });
    const [info, bye] = h.sender.sent.map((s) => s.req);
    expect(info!.uri).toBe('sip:alice@192.0.2.10:5062');
    expect(info!.headers.getAll('route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(info!.from.tag).toBe(res.to.tag);
    expect(info!.to.tag).toBe('ft-1');
    expect(info!.callId).toBe(res.callId);
    expect(bye!.cseq.seq).toBe(info!.cseq.seq + 1);
    expect(bye!.cseq.method).toBe('BYE');
    expect(h.sender.sent[0]!.transport).toBe('udp');
    expect(d.end).toMatchObject({ reason: 'bye', by: 'local' });
    // a second BYE: refused, nothing sent
    let err: unknown;
    d.bye().subscribe({ error: (e: unknown) => (err = e) });
    expect((err as { code?: string }).code).toBe('ERR_SIP_DIALOG_TERMINATED');
    expect(h.sender.sent).toHaveLength(2);
  });

  it('a strict router first in the route set: Request-URI = that route, the remote target last in Route', async () => {
    const h = harness();
    const { txn } = await h.call(200, { extra: ['Record-Route: <sip:strict.example.com>, <sip:p2.example.com;lr>'] });
    h.dialogs.ofServerTransaction(txn)!.bye().subscribe({ error: () => undefined });
    const bye = h.sender.sent[0]!.req;
    expect(bye.uri).toBe('sip:strict.example.com');
    expect(bye.headers.getAll('route')).toEqual(['<sip:p2.example.com;lr>', '<sip:alice@192.0.2.10:5062>']);
  });

  it('a re-INVITE: only one at a time; its 2xx refreshes the target and is ACKed by the dialog with the same CSeq and route', async () => {
    const h = harness();
    const { txn } = await h.call(200);
    const d = h.dialogs.ofServerTransaction(txn)!;
    const got: number[] = [];
    d.reinvite({ body: 'v=0\r\n', contentType: 'application/sdp' }).subscribe((r) => got.push(r.status));
    let busy: unknown;
    d.reinvite().subscribe({ error: (e: unknown) => (busy = e) });
    expect((busy as { code?: string }).code).toBe('ERR_SIP_DIALOG_BUSY');
    const reinvite = h.sender.sent[0]!.req;
    expect(reinvite.headers.get('contact')).toBe('<sip:bob@192.0.2.1:5060>');
    h.sender.answer(200, { Contact: '<sip:alice@198.51.100.9:5070>' });
    expect(got).toEqual([200]);
    expect(d.remoteTarget).toBe('sip:alice@198.51.100.9:5070');
    const ack = h.sender.acks[0]!.ack;
    expect([ack.method, ack.cseq.seq, ack.cseq.method, ack.uri]).toEqual(['ACK', reinvite.cseq.seq, 'ACK', 'sip:alice@198.51.100.9:5070']);
    expect(ack.headers.getAll('route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(d.localSdp).toBe('v=0\r\n');
  });

  it('a sender that sends a request again (a challenge answered) takes its CSeq from the dialog: the 2xx is ACKed with it, the next request counts on', async () => {
    const h = harness();
    const { txn } = await h.call(200);
    const d = h.dialogs.ofServerTransaction(txn)!;
    d.reinvite({ body: 'v=0\r\n', contentType: 'application/sdp' }).subscribe({ error: () => undefined });
    const first = h.sender.sent[0]!;
    const again = first.nextCSeq!();
    expect(again).toBe(first.req.cseq.seq + 1);
    expect(d.localCSeq).toBe(again);
    h.sender.answer(200, { CSeq: `${again} INVITE` });
    expect(h.sender.acks[0]!.ack.cseq.seq).toBe(again);
    d.info().subscribe({ error: () => undefined });
    await flushMicrotasks(); // it waits for the ACK to leave
    expect(h.sender.sent[1]!.req.cseq.seq).toBe(again + 1);
  });

  it('481 or 408 to an in-dialog request ends the dialog (gone); other failures do not', async () => {
    const h = harness();
    const { txn } = await h.call(200);
    const d = h.dialogs.ofServerTransaction(txn)!;
    let failed: unknown;
    d.info().subscribe({ error: (e: unknown) => (failed = e) });
    h.sender.answer(415);
    expect((failed as { status?: number }).status).toBe(415);
    expect(d.state).toBe('confirmed');
    d.info().subscribe({ error: () => undefined });
    h.sender.answer(481);
    expect(d.end).toMatchObject({ reason: 'gone', by: 'remote', status: 481 });
  });
});

describe('UAC dialogs', () => {
  it("the 2xx's Record-Route, reversed, is the route set; its Contact the target; each fork its own dialog", () => {
    const h = harness();
    const invite = req({ method: 'INVITE', cseq: 11, toTag: undefined, uri: 'sip:bob@example.net' });
    const a = resp(invite, 200, 'fork-a');
    a.headers.set('Record-Route', ['<sip:p2.example.com;lr>', '<sip:p1.example.com;lr>']);
    a.headers.set('Contact', '<sip:bob@203.0.113.7>');
    const da = h.dialogs.fromUacResponse(invite, wire(a), h.sender, 'tcp')!;
    expect(da.role).toBe('uac');
    expect(da.routeSet).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(da.remoteTarget).toBe('sip:bob@203.0.113.7');
    expect(da.localCSeq).toBe(11);
    expect(da.transport).toBe('tcp');
    const db = h.dialogs.fromUacResponse(invite, wire(resp(invite, 200, 'fork-b')), h.sender, 'tcp')!;
    expect(db).not.toBe(da);
    expect(h.dialogs.ofResponse(wire(a))).toBe(da);
    da.bye().subscribe({ error: () => undefined });
    expect(h.sender.sent[0]!.req.cseq.seq).toBe(12);
    expect(h.sender.sent[0]!.transport).toBe('tcp');
  });

  it('a 1xx with a To tag makes an early dialog that the 2xx confirms (same object); 100 and tagless 1xx make none', () => {
    const h = harness();
    const invite = req({ method: 'INVITE' });
    expect(h.dialogs.fromUacResponse(invite, wire(resp(invite, 100)), h.sender, 'udp')).toBeUndefined();
    const early = h.dialogs.fromUacResponse(invite, wire(resp(invite, 180, 't1')), h.sender, 'udp')!;
    expect(early.state).toBe('early');
    const confirmed = h.dialogs.fromUacResponse(invite, wire(resp(invite, 200, 't1')), h.sender, 'udp')!;
    expect(confirmed).toBe(early);
    expect(confirmed.state).toBe('confirmed');
  });
});

describe('the table is bounded', () => {
  it('full at maxDialogs: no dialog is created beyond it; ended dialogs leave', async () => {
    const h = harness(2);
    await h.call(200, { callId: 'c1' });
    await h.call(200, { callId: 'c2' });
    expect(h.dialogs.full).toBe(true);
    const { txn } = await h.call(200, { callId: 'c3' });
    expect(h.dialogs.ofServerTransaction(txn)).toBeUndefined();
    expect(h.dialogs.size).toBe(2);
    h.dialogs.closeAll();
    expect(h.dialogs.size).toBe(0);
    expect(h.dialogs.full).toBe(false);
  });
});
