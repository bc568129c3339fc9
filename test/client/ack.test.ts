// The ACK for 2xx (RFC 3261 §13.2.2.4) against a raw UDP peer that plays the UAS by hand:
// retransmitted 2xx get the same ACK again (during the transaction's Accepted state and after
// it ended), a second fork's 2xx is ACKed and hung up, and with autoAck: false nothing is ACKed
// until the caller does it.
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResponse, SipClient, type SipResponse } from 'nestjs-sip';
import { rawUdpPeer, sleep, waitUntil, type RawPeer } from './support.js';

let peer: RawPeer;
const clients: SipClient[] = [];
const newClient = (o: ConstructorParameters<typeof SipClient>[0] = {}): SipClient => {
  const c = new SipClient({ localHost: '127.0.0.1', timers: { T1: 20 }, ...o });
  clients.push(c);
  return c;
};
beforeAll(async () => {
  peer = await rawUdpPeer();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await peer.close();
});

/** A 200 with a To tag and a Contact pointing back at the peer. */
const ok = (req: Parameters<typeof createResponse>[0], toTag = 'uas1') =>
  createResponse(req, 200, undefined, { toTag, headers: { Contact: `<sip:uas@127.0.0.1:${peer.port}>` } });

describe('ACK for 2xx', () => {
  it('a retransmitted 2xx gets the same ACK again, during the transaction and after it ended', async () => {
    const c = newClient();
    const acks0 = peer.acks.length;
    const done = lastValueFrom(c.send<SipResponse>('INVITE', { uri: `sip:bob@127.0.0.1:${peer.port}` }));
    const inv = await peer.next();
    const res = ok(inv.req);
    inv.reply(res);
    expect((await done).status).toBe(200);
    await waitUntil(() => peer.acks.length === acks0 + 1, 2000, 'the first ACK');
    const first = peer.acks[acks0]!;
    expect(first.uri).toBe(`sip:uas@127.0.0.1:${peer.port}`); // sent to the Contact (remote target)
    expect(first.to.tag).toBe('uas1');
    expect(first.cseq).toEqual({ seq: inv.req.cseq.seq, method: 'ACK' });
    expect(first.topVia!.branch).not.toBe(inv.req.topVia!.branch); // a transaction of its own
    // Accepted state (Timer M = 64*T1 = 1.28 s): the 2xx again.
    inv.reply(res);
    await waitUntil(() => peer.acks.length === acks0 + 2, 2000, 'the second ACK');
    expect(peer.acks[acks0 + 1]!.topVia!.branch).toBe(first.topVia!.branch);
    // After the transaction ended: the 2xx reaches the client as a stray, and is ACKed the same way.
    await sleep(64 * 20 + 200);
    inv.reply(res);
    await waitUntil(() => peer.acks.length === acks0 + 3, 2000, 'the third ACK');
    expect(peer.acks[acks0 + 2]!.topVia!.branch).toBe(first.topVia!.branch);
    expect(peer.received.filter((r) => r.req.method === 'BYE')).toEqual([]);
  });

  it("a second fork's 2xx (another To tag) is ACKed and hung up with BYE", async () => {
    const c = newClient();
    const acks0 = peer.acks.length;
    const done = lastValueFrom(c.send<SipResponse>('INVITE', { uri: `sip:bob@127.0.0.1:${peer.port}` }));
    const inv = await peer.next();
    inv.reply(ok(inv.req, 'fork1'));
    expect((await done).to.tag).toBe('fork1');
    inv.reply(ok(inv.req, 'fork2'));
    const bye = await peer.next();
    expect(bye.req.method).toBe('BYE');
    expect(bye.req.to.tag).toBe('fork2');
    expect(bye.req.callId).toBe(inv.req.callId);
    expect(bye.req.cseq).toEqual({ seq: inv.req.cseq.seq + 1, method: 'BYE' });
    bye.reply(createResponse(bye.req, 200));
    await waitUntil(() => peer.acks.length === acks0 + 2, 2000, 'both ACKs');
    expect(peer.acks.slice(acks0).map((a) => a.to.tag).sort()).toEqual(['fork1', 'fork2']);
  });

  it("keepForks: a second fork's 2xx becomes a dialog of its own (ACKed, told as 'fork'); each fork's dialog hangs up alone", async () => {
    const c = newClient({ keepForks: true });
    const forks: string[] = [];
    c.on('fork', (d: { remoteTag: string }) => forks.push(d.remoteTag));
    const acks0 = peer.acks.length;
    const first = c.invite({ uri: `sip:bob@127.0.0.1:${peer.port}` });
    const inv = await peer.next();
    inv.reply(ok(inv.req, 'forkA'));
    const a = await first;
    const second = ok(inv.req, 'forkB');
    inv.reply(second);
    await waitUntil(() => forks.length === 1, 2000, 'the fork event');
    inv.reply(second); // its retransmission: ACKed again, no second event
    await waitUntil(() => peer.acks.length === acks0 + 3, 2000, 'three ACKs');
    expect(forks).toEqual(['forkB']);
    const b = c.dialogOf(second)!;
    expect([a.remoteTag, b.remoteTag, b.state]).toEqual(['forkA', 'forkB', 'confirmed']);
    expect(peer.received.filter((r) => r.req.method === 'BYE' && r.req.callId === inv.req.callId)).toEqual([]);
    const byeB = lastValueFrom(b.bye());
    const bye = await peer.next();
    expect([bye.req.method, bye.req.to.tag]).toEqual(['BYE', 'forkB']);
    bye.reply(createResponse(bye.req, 200));
    expect((await byeB).status).toBe(200);
    expect(a.state).toBe('confirmed');
  });

  it('autoAck: false: no ACK until ack(response); then retransmitted 2xx get that ACK again', async () => {
    const c = newClient({ autoAck: false });
    const acks0 = peer.acks.length;
    const res = lastValueFrom(c.send<SipResponse>('INVITE', { uri: `sip:bob@127.0.0.1:${peer.port}` }));
    const inv = await peer.next();
    const ok200 = ok(inv.req);
    inv.reply(ok200);
    const got = await res;
    inv.reply(ok200); // retransmitted before the caller ACKed: nothing is sent for it
    await sleep(100);
    expect(peer.acks.length).toBe(acks0);
    await c.ack(got, { body: 'v=0\r\n', contentType: 'application/sdp' });
    await waitUntil(() => peer.acks.length === acks0 + 1, 2000, "the caller's ACK");
    const ack = peer.acks[acks0]!;
    expect(ack.body.toString()).toBe('v=0\r\n');
    expect(ack.headers.get('content-type')).toBe('application/sdp');
    inv.reply(ok200);
    await waitUntil(() => peer.acks.length === acks0 + 2, 2000, 'the same ACK again');
    expect(peer.acks[acks0 + 1]!.topVia!.branch).toBe(ack.topVia!.branch);
    await expect(c.ack(got)).rejects.toThrow(/no INVITE/); // once only
  });
});
