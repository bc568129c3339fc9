// SipServer behaviour over real sockets, checked with small raw UDP / TCP / TLS clients: what
// responses copy, rport/received, 100 Trying, 2xx retransmission until ACK, Observables, errors,
// handlers that never answer, TLS peer certificates.
import 'reflect-metadata';
import { Controller, Module, type LoggerService } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import * as net from 'node:net';
import { concat, delay, EMPTY, finalize, map, NEVER, of, timer } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipContext, SipException, SipResponse, SipServerTimeoutError, type SipRequest } from 'nestjs-sip';
import { makeTestPki, type TestPki } from '../transport/tls-certs.js';
import { sipRequest, sleep, StreamClient, UdpClient, uniq, waitUntil, type RunningApp } from './support.js';

/** What handlers observed, by Call-ID. */
const notes = new Map<string, Record<string, unknown>>();
const note = (req: SipRequest, data: Record<string, unknown>): void => {
  notes.set(req.callId, { ...notes.get(req.callId), ...data });
};
const calls = new Map<string, number>();
const count = (req: SipRequest): void => {
  calls.set(req.callId, (calls.get(req.callId) ?? 0) + 1);
};

/** Handlers pick their behaviour from the Request-URI user part. */
@Controller()
class Behaviours {
  @MessagePattern('OPTIONS')
  options(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    count(req);
    note(req, { proto: ctx.getFrom().proto, cert: ctx.getPeerCertificate()?.subject?.CN ?? null });
    return 200;
  }

  @MessagePattern('MESSAGE')
  async message(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    count(req);
    switch (req.requestUri.user) {
      case 'throw':
        throw new Error('handler bug');
      case 'never':
        ctx.signal.addEventListener('abort', () => note(req, { abort: ctx.signal.reason }));
        return NEVER;
      case 'empty':
        return EMPTY; // completes without any response
      case 'many':
        return of(183, 200, 486); // the first final wins
      case 'bad':
        return { nope: true }; // not a reply
      case 'slow':
        await sleep(120); // well inside serverNonInviteTimeout (300 ms)
        return 200;
      case 'built':
        return new SipResponse({ status: 202, reason: 'Taken', headers: { 'X-Built': 'yes' } }); // Via etc. filled in
      default:
        return { status: 200, headers: { 'X-Echo': req.headers.get('subject') ?? '' } };
    }
  }

  @MessagePattern('INVITE')
  async invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    count(req);
    switch (req.requestUri.user) {
      case 'slow':
        await sleep(500);
        return 200;
      case 'observable':
        return concat(of(180), of({ status: 200, body: 'v=0\r\n', contentType: 'application/sdp' }).pipe(delay(80)));
      case 'never':
        ctx.signal.addEventListener('abort', () => note(req, { abort: ctx.signal.reason }));
        return NEVER;
      case 'ringing':
        // 180 now, 200 in 5 s, unless torn down first (CANCEL).
        return concat(of(180), timer(5000).pipe(map(() => 200))).pipe(finalize(() => note(req, { tornDown: ctx.signal.aborted })));
      case 'unacked':
        void ctx.whenAcknowledged().then((ack) => note(req, { whenAcknowledged: ack === undefined ? 'never' : ack.method }));
        return 200;
      case 'asklater':
        // Asked long after the ACK came: still the ACK (not "never" at Timer L).
        setTimeout(() => void ctx.whenAcknowledged().then((ack) => note(req, { later: ack?.method ?? 'never', laterState: ctx.getTransaction().state })), 250);
        return 200;
      case 'busy':
        // Asked before a non-2xx answer: there will be no ACK for the application; settles with the answer.
        void ctx.whenAcknowledged().then((ack) => note(req, { busyAck: ack?.method ?? 'none', busyState: ctx.getTransaction().state }));
        throw new SipException(486);
      default:
        void ctx.whenAcknowledged().then((ack) => note(req, { whenAcknowledged: ack === undefined ? 'never' : ack.method }));
        return 200;
    }
  }

  @EventPattern('ACK')
  async ack(@Payload() req: SipRequest, @Ctx() ctx: unknown) {
    note(req, { ackEvent: (notes.get(req.callId)?.ackEvent as number | undefined ?? 0) + 1 });
    const own = await (ctx as SipContext).whenAcknowledged();
    note(req, { ackContextSees: own === req });
  }
}

@Module({ controllers: [Behaviours] })
class BehaviourModule {}

class CapturingLogger implements LoggerService {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  log(): void {}
  error(message: unknown, ...rest: unknown[]): void {
    this.errors.push([message, ...rest].map((m) => (m instanceof Error ? m.message : String(m))).join(' '));
  }
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

describe('SipServer behaviour over real sockets', () => {
  let app: RunningApp;
  let pki: TestPki;
  const logger = new CapturingLogger();
  let udp: UdpClient;
  let udpPort: number;

  beforeAll(async () => {
    pki = makeTestPki();
    const { NestFactory } = await import('@nestjs/core');
    const { SipServer } = await import('nestjs-sip');
    const server = new SipServer({
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
        { transport: 'tls', host: '127.0.0.1', port: 0, tls: { cert: pki.a.cert, key: pki.a.key, ca: pki.ca, verifyClient: -1 } },
      ],
      // Small timers: 2xx retransmissions every 20 ms doubling, Timer L = 64*T1 = 1.28 s; the application
      // timeouts under a second (the 'slow' INVITE handler takes 500 ms).
      timers: { T1: 20, serverNonInviteTimeout: 300, serverInviteTimeout: 900 },
      // Requests here carry To tags of no dialog (to test what the handler's answer keeps): let them through.
      dialogs: { unmatched: 'handler' },
      supported: ['timer'],
      serverHeader: 'nestjs-sip-test/1',
    });
    const nest = await NestFactory.createMicroservice(BehaviourModule, { strategy: server, logger });
    await nest.listen();
    app = {
      app: nest,
      server,
      port: (t) => server.addresses.find((a) => a.proto === t)!.port,
      close: () => nest.close(),
    };
    udp = await UdpClient.open();
    udpPort = app.port('udp');
  });

  afterAll(async () => {
    await udp?.close();
    await app?.close();
  });

  it('responses copy Via (all of them), From, To, Call-ID and CSeq, and add a To tag', async () => {
    const callId = `copy-${uniq()}`;
    const text = [
      'MESSAGE sip:copy@127.0.0.1 SIP/2.0',
      `Via: SIP/2.0/UDP 127.0.0.1:${udp.port};branch=z9hG4bKcopy${uniq()}`,
      'Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp1, SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKp0;received=192.0.2.9',
      'From: "Alice A." <sip:alice@example.com;transport=udp>;tag=abc;x=1',
      'To:  Bob <sip:bob@example.com>;x=2',
      `Call-ID: ${callId}`,
      'CSeq: 42 MESSAGE',
      'Max-Forwards: 70',
      'Subject: hello',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    await udp.send(text, udpPort);
    const res = await udp.response(callId);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-echo')).toBe('hello');
    const vias = res.headers.getAll('via');
    expect(vias).toEqual([
      `SIP/2.0/UDP 127.0.0.1:${udp.port};branch=${/branch=(\S+)/.exec(text)![1]}`,
      'SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp1',
      'SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKp0;received=192.0.2.9',
    ]);
    expect(res.headers.get('from')).toBe('"Alice A." <sip:alice@example.com;transport=udp>;tag=abc;x=1');
    expect(res.headers.get('to')).toMatch(/^Bob <sip:bob@example\.com>;x=2;tag=[^;]+$/);
    expect(res.headers.get('call-id')).toBe(callId);
    expect(res.headers.get('cseq')).toBe('42 MESSAGE');
    expect(res.headers.get('content-length')).toBe('0');
  });

  it('a To tag already in the request is kept; a SipResponse the handler built gets Via etc. filled in', async () => {
    const callId = `built-${uniq()}`;
    await udp.send(sipRequest({ method: 'MESSAGE', uri: 'sip:built@127.0.0.1', callId, toTag: 'dialog1', sentBy: `127.0.0.1:${udp.port}` }), udpPort);
    const res = await udp.response(callId);
    expect([res.status, res.reason, res.headers.get('x-built')]).toEqual([202, 'Taken', 'yes']);
    expect(res.to.tag).toBe('dialog1');
    expect(res.cseq).toEqual({ seq: 1, method: 'MESSAGE' });
    expect(res.topVia!.sentBy).toBe(`127.0.0.1:${udp.port}`);
  });

  it('rport: filled with the source port, received added, response sent there (RFC 3581)', async () => {
    const callId = `rport-${uniq()}`;
    // sent-by names a host and port nobody listens on; rport makes the answer come back to our socket.
    await udp.send(sipRequest({ callId, sentBy: '192.0.2.44:5999', viaParams: ';rport' }), udpPort);
    const got = await udp.until((r) => r.find((x) => !x.msg.isRequest() && x.msg.callId === callId));
    const via = got.msg.topVia!;
    expect(via.sentBy).toBe('192.0.2.44:5999');
    expect(via.received).toBe('127.0.0.1');
    expect(via.rport).toBe(udp.port);
    expect(got.msg.headers.get('via')).toMatch(/;rport=\d+;received=127\.0\.0\.1$|;received=127\.0\.0\.1;rport=\d+$/);
    expect(got.port).toBe(udpPort); // it came from the server's own socket
  });

  it('received is added when sent-by is not the source address; same host: Via untouched', async () => {
    const a = `recv-${uniq()}`;
    const b = `same-${uniq()}`;
    await udp.send(sipRequest({ callId: a, sentBy: 'client.example.com:5062' }), udpPort);
    await udp.send(sipRequest({ callId: b, sentBy: `127.0.0.1:${udp.port}` }), udpPort);
    const ra = await udp.response(a);
    const rb = await udp.response(b);
    expect(ra.topVia!.received).toBe('127.0.0.1');
    expect(ra.topVia!.rport).toBeUndefined();
    expect(rb.headers.get('via')).not.toMatch(/received|rport/);
  });

  it('100 Trying (no To tag) when the INVITE handler has not answered within 200 ms, then its 200', async () => {
    const callId = `slow-${uniq()}`;
    const sent = Date.now();
    await udp.send(sipRequest({ method: 'INVITE', uri: 'sip:slow@127.0.0.1', callId }), udpPort);
    const trying = await udp.until((r) => r.find((x) => !x.msg.isRequest() && x.msg.callId === callId), 3000, '100');
    expect((trying.msg as SipResponse).status).toBe(100);
    expect(trying.at - sent).toBeGreaterThanOrEqual(150); // never before the 200 ms timer
    expect(trying.msg.to.tag).toBeUndefined();
    const ok = await udp.status(callId, 200);
    expect(ok.to.tag).toBeTruthy();
    expect(calls.get(callId)).toBe(1);
  });

  it('a fast INVITE gets no 100 Trying', async () => {
    const callId = `fast-${uniq()}`;
    await udp.send(sipRequest({ method: 'INVITE', uri: 'sip:observable@127.0.0.1', callId }), udpPort);
    await udp.status(callId, 200);
    expect(udp.responses(callId).map((r) => r.status)).not.toContain(100);
  });

  it('2xx to INVITE is retransmitted over UDP until the ACK, which reaches @EventPattern(ACK) and ctx.whenAcknowledged()', async () => {
    const callId = `retx-${uniq()}`;
    const branch = `z9hG4bK${uniq()}`;
    await udp.send(sipRequest({ method: 'INVITE', uri: 'sip:ok@127.0.0.1', callId, branch, fromTag: 'ft' }), udpPort);
    const first = await udp.status(callId, 200);
    // T1 = 20 ms: retransmissions at +20, +60, +140... (RFC 3261 §13.3.1.4).
    await udp.until(() => udp.responses(callId).filter((r) => r.status === 200).length >= 3, 3000, '2xx retransmissions');
    const copies = udp.responses(callId).filter((r) => r.status === 200);
    for (const c of copies) expect(c.toBuffer().equals(first.toBuffer())).toBe(true);
    // ACK: a new branch, the 2xx's To tag (RFC 3261 §13.2.2.4).
    await udp.send(sipRequest({ method: 'ACK', uri: 'sip:ok@127.0.0.1', callId, fromTag: 'ft', toTag: first.to.tag!, sentBy: '127.0.0.1:9' }), udpPort);
    await waitUntil(() => notes.get(callId)?.whenAcknowledged === 'ACK', 2000, 'whenAcknowledged');
    expect(notes.get(callId)!.ackEvent).toBe(1);
    const after = udp.responses(callId).length;
    await sleep(300); // > 2 retransmission intervals
    expect(udp.responses(callId).length).toBe(after);
    expect(calls.get(callId)).toBe(1);
  });

  it('ctx.whenAcknowledged(): asked after the ACK came, or on the ACK event itself, it is the ACK', async () => {
    const callId = `later-${uniq()}`;
    await udp.send(sipRequest({ method: 'INVITE', uri: 'sip:asklater@127.0.0.1', callId, fromTag: 'fl' }), udpPort);
    const ok = await udp.status(callId, 200);
    await udp.send(sipRequest({ method: 'ACK', uri: 'sip:asklater@127.0.0.1', callId, fromTag: 'fl', toTag: ok.to.tag! }), udpPort);
    await waitUntil(() => notes.get(callId)?.later !== undefined, 3000, 'the late whenAcknowledged()');
    // Settled while the transaction still absorbs 2xx retransmissions (Accepted), not when it ended at Timer L.
    expect(notes.get(callId)).toMatchObject({ later: 'ACK', laterState: 'accepted', ackContextSees: true });
  });

  it('ctx.whenAcknowledged() for an INVITE answered non-2xx settles (undefined) with that answer', async () => {
    const callId = `busy-${uniq()}`;
    await udp.send(sipRequest({ method: 'INVITE', uri: 'sip:busy@127.0.0.1', callId }), udpPort);
    const res = await udp.status(callId, 486);
    await waitUntil(() => notes.get(callId)?.busyAck !== undefined, 3000, 'whenAcknowledged() to settle');
    // Settled with the 486 (Completed), not when the transaction ended (Timer H).
    expect(notes.get(callId)).toMatchObject({ busyAck: 'none', busyState: 'completed' });
    await udp.send(sipRequest({ method: 'ACK', uri: 'sip:busy@127.0.0.1', callId, toTag: res.to.tag!, branch: res.topVia!.branch! }), udpPort);
  });

  it('a non-2xx final to INVITE is retransmitted over UDP (Timer G) until the ACK, which the transaction absorbs', async () => {
    const callId = `g-${uniq()}`;
    const branch = `z9hG4bK${uniq()}`;
    await udp.send(sipRequest({ method: 'INVITE', uri: 'sip:busy@127.0.0.1', callId, branch, fromTag: 'fg' }), udpPort);
    await udp.until(() => udp.responses(callId).filter((r) => r.status === 486).length >= 3, 3000, '486 retransmissions');
    const first = udp.responses(callId)[0]!;
    for (const r of udp.responses(callId)) expect(r.toBuffer().equals(first.toBuffer())).toBe(true);
    // ACK for a non-2xx: the INVITE's branch and the 486's To tag (RFC 3261 §17.1.1.3).
    await udp.send(sipRequest({ method: 'ACK', uri: 'sip:busy@127.0.0.1', callId, branch, fromTag: 'fg', toTag: first.to.tag! }), udpPort);
    await sleep(100);
    const n = udp.responses(callId).length;
    await sleep(300);
    expect(udp.responses(callId).length).toBe(n);
    expect(notes.get(callId)?.ackEvent).toBeUndefined(); // absorbed, not an application event
    expect(calls.get(callId)).toBe(1);
  });

  it('a 2xx never acknowledged: retransmissions stop after 64*T1, the server logs it and emits unacked', async () => {
    const callId = `unacked-${uniq()}`;
    const unacked: string[] = [];
    app.server.on('unacked', (req: SipRequest) => unacked.push(req.callId));
    await udp.send(sipRequest({ method: 'INVITE', uri: 'sip:unacked@127.0.0.1', callId }), udpPort);
    await udp.status(callId, 200);
    await waitUntil(() => unacked.includes(callId), 5000, 'unacked event');
    expect(notes.get(callId)!.whenAcknowledged).toBe('never');
    expect(logger.warnings.some((w) => w.includes(callId) && /never acknowledged/.test(w))).toBe(true);
    const n = udp.responses(callId).length;
    expect(n).toBeGreaterThan(3);
    await sleep(300);
    expect(udp.responses(callId).length).toBe(n);
  });

  it('a handler returning an Observable: 180 then 200, same To tag', async () => {
    const callId = `obs-${uniq()}`;
    await udp.send(sipRequest({ method: 'INVITE', uri: 'sip:observable@127.0.0.1', callId }), udpPort);
    const ok = await udp.status(callId, 200);
    const statuses = udp.responses(callId).map((r) => r.status);
    expect(statuses.slice(0, 2)).toEqual([180, 200]);
    expect(udp.responses(callId)[0]!.to.tag).toBe(ok.to.tag);
    expect(ok.body.toString()).toBe('v=0\r\n');
    expect(ok.contentType).toBe('application/sdp');
  });

  it('an Observable with several finals: provisional first, then only the first final', async () => {
    const callId = `many-${uniq()}`;
    await udp.send(sipRequest({ method: 'MESSAGE', uri: 'sip:many@127.0.0.1', callId }), udpPort);
    await udp.status(callId, 200);
    await sleep(100);
    expect(udp.responses(callId).map((r) => r.status)).toEqual([183, 200]);
  });

  it('CANCEL: 200 to it, 487 to the INVITE, and the handler\'s Observable is torn down (not left running)', async () => {
    const callId = `ring-${uniq()}`;
    const branch = `z9hG4bK${uniq()}`;
    const invite = sipRequest({ method: 'INVITE', uri: 'sip:ringing@127.0.0.1', callId, branch, fromTag: 'fc' });
    await udp.send(invite, udpPort);
    await udp.status(callId, 180);
    await udp.send(sipRequest({ method: 'CANCEL', uri: 'sip:ringing@127.0.0.1', callId, branch, fromTag: 'fc' }), udpPort);
    const ok = await udp.until(() => udp.responses(callId).find((r) => r.cseq.method === 'CANCEL'), 2000, '200 to CANCEL');
    const r487 = await udp.status(callId, 487);
    expect(ok.status).toBe(200);
    expect(ok.to.tag).toBe(r487.to.tag); // the CANCEL's answer carries the INVITE's tag (RFC 3261 §9.2)
    await waitUntil(() => notes.get(callId)?.tornDown !== undefined, 2000, 'the handler stream to be torn down');
    expect(notes.get(callId)!.tornDown).toBe(true);
  });

  it('CANCEL matching nothing: 481', async () => {
    const callId = `nocancel-${uniq()}`;
    await udp.send(sipRequest({ method: 'CANCEL', uri: 'sip:x@127.0.0.1', callId }), udpPort);
    expect((await udp.response(callId)).status).toBe(481);
  });

  it('Require: a supported option tag passes, others get 420 listing them in Unsupported', async () => {
    const a = `req-ok-${uniq()}`;
    const b = `req-bad-${uniq()}`;
    await udp.send(sipRequest({ callId: a, headers: ['Require: timer'] }), udpPort);
    await udp.send(sipRequest({ callId: b, headers: ['Require: timer, 100rel', 'Require: gruu'] }), udpPort);
    expect((await udp.response(a)).status).toBe(200);
    const r = await udp.response(b);
    expect(r.status).toBe(420);
    expect(r.headers.getAll('unsupported')).toEqual(['100rel', 'gruu']);
    expect(calls.get(b)).toBeUndefined();
  });

  it('serverHeader: on every response, those of the transaction layer included', async () => {
    const ids = { handler: `sh-${uniq()}`, notAllowed: `sh405-${uniq()}`, noMatch: `sh481-${uniq()}`, trying: `sh100-${uniq()}` };
    await udp.send(sipRequest({ callId: ids.handler }), udpPort);
    await udp.send(sipRequest({ method: 'SUBSCRIBE', callId: ids.notAllowed }), udpPort);
    await udp.send(sipRequest({ method: 'CANCEL', callId: ids.noMatch }), udpPort);
    await udp.send(sipRequest({ method: 'INVITE', uri: 'sip:slow@127.0.0.1', callId: ids.trying }), udpPort);
    const got = [
      await udp.response(ids.handler),
      await udp.response(ids.notAllowed),
      await udp.response(ids.noMatch),
      await udp.status(ids.trying, 100),
      await udp.status(ids.trying, 200),
    ];
    expect(got.map((r) => r.status)).toEqual([200, 405, 481, 100, 200]);
    for (const r of got) expect(r.headers.getAll('server')).toEqual(['nestjs-sip-test/1']);
  });

  it('a handler that throws a plain Error: 500, and the error is logged', async () => {
    const callId = `throw-${uniq()}`;
    await udp.send(sipRequest({ method: 'MESSAGE', uri: 'sip:throw@127.0.0.1', callId }), udpPort);
    const res = await udp.response(callId);
    expect(res.status).toBe(500);
    expect(res.to.tag).toBeTruthy();
    expect(logger.errors.some((e) => e.includes('handler bug'))).toBe(true);
  });

  it('a handler that completes without a response, or returns something that is not a reply: 500', async () => {
    const a = `empty-${uniq()}`;
    const b = `bad-${uniq()}`;
    await udp.send(sipRequest({ method: 'MESSAGE', uri: 'sip:empty@127.0.0.1', callId: a }), udpPort);
    await udp.send(sipRequest({ method: 'MESSAGE', uri: 'sip:bad@127.0.0.1', callId: b }), udpPort);
    expect((await udp.response(a)).status).toBe(500);
    expect((await udp.response(b)).status).toBe(500);
    expect(logger.errors.some((e) => /without a final response/.test(e))).toBe(true);
    expect(logger.errors.some((e) => /invalid reply/.test(e))).toBe(true);
  });

  it('a non-INVITE handler that never answers: 500 after serverNonInviteTimeout, ctx.signal aborted', async () => {
    const callId = `never-${uniq()}`;
    const sent = Date.now();
    await udp.send(sipRequest({ method: 'MESSAGE', uri: 'sip:never@127.0.0.1', callId }), udpPort);
    const res = await udp.response(callId, 1, 3000);
    expect(res.status).toBe(500);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(250);
    const reason = notes.get(callId)?.abort;
    expect(reason).toBeInstanceOf(SipServerTimeoutError);
    expect((reason as SipServerTimeoutError).status).toBe(500);
  });

  it('an INVITE handler that never answers: 408 after serverInviteTimeout (100 Trying before), ctx.signal aborted', async () => {
    const callId = `never-inv-${uniq()}`;
    const sent = Date.now();
    await udp.send(sipRequest({ method: 'INVITE', uri: 'sip:never@127.0.0.1', callId }), udpPort);
    const res = await udp.status(callId, 408, 3000);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(850);
    expect(res.to.tag).toBeTruthy();
    expect(udp.responses(callId)[0]!.status).toBe(100);
    expect((notes.get(callId)?.abort as SipServerTimeoutError).status).toBe(408);
  });

  it('a request retransmitted while its handler works is absorbed; after the answer it gets the same answer', async () => {
    const callId = `dup-${uniq()}`;
    const text = sipRequest({ method: 'INVITE', uri: 'sip:slow@127.0.0.1', callId });
    await udp.send(text, udpPort);
    await sleep(50);
    await udp.send(text, udpPort); // before any response: answered with 100 Trying at once
    const trying = await udp.status(callId, 100);
    const ok = await udp.status(callId, 200);
    const n = udp.responses(callId).length;
    await udp.send(text, udpPort); // after the 2xx: the 2xx again
    await udp.until(() => udp.responses(callId).length > n, 2000, 'the 2xx again');
    expect(udp.responses(callId).slice(n).every((r) => r.toBuffer().equals(ok.toBuffer()))).toBe(true);
    expect(trying.status).toBe(100);
    expect(calls.get(callId)).toBe(1);
  });

  describe('TCP', () => {
    it('the response comes back on the connection the request came in on', async () => {
      const c = await StreamClient.connect(app.port('tcp'));
      try {
        const callId = `tcp-${uniq()}`;
        c.send(sipRequest({ callId, transport: 'TCP', sentBy: 'client.invalid:5060' }));
        const res = await c.response(callId);
        expect(res.status).toBe(200);
        expect(res.topVia!.received).toBe('127.0.0.1');
        expect(notes.get(callId)!.proto).toBe('tcp');
        // A second request on the same connection: no new connection was needed for the first answer.
        const callId2 = `tcp2-${uniq()}`;
        c.send(sipRequest({ callId: callId2, transport: 'TCP' }));
        expect((await c.response(callId2)).status).toBe(200);
        expect(app.server.unwrap<{ proto: string; connections: number }[]>().find((p) => p.proto === 'tcp')!.connections).toBe(1);
      } finally {
        c.close();
      }
    });

    it('the connection is gone before the answer: it goes to the Via sent-by on a new connection (RFC 3261 §18.2.2)', async () => {
      // A TCP listener standing for the client's SIP port, named in its Via.
      const accepted: StreamClient[] = [];
      const listener = net.createServer((s) => accepted.push(StreamClient.wrap(s)));
      await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
      const sentByPort = (listener.address() as net.AddressInfo).port;
      try {
        const c = await StreamClient.connect(app.port('tcp'));
        const callId = `gone-${uniq()}`;
        c.send(sipRequest({ method: 'MESSAGE', uri: 'sip:slow@127.0.0.1', callId, transport: 'TCP', sentBy: `127.0.0.1:${sentByPort}` }));
        await waitUntil(() => calls.get(callId) === 1, 2000, 'the handler to start');
        // Gone before the 120 ms handler answers. (RST: after a mere FIN the connection is only
        // half-closed, the peer may still read, and the answer is written into it.)
        c.reset();
        await waitUntil(() => accepted.length > 0, 3000, 'a connection to the sent-by port');
        const res = await accepted[0]!.response(callId);
        expect(res.status).toBe(200);
        expect(c.responses(callId)).toEqual([]);
      } finally {
        for (const a of accepted) a.close();
        await new Promise<void>((r) => listener.close(() => r()));
      }
    });

    it('a 2xx to INVITE is sent once over TCP (no retransmission on reliable transports)', async () => {
      const c = await StreamClient.connect(app.port('tcp'));
      try {
        const callId = `tcp-inv-${uniq()}`;
        c.send(sipRequest({ method: 'INVITE', uri: 'sip:ok@127.0.0.1', callId, transport: 'TCP' }));
        await c.status(callId, 200);
        await sleep(300);
        expect(c.responses(callId).map((r) => r.status)).toEqual([200]);
      } finally {
        c.close();
      }
    });
  });

  describe('TLS', () => {
    it('answers on the TLS connection; the handler sees the client certificate', async () => {
      const c = await StreamClient.connectTls(app.port('tls'), '127.0.0.1', { ca: pki.ca, cert: pki.b.cert, key: pki.b.key });
      try {
        const callId = `tls-${uniq()}`;
        c.send(sipRequest({ callId, transport: 'TLS' }));
        expect((await c.response(callId)).status).toBe(200);
        expect(notes.get(callId)).toMatchObject({ proto: 'tls', cert: 'b' });
      } finally {
        c.close();
      }
    });

    it('without a client certificate: still served (verifyClient -1), no certificate on the context', async () => {
      const c = await StreamClient.connectTls(app.port('tls'), '127.0.0.1', { ca: pki.ca });
      try {
        const callId = `tls-nocert-${uniq()}`;
        c.send(sipRequest({ callId, transport: 'TLS' }));
        expect((await c.response(callId)).status).toBe(200);
        expect(notes.get(callId)).toMatchObject({ proto: 'tls', cert: null });
      } finally {
        c.close();
      }
    });
  });
});
