// Through the layer: Completed non-INVITE UDP transactions answer their retransmissions from their
// records (issue 16), after many later ones, and keys that share a hash are never mixed up.
import { describe, expect, it } from 'vitest';
import type { SipResponse } from '../../src/message/index.js';
import { harness, req, udpPeer, wire } from './helpers.js';

describe('Completed records through the layer', () => {
  it('answers a retransmission from its own record, to its own sender, after 20,000 later transactions', () => {
    const h = harness({ respondWith: 200 });
    const sent = [];
    for (let i = 0; i < 20_000; i++) {
      const r = req({ method: 'OPTIONS', branch: `z9hG4bK-many-${i}`, callId: `c${i}@example.com` });
      sent.push(r);
      h.layer.receive(r, { ...udpPeer, port: 10_000 + i });
    }
    expect(h.layer.completedCount).toBe(20_000);
    const first = h.transport.sent.length;
    for (const i of [0, 1, 9_999, 19_999]) h.layer.receive(wire(sent[i]!), { ...udpPeer, port: 10_000 + i });
    expect(h.txns).toHaveLength(20_000); // the application saw none of them again
    const again = h.transport.sent.slice(first);
    expect(again.map((s) => [(s.msg as SipResponse).status, s.msg.callId, s.msg.topVia?.branch, s.dst.port])).toEqual(
      [0, 1, 9_999, 19_999].map((i) => [200, `c${i}@example.com`, `z9hG4bK-many-${i}`, 10_000 + i]),
    );
    // The bytes sent again are the first answer's, To tag included.
    for (const [k, i] of [0, 1, 9_999, 19_999].entries()) expect(again[k]!.msg.toString()).toBe(h.transport.sent[i]!.msg.toString());
    expect(h.layer.stats.requestsAbsorbed).toBe(4);
  });

  it('keeps transactions apart when every key has the same hash: retransmissions, new requests, CANCEL', () => {
    const h = harness();
    Object.defineProperty(h.layer.servers, 'hash', { value: () => 5 });
    const a = req({ method: 'OPTIONS', branch: 'z9hG4bK-a', callId: 'a@x' });
    const b = req({ method: 'OPTIONS', branch: 'z9hG4bK-b', callId: 'b@x' });
    h.layer.receive(a, udpPeer);
    h.layer.receive(b, udpPeer);
    void h.txns[0]!.respond(200, 'For A');
    void h.txns[1]!.respond(202, 'For B');
    h.transport.clear();
    h.layer.receive(wire(b), udpPeer);
    h.layer.receive(wire(a), udpPeer);
    expect(h.transport.responses().map((r) => [r.status, r.callId])).toEqual([
      [202, 'b@x'],
      [200, 'a@x'],
    ]);
    // A new request sharing their hash is a new transaction, never answered from their records.
    h.transport.clear();
    const c = req({ method: 'OPTIONS', branch: 'z9hG4bK-c', callId: 'c@x' });
    h.layer.receive(c, udpPeer);
    expect(h.txns).toHaveLength(3);
    expect(h.transport.sent).toHaveLength(0);
    // Two open INVITEs and a CANCEL, all one hash: the CANCEL finds its own INVITE.
    const i1 = req({ method: 'INVITE', branch: 'z9hG4bK-i1', callId: 'i1@x' });
    const i2 = req({ method: 'INVITE', branch: 'z9hG4bK-i2', callId: 'i2@x' });
    h.layer.receive(i1, udpPeer);
    h.layer.receive(i2, udpPeer);
    const cancel = req({ method: 'CANCEL', branch: 'z9hG4bK-i2', callId: 'i2@x', cseqMethod: 'CANCEL' });
    h.layer.receive(cancel, udpPeer);
    expect(h.txns[3]!.state).toBe('proceeding');
    expect(h.txns[4]!.aborted).toBe(true);
    expect(h.transport.responses(487).map((r) => r.callId)).toEqual(['i2@x']);
    expect(h.layer.stats.cancelsMatched).toBe(1);
  });
});
