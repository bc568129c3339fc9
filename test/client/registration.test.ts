// SipRegistration's rules on a manual clock, with a fake client that records each REGISTER and
// lets the test answer it: what the REGISTERs carry (RFC 3261 §10.2), when the binding is
// refreshed, 423 Interval Too Brief, RFC 5626 §4.5 back-off, a broken TCP/TLS flow, and the
// unregistration on stop(). The real registrar (Kamailio) is in test/interop/kamailio-auth.test.ts.
import { filter, firstValueFrom, Subject, type Observable } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
// The raw-registrar tests use the package as users do (its SipResponse is the dist build's).
import { createResponse as response, SipClient } from 'nestjs-sip';
import { createResponse, type SipRequest, type SipResponse } from '../../src/message/index.js';
import type { BuiltRequestOptions } from '../../src/nest/pending-request.js';
import { grantedExpiry, refreshAfter, registrationBackoff, SipRegistration, type RegistrationHost, type SipRegisterOptions, type SipRegistrationStatus } from '../../src/nest/sip-registration.js';
import { ManualClock, flushMicrotasks } from '../../src/transaction/clock.js';
import { rawStreamPeer, rawUdpPeer, waitUntil, type Received } from './support.js';

const CONTACT = '<sip:alice@192.0.2.1:5070>';

/** A client that records REGISTERs (writing its Contact into them as SipClient does) and answers when told. */
class FakeClient implements RegistrationHost {
  readonly sent: { req: SipRequest; o: BuiltRequestOptions; replies: Subject<SipResponse> }[] = [];
  /** Flows watched (stream transports); the test breaks the last one with `lost()`. */
  stream = false;
  watched = 0;
  released = 0;
  private onLost: (() => void) | undefined;
  ended = false;

  sendBuilt(req: SipRequest, o: BuiltRequestOptions): Observable<SipResponse> {
    if (!req.headers.has('contact')) req.headers.set('Contact', CONTACT);
    const replies = new Subject<SipResponse>();
    this.sent.push({ req, o, replies });
    return replies;
  }

  watchFlow(_res: SipResponse, onLost: () => void): (() => void) | undefined {
    if (!this.stream) return undefined;
    this.watched++;
    this.onLost = onLost;
    return () => {
      this.released++;
      this.onLost = undefined;
    };
  }

  registrationEnded(): void {
    this.ended = true;
  }

  get last(): SipRequest {
    return this.sent.at(-1)!.req;
  }

  answer(status: number, headers: Record<string, string> = {}): void {
    const last = this.sent.at(-1)!;
    last.replies.next(createResponse(last.req, status, undefined, { headers }));
    last.replies.complete();
  }

  fail(err: Error): void {
    this.sent.at(-1)!.replies.error(err);
  }

  lost(): void {
    this.onLost?.();
  }
}

function setup(o: Partial<SipRegisterOptions> = {}, random = () => 0.5) {
  const clock = new ManualClock();
  const client = new FakeClient();
  const reg = new SipRegistration(client, { aor: 'sip:alice@example.com', expires: 600, ...o }, clock, random);
  const seen: SipRegistrationStatus[] = [];
  reg.status$.subscribe((s) => seen.push(s));
  reg.start();
  return { clock, client, reg, seen };
}

const expiresOf = (req: SipRequest): string | undefined => req.headers.get('expires');

describe('SipRegistration', () => {
  it('REGISTER to the AOR domain: To and From the AOR, one Call-ID and From tag, CSeq + 1 each time; refreshed before expiry and registered throughout', () => {
    const { clock, client, reg, seen } = setup({ refreshMargin: 30 });
    const first = client.last;
    expect([first.method, first.uri, first.to.uri, first.from.uri, expiresOf(first)]).toEqual(['REGISTER', 'sip:example.com', 'sip:alice@example.com', 'sip:alice@example.com', '600']);
    expect(reg.state).toBe('registering');
    // The registrar grants 120 s to our Contact (another device's binding is listed too).
    client.answer(200, { Contact: `${CONTACT};expires=120, <sip:alice@198.51.100.7>;expires=3000` });
    expect([reg.state, reg.expires]).toEqual(['registered', 120]);
    clock.advance(89_999);
    expect(client.sent).toHaveLength(1);
    clock.advance(1); // 120 - 30
    expect(client.sent).toHaveLength(2);
    client.answer(200, { Contact: `${CONTACT};expires=120` });
    clock.advance(90_000);
    client.answer(200, { Contact: `${CONTACT};expires=20` }); // less this time: refreshed half-way
    clock.advance(10_000);
    expect(client.sent).toHaveLength(4);
    const reqs = client.sent.map((s) => s.req);
    expect(new Set(reqs.map((r) => r.callId)).size).toBe(1);
    expect(new Set(reqs.map((r) => r.from.tag)).size).toBe(1);
    expect(reqs.map((r) => r.cseq.seq - first.cseq.seq)).toEqual([0, 1, 2, 3]);
    expect(reqs.map((r) => r.headers.get('contact'))).toEqual([CONTACT, CONTACT, CONTACT, CONTACT]);
    expect(seen.map((s) => [s.state, s.expires])).toEqual([
      ['registering', undefined],
      ['registered', 120],
      ['registered', 20],
    ]);
  });

  it('a challenge answered by the client takes its CSeq from the registration: the next REGISTER counts on from it', () => {
    const { clock, client } = setup({ expires: 60 });
    const first = client.sent[0]!;
    expect(first.o.nextCSeq!()).toBe(first.req.cseq.seq + 1); // the client resent it, answering a 401
    client.answer(200, { Expires: '60' });
    clock.advance(30_000);
    expect(client.last.cseq.seq).toBe(first.req.cseq.seq + 2);
  });

  it('423 Interval Too Brief: asked again at once with Min-Expires; a 423 that asks nothing more is a failure', () => {
    const { client, reg } = setup({ expires: 30 });
    client.answer(423, { 'Min-Expires': '3600' });
    expect(client.sent).toHaveLength(2);
    expect(expiresOf(client.last)).toBe('3600');
    expect(client.last.cseq.seq).toBe(client.sent[0]!.req.cseq.seq + 1);
    client.answer(200, { Contact: `${CONTACT};expires=3600` });
    expect([reg.state, reg.expires]).toEqual(['registered', 3600]);

    const b = setup({ expires: 30 });
    b.client.answer(423, { 'Min-Expires': '20' });
    expect(b.client.sent).toHaveLength(1);
    expect(b.reg.state).toBe('failed');
    expect((b.reg.status.error as { status?: number }).status).toBe(423);
  });

  it('failures back off as RFC 5626 §4.5 says (wait min(max, base * 2^n), then 50-100% of it); a success starts over', () => {
    const { clock, client, reg, seen } = setup({ retry: { baseTime: 30, maxTime: 200 } }, () => 0); // 0: the 50% end
    client.answer(503);
    expect(reg.state).toBe('failed');
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = clock.now();
      const n = client.sent.length;
      while (client.sent.length === n) clock.advance(1000);
      waits.push((clock.now() - before) / 1000);
      expect(reg.state).toBe('registering');
      if (i < 3) client.fail(Object.assign(new Error('timeout'), { code: 'ERR_SIP_TIMEOUT' }));
    }
    // 30*2=60 -> 30; 120 -> 60; 240 capped at 200 -> 100; 200 -> 100.
    expect(waits).toEqual([30, 60, 100, 100]);
    client.answer(200, { Expires: '600' });
    expect(reg.state).toBe('registered');
    expect(seen.filter((s) => s.state === 'failed').map((s) => (s.error as Error).message)).toEqual(['503 Service Unavailable', 'timeout', 'timeout', 'timeout']);
    clock.advance(540_000);
    client.answer(500);
    const before = clock.now();
    while (client.sent.length === 6) clock.advance(1000);
    expect((clock.now() - before) / 1000).toBe(30); // the count started over
  });

  it('registrationBackoff: within 50-100% of min(max, base * 2^failures); base 30 when every flow failed, 90 otherwise', () => {
    for (let f = 1; f <= 12; f++) {
      for (const r of [0, 0.3, 0.999]) {
        const all = registrationBackoff(f, {}, () => r);
        const w = Math.min(1800, 30 * 2 ** f);
        expect(all).toBeGreaterThanOrEqual(w / 2);
        expect(all).toBeLessThanOrEqual(w);
        const some = registrationBackoff(f, { allFailed: false }, () => r);
        expect(some).toBeGreaterThanOrEqual(Math.min(1800, 90 * 2 ** f) / 2);
      }
    }
    expect([registrationBackoff(1, {}, () => 0), registrationBackoff(1, {}, () => 1), registrationBackoff(20, {}, () => 1)]).toEqual([30, 60, 1800]);
    expect([refreshAfter(3600, 60), refreshAfter(60, 60), refreshAfter(2, 60)]).toEqual([3540, 30, 1]);
  });

  it('the granted time: our Contact\'s expires, else the Expires header, else a lone Contact\'s, else what was asked; a 200 granting nothing is a failure', () => {
    const { client } = setup();
    const req = client.last;
    const res = (h: Record<string, string>) => createResponse(req, 200, undefined, { headers: h });
    expect(grantedExpiry(res({ Contact: '<sip:alice@192.0.2.1:5070;transport=udp>;expires=5' }), '<sip:alice@192.0.2.1:5070;transport=UDP>', 9)).toBe(5);
    expect(grantedExpiry(res({ Contact: '<sip:bob@192.0.2.9>;expires=5, <sip:carol@192.0.2.9>;expires=6', Expires: '7' }), CONTACT, 9)).toBe(7);
    expect(grantedExpiry(res({ Contact: '<sip:alice@10.0.0.1:5070>;expires=8' }), CONTACT, 9)).toBe(8);
    expect(grantedExpiry(res({}), CONTACT, 9)).toBe(9);
    const zero = setup();
    zero.client.answer(200, { Contact: `${CONTACT};expires=0` });
    expect(zero.reg.state).toBe('failed');
  });

  it('TCP/TLS: the flow of each 2xx is watched (the previous one released); when it breaks, REGISTER again at once', () => {
    const { clock, client, reg } = setup({ expires: 600 });
    client.stream = true;
    client.answer(200, { Expires: '600' });
    expect(client.watched).toBe(1);
    clock.advance(540_000);
    client.answer(200, { Expires: '600' });
    expect([client.watched, client.released]).toEqual([2, 1]);
    client.lost();
    expect(client.sent).toHaveLength(3);
    expect(reg.state).toBe('registering');
    client.answer(200, { Expires: '600' });
    expect(reg.state).toBe('registered');
    // The refresh timer of the old binding was replaced, not doubled.
    clock.advance(540_000);
    expect(client.sent).toHaveLength(4);
  });

  it('stop(): Expires: 0 for the same Contact, Call-ID, CSeq + 1; then unregistered, status$ completes, timers gone', async () => {
    const { clock, client, reg, seen } = setup();
    client.stream = true;
    client.answer(200, { Expires: '600' });
    let completed = false;
    reg.status$.subscribe({ complete: () => (completed = true) });
    const stopped = reg.stop();
    await flushMicrotasks();
    const un = client.last;
    expect([expiresOf(un), un.headers.get('contact'), un.callId, un.cseq.seq]).toEqual(['0', CONTACT, client.sent[0]!.req.callId, client.sent[0]!.req.cseq.seq + 1]);
    expect(client.released).toBe(1);
    expect(reg.state).toBe('registered');
    client.answer(200);
    await stopped;
    expect([reg.state, completed, client.ended, clock.pending]).toEqual(['unregistered', true, true, 0]);
    expect(seen.at(-1)!.state).toBe('unregistered');
    expect(reg.stop()).toBe(stopped);
  });

  it('stop() while a REGISTER is out waits for its answer (a 2xx is then removed); before any binding it sends nothing', async () => {
    const { client, reg } = setup();
    const stopped = reg.stop();
    await flushMicrotasks();
    expect(client.sent).toHaveLength(1);
    client.answer(200, { Expires: '600' });
    await flushMicrotasks();
    expect(client.sent).toHaveLength(2);
    expect(expiresOf(client.last)).toBe('0');
    client.fail(new Error('timeout')); // unreachable registrar: stopped all the same
    await stopped;
    expect(reg.state).toBe('unregistered');

    const never = setup();
    never.client.answer(403);
    await never.reg.stop();
    expect([never.client.sent.length, never.reg.state, never.clock.pending]).toEqual([1, 'unregistered', 0]);
  });

  it('refuses a malformed AOR or binding time', () => {
    const client = new FakeClient();
    expect(() => new SipRegistration(client, { aor: 'alice' })).toThrow();
    expect(() => new SipRegistration(client, { aor: 'tel:+123' })).toThrow(/sip: or sips:/);
    expect(() => new SipRegistration(client, { aor: 'sip:a@b', expires: 0 })).toThrow(RangeError);
    expect(() => new SipRegistration(client, { aor: 'sip:a@b', expires: 1.5 })).toThrow(RangeError);
    expect(new SipRegistration(client, { aor: 'sips:a@[2001:db8::1]:5071' }).callId).toMatch(/@\[2001:db8::1\]$/);
  });
});

describe('SipClient.register() against a raw registrar on loopback', () => {
  const clients: SipClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });
  const registered = (reg: { status$: Observable<SipRegistrationStatus> }) => firstValueFrom(reg.status$.pipe(filter((s) => s.state === 'registered')));
  const ok = (r: Received, expires: string) => r.reply(response(r.req, 200, undefined, { headers: { Contact: `${r.req.headers.get('contact')};expires=${expires}` } }));

  it('UDP: the 401 is answered, the binding granted; close() removes it (Expires: 0, the nonce reused) before the client closes', async () => {
    const peer = await rawUdpPeer();
    const client = new SipClient({ localHost: '127.0.0.1', auth: { username: 'alice', password: 'secret' } });
    clients.push(client);
    const reg = client.register({ aor: `sip:alice@127.0.0.1:${peer.port}`, expires: 300 });
    const r1 = await peer.next();
    r1.reply(response(r1.req, 401, undefined, { headers: { 'WWW-Authenticate': 'Digest realm="reg", nonce="n1", qop="auth", algorithm=SHA-256' } }));
    const r2 = await peer.next();
    expect(r2.req.headers.get('authorization')).toContain('algorithm=SHA-256');
    ok(r2, '300');
    expect(await registered(reg)).toEqual({ state: 'registered', expires: 300 });
    expect(r2.req.headers.get('contact')).toBe(`<sip:alice@127.0.0.1:${client.addresses[0]!.port}>`);
    const closing = client.close();
    const un = await peer.next();
    expect([un.req.headers.get('expires'), un.req.headers.get('contact'), un.req.callId, un.req.cseq.seq]).toEqual(['0', r2.req.headers.get('contact'), r1.req.callId, r2.req.cseq.seq + 1]);
    expect(un.req.headers.get('authorization')).toMatch(/nonce="n1".*nc=00000002/);
    un.reply(response(un.req, 200));
    await closing;
    expect(reg.state).toBe('unregistered');
    await peer.close();
  });

  it('TCP: when the registrar closes the connection, the client registers again at once over a new one', async () => {
    const peer = await rawStreamPeer();
    const client = new SipClient({ localHost: '127.0.0.1', transport: 'tcp' });
    clients.push(client);
    const reg = client.register({ aor: `sip:alice@127.0.0.1:${peer.port}`, expires: 300 });
    const r1 = await peer.next();
    ok(r1, '300');
    await registered(reg);
    const first = [...peer.sockets][0]!;
    const states: string[] = [];
    reg.status$.subscribe((s) => states.push(s.state));
    first.destroy();
    const r2 = await peer.next();
    expect(r2.remotePort).not.toBe(r1.remotePort);
    expect([r2.req.callId, r2.req.cseq.seq]).toEqual([r1.req.callId, r1.req.cseq.seq + 1]);
    ok(r2, '300');
    await waitUntil(() => states.at(-1) === 'registered', 2000, 'registered again');
    expect(states).toEqual(['registered', 'registering', 'registered']);
    const stopped = reg.stop();
    const un = await peer.next();
    expect([un.req.headers.get('expires'), un.remotePort]).toEqual(['0', r2.remotePort]);
    un.reply(response(un.req, 200));
    await stopped;
    await peer.close();
  });
});
