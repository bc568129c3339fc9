// The RFC 4475 torture messages (test/fixtures/rfc4475, see INDEX.txt), each sent as one UDP
// datagram to a running SipServer: every request gets the code INDEX.txt names, responses get
// nothing, handlers only see what they should, and the server keeps serving.
//
// The application here is a small UA: OPTIONS, INVITE, REGISTER and MESSAGE handlers answering 200,
// with the checks a real UA / registrar makes itself (they are application decisions, not the
// transport's): INVITE bodies must be SDP (415 with Accept, RFC 3261 §21.4.13), an INVITE whose
// Accept excludes SDP gets 406, a registrar needs a SIP/SIPS To (400). Everything else comes from
// SipServer, the transaction layer or the codec.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipException, type SipRequest } from 'nestjs-sip';
import { sipRequest, sleep, startApp, UdpClient, waitUntil, type RunningApp } from './support.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/rfc4475/', import.meta.url));

const handled: { method: string; callId: string; req: SipRequest }[] = [];

@Controller()
class TortureUa {
  @MessagePattern('OPTIONS')
  options(@Payload() req: SipRequest) {
    handled.push({ method: req.method, callId: req.callId, req });
    return 200;
  }

  @MessagePattern('INVITE')
  invite(@Payload() req: SipRequest) {
    handled.push({ method: req.method, callId: req.callId, req });
    const ct = req.contentType?.toLowerCase();
    if (req.body.length > 0 && ct !== 'application/sdp') throw new SipException(415, undefined, { headers: { Accept: 'application/sdp' } });
    // Answers with SDP; a request whose Accept excludes it gets 406 from the framework (sdp01).
    return { status: 200, contentType: 'application/sdp', body: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n' };
  }

  @MessagePattern('REGISTER')
  register(@Payload() req: SipRequest) {
    handled.push({ method: req.method, callId: req.callId, req });
    if (!/^sips?:/i.test(req.to.uri)) throw new SipException(400, 'To must be a SIP or SIPS URI');
    return { status: 200, headers: { Contact: req.contacts.map((c) => `<${c.uri}>;expires=60`) } };
  }

  @MessagePattern('MESSAGE')
  message(@Payload() req: SipRequest) {
    handled.push({ method: req.method, callId: req.callId, req });
    return 200;
  }
}

@Module({ controllers: [TortureUa] })
class TortureModule {}

/** Expected first final response (null: no response at all), and why when it is not INDEX's first choice. */
interface Case {
  file: string;
  status: number | null;
  note?: string;
}

const CASES: Case[] = [
  // 3.1.1: valid, must be accepted (the handler answers)
  { file: 'valid/wsinv.dat', status: 200 },
  { file: 'valid/intmeth.dat', status: 405, note: 'unknown method, no handler: 405 with Allow (INDEX: 501/405)' },
  { file: 'valid/esc01.dat', status: 200 },
  { file: 'valid/escnull.dat', status: 200 },
  { file: 'valid/esc02.dat', status: 405, note: '"RE%47IST%45R" is not REGISTER: 405 (INDEX says 501; 405 lists what we do allow)' },
  { file: 'valid/lwsdisp.dat', status: 200 },
  { file: 'valid/longreq.dat', status: 200 },
  { file: 'valid/dblreq.dat', status: 200 },
  { file: 'valid/semiuri.dat', status: 200 },
  { file: 'valid/transports.dat', status: 200 },
  { file: 'valid/mpart01.dat', status: 200 },
  { file: 'valid/unreason.dat', status: null },
  { file: 'valid/noreason.dat', status: null },
  // 3.1.2: invalid
  { file: 'invalid/badinv01.dat', status: 400 },
  { file: 'invalid/clerr.dat', status: 400 },
  { file: 'invalid/ncl.dat', status: 400 },
  { file: 'invalid/scalar02.dat', status: 400 },
  { file: 'invalid/scalarlg.dat', status: null },
  { file: 'invalid/quotbal.dat', status: 400 },
  { file: 'invalid/ltgtruri.dat', status: 400 },
  { file: 'invalid/lwsruri.dat', status: 400 },
  { file: 'invalid/lwsstart.dat', status: 400 },
  { file: 'invalid/trws.dat', status: 400 },
  { file: 'invalid/escruri.dat', status: 400 },
  { file: 'invalid/baddate.dat', status: 200, note: 'the bad Date is ignored (one of the three choices INDEX allows); the INVITE is handled' },
  { file: 'invalid/regbadct.dat', status: 400 },
  { file: 'invalid/badaspec.dat', status: 400 },
  { file: 'invalid/baddn.dat', status: 400 },
  { file: 'invalid/badvers.dat', status: 505 },
  { file: 'invalid/mismatch01.dat', status: 400 },
  { file: 'invalid/mismatch02.dat', status: 501, note: 'INDEX: 501 preferred, 400 acceptable' },
  { file: 'invalid/bigcode.dat', status: null },
  // 3.2 - 3.4: semantics
  { file: 'semantic/badbranch.dat', status: 200, note: 'branch "z9hG4bK" alone: RFC 2543 matching is used instead of rejecting (allowed)' },
  { file: 'semantic/insuf.dat', status: 400, note: 'no Call-ID/From/To: a 400 copying Via and CSeq (SipEndpoint; see there)' },
  { file: 'semantic/unkscm.dat', status: 416 },
  { file: 'semantic/novelsc.dat', status: 416 },
  { file: 'semantic/unksm2.dat', status: 400, note: "the application's registrar rejects the isbn: To" },
  { file: 'semantic/bext01.dat', status: 420 },
  { file: 'semantic/invut.dat', status: 415, note: "the application's INVITE handler (415 with Accept)" },
  { file: 'semantic/regaut01.dat', status: 200, note: 'the registrar ignores the unknown Authorization scheme (allowed)' },
  { file: 'semantic/multi01.dat', status: 400 },
  { file: 'semantic/mcl01.dat', status: 400 },
  { file: 'semantic/bcast.dat', status: null },
  { file: 'semantic/zeromf.dat', status: 200, note: 'Max-Forwards 0 matters to proxies only; a UAS processes it' },
  { file: 'semantic/cparam01.dat', status: 200 },
  { file: 'semantic/cparam02.dat', status: 200 },
  { file: 'semantic/regescrt.dat', status: 200 },
  { file: 'semantic/sdp01.dat', status: 406, note: "the framework: the handler answers with SDP, which the request's Accept excludes (406, INDEX's first choice)" },
  { file: 'semantic/inv2543.dat', status: 200 },
  // no RFC section: must not crash. Without a SIP-Version it cannot be read as a request, so it is dropped
  // (INDEX: "rejecting with 400 is reasonable"; the codec cannot build a response to it).
  { file: 'extra/test.dat', status: null },
];

const SECOND_ROUND = ['semantic/cparam02.dat', 'semantic/regescrt.dat', 'semantic/novelsc.dat'];

describe('RFC 4475 torture messages over UDP', () => {
  let app: RunningApp;
  const results = new Map<string, { client: UdpClient; statuses: () => number[] }>();

  beforeAll(async () => {
    // Small T1: Timer J / H / L (64*T1) end every transaction of round 1 within 640 ms.
    // `unmatched: 'handler'`: wsinv is a re-INVITE (To tag) of no dialog; the handler still sees its views.
    app = await startApp(TortureModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], timers: { T1: 10 }, dialogs: { unmatched: 'handler' } });
    const finalOf = (file: string): number | undefined => results.get(file)!.statuses().find((s) => s >= 200);
    const round = async (cases: Case[]): Promise<void> => {
      // Every message from its own socket, all at once; then wait for the answers.
      await Promise.all(
        cases.map(async (c) => {
          const client = await UdpClient.open();
          results.set(c.file, { client, statuses: () => client.statuses });
          await client.send(readFileSync(FIXTURES + c.file), app.port('udp'));
        }),
      );
      const deadline = Date.now() + 5000;
      while (cases.some((c) => c.status !== null && finalOf(c.file) === undefined) && Date.now() < deadline) await sleep(10);
    };
    await round(CASES.filter((c) => !SECOND_ROUND.includes(c.file)));
    // Some archive files reuse another's branch and sent-by: cparam02 / cparam01, regescrt / escnull,
    // novelsc / unkscm. While the first one's transaction lives, RFC 3261 §17.2.3 makes the second a
    // retransmission of it (absorbed, answered to the first one's source). So they go in a second round.
    // Completed non-INVITE transactions live on as records until Timer J (64*T1, swept a little late).
    await waitUntil(() => app.server.transactions!.serverCount === 0 && app.server.transactions!.completedCount === 0, 5000, 'round 1 transactions to end');
    await round(CASES.filter((c) => SECOND_ROUND.includes(c.file)));
    await sleep(300); // time for anything unexpected (to the messages that must get nothing)
  });

  afterAll(async () => {
    await Promise.all([...results.values()].map((r) => r.client.close()));
    await app?.close();
  });

  it('covers all 50 files of the archive', () => {
    const index = readFileSync(FIXTURES + 'INDEX.txt', 'utf8')
      .split('\n')
      .filter((l) => l.includes('.dat |'));
    expect(index).toHaveLength(50);
    const byName = new Map(index.map((l) => [l.split(' | ')[0]!.trim(), l.split(' | ')[1]!.trim()]));
    expect(CASES.map((c) => c.file).sort()).toEqual([...byName].map(([n, d]) => `${d}/${n}`).sort());
  });

  it.each(CASES)('$file -> $status', (c) => {
    const got = results.get(c.file)!.statuses();
    if (c.status === null) {
      expect(got, 'a response must get no answer; an unparsable request is dropped').toEqual([]);
      return;
    }
    // Only provisional responses may come before the final one (100 Trying to an INVITE on a slow machine).
    const finals = got.filter((s) => s >= 200);
    expect(finals[0], `got ${JSON.stringify(got)}`).toBe(c.status);
    // A UDP final response is sent once (INVITE: repeated by Timer G / the 2xx schedule until ACK; same code).
    expect(new Set(finals).size).toBe(1);
  });

  it('405 lists the methods that have handlers; 420 lists every unsupported Require tag', () => {
    const r405 = results.get('valid/intmeth.dat')!.client.received.find((r) => !r.msg.isRequest());
    expect(r405!.msg.headers.getAll('allow').sort()).toEqual(['ACK', 'BYE', 'CANCEL', 'INVITE', 'MESSAGE', 'OPTIONS', 'REGISTER']);
    const r420 = results.get('semantic/bext01.dat')!.client.received.find((r) => !r.msg.isRequest());
    expect(r420!.msg.headers.getAll('unsupported')).toEqual(['nothingSupportsThis', 'nothingSupportsThisEither']);
    const r415 = results.get('semantic/invut.dat')!.client.received.find((r) => !r.msg.isRequest());
    expect(r415!.msg.headers.get('accept')).toBe('application/sdp');
  });

  it('handlers saw each accepted request once, and nothing of the rejected ones', () => {
    const callIdOf = (file: string): string => /^(?:Call-ID|i)\s*:\s*(.*?)\r?$/im.exec(readFileSync(FIXTURES + file, 'latin1'))![1]!;
    const count = (callId: string): number => handled.filter((h) => h.callId === callId).length;
    for (const c of CASES) {
      if (c.status === null || c.file === 'semantic/insuf.dat') continue;
      const reachesHandler = c.status === 200 || ['semantic/unksm2.dat', 'semantic/invut.dat', 'semantic/sdp01.dat'].includes(c.file);
      expect(count(callIdOf(c.file)), c.file).toBe(reachesHandler ? 1 : 0);
    }
    // dblreq: the REGISTER only; the INVITE-looking bytes after Content-Length 0 are ignored.
    expect(handled.filter((h) => h.callId.startsWith('dblreq')).map((h) => h.method)).toEqual(['REGISTER']);
    // esc02: RE%47IST%45R is not REGISTER.
    expect(handled.some((h) => h.callId.startsWith('esc02'))).toBe(false);
  });

  it('the codec views handlers get are right (contact params, multipart body, 2543 body without Content-Length)', async () => {
    const byCall = (prefix: string): SipRequest => handled.find((h) => h.callId.startsWith(prefix))!.req;
    const c1 = results.get('semantic/cparam01.dat')!.client.received.find((r) => !r.msg.isRequest())!.msg;
    const c2 = results.get('semantic/cparam02.dat')!.client.received.find((r) => !r.msg.isRequest())!.msg;
    // cparam01: ";unknownparam" is a Contact header param (addr-spec form): not part of the binding URI.
    expect(c1.headers.get('contact')).toBe('<sip:+19725552222@gw1.example.net>;expires=60');
    // cparam02: inside <>, it is a URI param and stays.
    expect(c2.headers.get('contact')).toBe('<sip:+19725552222@gw1.example.net;unknownparam>;expires=60');
    expect(byCall('3d9485ad0c49859b@').body.length).toBe(553);
    expect(byCall('inv2543').body.length).toBeGreaterThan(0);
    expect(byCall('wsinv').via).toHaveLength(3);
  });

  it('keeps serving afterwards: OPTIONS gets 200, and no transaction is left waiting for an answer', async () => {
    const c = await UdpClient.open();
    try {
      await c.send(sipRequest({ callId: 'after-torture', viaParams: ';rport' }), app.port('udp'));
      expect((await c.response('after-torture')).status).toBe(200);
    } finally {
      await c.close();
    }
    expect(app.server.transactions!.stats.pending).toBe(0);
  });
});
