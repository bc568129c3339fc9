// SipClient answers digest challenges by itself: against a raw UDP peer on loopback that plays the
// challenging server (it checks every credential the way a server would, from the password), so
// each test sees exactly what went on the wire: which algorithm, nonce, nc, CSeq and branch, how
// many requests, the ACK of a challenged INVITE, the CANCEL of the retried one, and in-dialog
// requests challenged in turn.
import { lastValueFrom, type Observable } from 'rxjs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeHa1, digestResponse } from '../../src/auth/index.js';
import { createResponse, parseAuthHeader, SipClient, SipResponseError, type SipClientOptions, type SipRequest, type SipResponse } from 'nestjs-sip';
import { rawUdpPeer, waitUntil, type RawPeer, type Received } from './support.js';

const REALM = 'auth.test';
const PASSWORD = 'secret';
const clients: SipClient[] = [];
let peer: RawPeer;

const newClient = (o: SipClientOptions = {}): SipClient => {
  const c = new SipClient({ localHost: '127.0.0.1', auth: { username: 'alice', password: PASSWORD }, ...o });
  clients.push(c);
  return c;
};

beforeEach(async () => {
  peer = await rawUdpPeer();
});
afterEach(async () => {
  await peer.close();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

let nonces = 0;

/** A 401 (or 407) challenging `req`: one header per algorithm, in the order given. */
function challenge(req: SipRequest, o: { status?: 401 | 407; algorithms?: string[]; stale?: boolean; nonce?: string; qop?: boolean } = {}): SipResponse {
  const status = o.status ?? 401;
  const nonce = o.nonce ?? `nonce-${++nonces}`;
  const values = (o.algorithms ?? ['MD5']).map(
    (alg) => `Digest realm="${REALM}", nonce="${nonce}", opaque="op-${nonce}"${o.qop === false ? '' : ', qop="auth"'}, algorithm=${alg}${o.stale === true ? ', stale=true' : ''}`,
  );
  return createResponse(req, status, undefined, { headers: values.map((v) => [status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate', v] as [string, string]) });
}

/** The credentials in `req`, checked as a server would; undefined when it carries none. */
function credentials(req: SipRequest, header = 'authorization', password = PASSWORD): { ok: boolean; p: Map<string, string> } | undefined {
  const value = req.headers.get(header);
  if (value === undefined) return undefined;
  const p = parseAuthHeader(value).params;
  const alg = (p.get('algorithm') ?? 'MD5') as 'MD5' | 'SHA-256' | 'SHA-512-256';
  const ha1 = computeHa1(alg, p.get('username')!, p.get('realm')!, password);
  const expected = digestResponse({ algorithm: alg, ha1, nonce: p.get('nonce')!, method: req.method, uri: p.get('uri')!, qop: p.get('qop'), nc: p.get('nc'), cnonce: p.get('cnonce') });
  return { ok: expected === p.get('response') && p.get('uri') === req.uri && p.get('opaque') === `op-${p.get('nonce')}`, p };
}

const result = (o: Observable<unknown>): Promise<SipResponse | SipResponseError> =>
  lastValueFrom(o).then(
    (r) => r as SipResponse,
    (e: unknown) => (e instanceof SipResponseError ? e : Promise.reject(e as Error)),
  );

describe('SipClient answers 401/407 with the credentials of its options', () => {
  it('a 401 is answered once, with the strongest algorithm offered: new branch, CSeq + 1, same Call-ID and From tag; the 200 is the result', async () => {
    const c = newClient();
    const done = result(c.send('OPTIONS', { uri: `sip:127.0.0.1:${peer.port}` }));
    const first = await peer.next();
    expect(credentials(first.req)).toBeUndefined();
    first.reply(challenge(first.req, { algorithms: ['MD5', 'SHA-256', 'SHA-512-256'] }));
    const second = await peer.next();
    const cred = credentials(second.req)!;
    expect(cred.ok).toBe(true);
    expect(cred.p.get('algorithm')).toBe('SHA-512-256');
    expect([cred.p.get('username'), cred.p.get('realm'), cred.p.get('qop'), cred.p.get('nc')]).toEqual(['alice', REALM, 'auth', '00000001']);
    expect(second.req.topVia!.branch).not.toBe(first.req.topVia!.branch);
    expect(second.req.cseq.seq).toBe(first.req.cseq.seq + 1);
    expect([second.req.callId, second.req.from.tag, second.req.to.tag]).toEqual([first.req.callId, first.req.from.tag, undefined]);
    second.reply(createResponse(second.req, 200));
    const res = await done;
    expect((res as SipResponse).status).toBe(200);
    expect(peer.received).toHaveLength(2);
  });

  it('the nonce goes along with the next request from the same From to the same place (nc 2, no new challenge); another From gets none', async () => {
    const c = newClient({ from: '<sip:alice@127.0.0.1>' });
    const uri = `sip:127.0.0.1:${peer.port}`;
    const a = result(c.send('OPTIONS', { uri }));
    const r1 = await peer.next();
    r1.reply(challenge(r1.req, { algorithms: ['SHA-256'] }));
    const r2 = await peer.next();
    r2.reply(createResponse(r2.req, 200));
    await a;
    const b = result(c.send('MESSAGE', { uri: `sip:bob@127.0.0.1:${peer.port}`, body: 'hi', headers: { 'Content-Type': 'text/plain' } }));
    const r3 = await peer.next();
    const cred = credentials(r3.req)!;
    expect(cred.ok).toBe(true);
    expect([cred.p.get('nonce'), cred.p.get('nc'), cred.p.get('algorithm')]).toEqual([credentials(r2.req)!.p.get('nonce'), '00000002', 'SHA-256']);
    expect(cred.p.get('cnonce')).not.toBe(credentials(r2.req)!.p.get('cnonce'));
    r3.reply(createResponse(r3.req, 200));
    expect(((await b) as SipResponse).status).toBe(200);
    const other = result(c.send('OPTIONS', { uri, headers: { From: '<sip:carol@127.0.0.1>' } }));
    const r4 = await peer.next();
    expect(credentials(r4.req)).toBeUndefined();
    r4.reply(createResponse(r4.req, 200));
    await other;
  });

  it('stale=true: answered once more with the new nonce; stale again is the result (three requests, no loop)', async () => {
    const c = newClient();
    const done = result(c.send('OPTIONS', { uri: `sip:127.0.0.1:${peer.port}` }));
    const r1 = await peer.next();
    r1.reply(challenge(r1.req));
    const r2 = await peer.next();
    expect(credentials(r2.req)!.ok).toBe(true);
    r2.reply(challenge(r2.req, { stale: true, nonce: 'fresh' }));
    const r3 = await peer.next();
    const cred = credentials(r3.req)!;
    expect([cred.ok, cred.p.get('nonce'), cred.p.get('nc')]).toEqual([true, 'fresh', '00000001']);
    expect(r3.req.cseq.seq).toBe(r1.req.cseq.seq + 2);
    r3.reply(challenge(r3.req, { stale: true }));
    const res = await done;
    expect(res).toBeInstanceOf(SipResponseError);
    expect((res as SipResponseError).status).toBe(401);
    await expect(peer.next(300)).rejects.toThrow(/no request/);
    expect(peer.received).toHaveLength(3);
  });

  it('a wrong password: exactly one retry, then the 401 is the SipResponseError', async () => {
    const c = newClient({ auth: { username: 'alice', password: 'wrong' } });
    const done = result(c.send('REGISTER', { uri: `sip:127.0.0.1:${peer.port}`, headers: { To: '<sip:alice@127.0.0.1>', From: '<sip:alice@127.0.0.1>' } }));
    const r1 = await peer.next();
    r1.reply(challenge(r1.req, { algorithms: ['SHA-256', 'MD5'] }));
    const r2 = await peer.next();
    expect(credentials(r2.req)!.ok).toBe(false);
    r2.reply(challenge(r2.req, { algorithms: ['SHA-256', 'MD5'] }));
    const res = await done;
    expect((res as SipResponseError).status).toBe(401);
    expect((res as SipResponseError).request!.cseq.seq).toBe(r2.req.cseq.seq);
    await expect(peer.next(300)).rejects.toThrow(/no request/);
  });

  it('a credential lookup gets the realm and the request (async is fine); undefined leaves the 401 as the result', async () => {
    const asked: [string, string][] = [];
    const c = newClient({
      auth: async (realm, req) => {
        asked.push([realm, req.method]);
        await new Promise((r) => setTimeout(r, 5));
        return req.method === 'OPTIONS' ? { username: 'alice', ha1: computeHa1('MD5', 'alice', realm, PASSWORD) } : undefined;
      },
    });
    const ok = result(c.send('OPTIONS', { uri: `sip:127.0.0.1:${peer.port}` }));
    const r1 = await peer.next();
    r1.reply(challenge(r1.req, { algorithms: ['SHA-256', 'MD5'] }));
    const r2 = await peer.next();
    const cred = credentials(r2.req)!;
    expect([cred.ok, cred.p.get('algorithm')]).toEqual([true, 'MD5']); // an MD5 HA1 answers the MD5 challenge
    r2.reply(createResponse(r2.req, 200));
    await ok;
    const refused = result(c.send('INFO', { uri: `sip:someone@127.0.0.1:${peer.port}` }));
    const r3 = await peer.next();
    r3.reply(challenge(r3.req));
    expect(((await refused) as SipResponseError).status).toBe(401);
    expect(asked).toEqual([
      [REALM, 'OPTIONS'],
      [REALM, 'INFO'],
    ]);
  });

  it('a client without credentials takes the 401 as the result', async () => {
    const c = newClient({ auth: undefined });
    const done = result(c.send('OPTIONS', { uri: `sip:127.0.0.1:${peer.port}` }));
    const r1 = await peer.next();
    r1.reply(challenge(r1.req));
    expect(((await done) as SipResponseError).status).toBe(401);
    await expect(peer.next(300)).rejects.toThrow(/no request/);
  });
});

describe('INVITE and dialogs', () => {
  const answer200 = (r: Received): void =>
    r.reply(createResponse(r.req, 200, undefined, { headers: { Contact: `<sip:bob@127.0.0.1:${peer.port}>` }, toTag: 'uas-tag' }));

  it('a 407 to INVITE is ACKed by the transaction; the retry (CSeq + 1, Proxy-Authorization) rings, and unsubscribing CANCELs the retried INVITE', async () => {
    const c = newClient();
    const statuses: number[] = [];
    let errored: unknown;
    const sub = c.send<SipResponse>('INVITE', { uri: `sip:bob@127.0.0.1:${peer.port}` }).subscribe({ next: (r) => statuses.push(r.status), error: (e: unknown) => (errored = e) });
    const r1 = await peer.next();
    r1.reply(challenge(r1.req, { status: 407 }));
    const r2 = await peer.next();
    expect(r2.req.method).toBe('INVITE');
    expect(credentials(r2.req, 'proxy-authorization')!.ok).toBe(true);
    expect(r2.req.cseq.seq).toBe(r1.req.cseq.seq + 1);
    await waitUntil(() => peer.acks.length === 1, 2000, 'the ACK of the 407');
    expect([peer.acks[0]!.cseq.seq, peer.acks[0]!.topVia!.branch]).toEqual([r1.req.cseq.seq, r1.req.topVia!.branch]);
    r2.reply(createResponse(r2.req, 180, undefined, { toTag: 'uas-tag' }));
    await waitUntil(() => statuses.includes(180), 2000, 'the 180');
    sub.unsubscribe();
    const cancel = await peer.next();
    expect(cancel.req.method).toBe('CANCEL');
    expect([cancel.req.cseq.seq, cancel.req.topVia!.branch]).toEqual([r2.req.cseq.seq, r2.req.topVia!.branch]);
    cancel.reply(createResponse(cancel.req, 200));
    r2.reply(createResponse(r2.req, 487, undefined, { toTag: 'uas-tag' }));
    await waitUntil(() => peer.acks.length === 2, 2000, 'the ACK of the 487');
    expect(peer.acks[1]!.cseq.seq).toBe(r2.req.cseq.seq);
    expect(errored).toBeUndefined();
    expect(statuses).toEqual([180]);
  });

  it("challenged in-dialog requests: BYE and re-INVITE are answered with the dialog's next CSeq, the re-INVITE's ACK carries its CSeq, and the dialog counts on from there", async () => {
    const c = newClient();
    const calling = c.invite({ uri: `sip:bob@127.0.0.1:${peer.port}` });
    const inv = await peer.next();
    inv.reply(challenge(inv.req, { status: 407 }));
    const inv2 = await peer.next();
    answer200(inv2);
    const dialog = await calling;
    expect(dialog.localCSeq).toBe(inv2.req.cseq.seq);
    await waitUntil(() => peer.acks.some((a) => a.cseq.seq === inv2.req.cseq.seq), 2000, 'the ACK of the 200');

    // The proxy nonce of the INVITE goes along (Proxy-Authorization, nc 2); the UAS challenges with 401 anyway.
    const reinvite = lastValueFrom(dialog.reinvite({ body: 'v=0\r\n', contentType: 'application/sdp' }));
    const re1 = await peer.next();
    expect(credentials(re1.req, 'proxy-authorization')?.p.get('nc')).toBe('00000002');
    re1.reply(challenge(re1.req, { status: 401 }));
    const re2 = await peer.next();
    expect(credentials(re2.req)!.ok).toBe(true);
    expect(re2.req.cseq.seq).toBe(re1.req.cseq.seq + 1);
    answer200(re2);
    expect((await reinvite).status).toBe(200);
    await waitUntil(() => peer.acks.some((a) => a.cseq.seq === re2.req.cseq.seq && a.to.tag === 'uas-tag'), 2000, 'the ACK of the re-INVITE, with its CSeq');
    // Both ACKs carry the credentials of the INVITE they acknowledge (RFC 3261 §13.2.2.4).
    const ackOf = (r: Received) => peer.acks.find((a) => a.cseq.seq === r.req.cseq.seq)!;
    expect(ackOf(inv2).headers.get('proxy-authorization')).toBe(inv2.req.headers.get('proxy-authorization'));
    expect([ackOf(re2).headers.get('authorization'), ackOf(re2).headers.get('proxy-authorization')]).toEqual([re2.req.headers.get('authorization'), re2.req.headers.get('proxy-authorization')]);
    expect(dialog.localCSeq).toBe(re2.req.cseq.seq);

    const bye = lastValueFrom(dialog.bye());
    const b1 = await peer.next();
    expect(b1.req.cseq.seq).toBe(re2.req.cseq.seq + 1);
    b1.reply(challenge(b1.req, { status: 401, stale: true }));
    const b2 = await peer.next();
    expect([b2.req.method, b2.req.cseq.seq, credentials(b2.req)!.ok]).toEqual(['BYE', b1.req.cseq.seq + 1, true]);
    b2.reply(createResponse(b2.req, 200));
    expect((await bye).status).toBe(200);
    expect(dialog.localCSeq).toBe(b2.req.cseq.seq);
    expect(dialog.state).toBe('terminated');
  });
});
