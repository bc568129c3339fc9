// A real SIP proxy between real SIP software and our code: Kamailio (test/helpers/kamailio.ts
// generates its config; it listens on a random high port on 127.0.0.1 and ::1, UDP and TCP) in
// front of an in-process SipServer and behind our SipClient, with sipp at the other end.
//
//   sipp UAC  -> Kamailio (record_route, t_relay) -> SipServer   OPTIONS; INVITE/180/200/ACK/BYE; CANCEL
//   SipClient -> Kamailio (outbound proxy: Route) -> sipp UAS    OPTIONS; INVITE/180/200/ACK; CANCEL
//   SipClient -> Kamailio, answered by Kamailio itself (sl_send_reply): 404 (and its ACK), 483
//
// "Really went through Kamailio" is checked on both sides: the handler sees Kamailio's Via on top
// of sipp's, and Kamailio's own log (its `KTEST` xlog lines) shows it received and relayed (or
// loose-routed) each request of the Call-ID. In-dialog requests (ACK, BYE) follow the Record-Route
// set: they reach the proxy with a Route header, which it consumes (the handler sees none).
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { lastValueFrom, of, toArray } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SipCancelledError, SipClient, SipContext, SipResponseError, type SipRequest, type SipResponse } from 'nestjs-sip';
import { sippOk, startUas } from '../client/support.js';
import { startKamailio, UNSERVED_DOMAIN, type Kamailio } from '../helpers/kamailio.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp, type SippResult } from '../helpers/sipp.js';
import { sleep, startApp, type RunningApp } from '../server/support.js';

const kamailio = peerTool('kamailio');
const sipp = peerTool('sipp');

it('kamailio is installed (required in CI)', () => {
  if (inCI()) expect(kamailio.available, 'kamailio must be installed in CI (apt-get install kamailio)').toBe(true);
  else if (!kamailio.available) console.warn('kamailio missing: the Kamailio interop tests were SKIPPED');
});

/** What a handler saw of one request. */
interface Seen {
  method: string;
  callId: string;
  /** Every Via, top first, as "TRANSPORT sent-by". */
  vias: string[];
  recordRoute: string[];
  route: string[];
  fromTag: string | undefined;
  proto: string;
  family: number;
  fromPort: number;
  /** INVITE to 'cancel': how the cancellation reached the handler. */
  note?: string;
}
const seen: Seen[] = [];

/** Ports of the SipServer's legs, for the Contact the handlers put in their 2xx (RFC 3261 §12.1.1). */
const legs = new Map<string, number>();

function record(req: SipRequest, ctx: SipContext, note?: string): void {
  const from = ctx.getFrom();
  seen.push({
    method: req.method,
    callId: req.callId,
    vias: req.via.map((v) => `${v.transport} ${v.sentBy}`),
    recordRoute: req.headers.getAll('record-route'),
    route: req.headers.getAll('route'),
    fromTag: req.from.tag,
    proto: from.proto,
    family: from.family,
    fromPort: from.port,
    note,
  });
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

@Controller()
class Handlers {
  @MessagePattern('OPTIONS')
  options(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    record(req, ctx);
    return { status: 200, headers: { Allow: 'INVITE, ACK, BYE, OPTIONS' } };
  }

  @MessagePattern('INVITE')
  async invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    if (req.requestUri.user === 'cancel') {
      // Rings until cancelled: the CANCEL is Kamailio's own (its branch toward us), not sipp's.
      await ctx.sendProvisional(180);
      const reason = await new Promise<unknown>((resolve) => {
        if (ctx.signal.aborted) resolve(ctx.signal.reason);
        ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason), { once: true });
        setTimeout(() => resolve('no-abort'), 5000).unref();
      });
      await sleep(0);
      record(req, ctx, `abort=${reason instanceof SipCancelledError ? 'SipCancelledError' : String(reason)} final=${ctx.getTransaction().lastResponse?.status}`);
      return 200; // too late: the transaction already answered 487
    }
    record(req, ctx);
    const { proto, family } = ctx.getFrom();
    const host = family === 6 ? '[::1]' : '127.0.0.1';
    const contact = `<sip:${req.requestUri.user ?? 'svc'}@${host}:${legs.get(`${proto}${family}`)};transport=${proto}>`;
    return of(180, { status: 200, headers: { Contact: contact }, body: SDP, contentType: 'application/sdp' });
  }

  @EventPattern('ACK')
  ack(@Payload() req: SipRequest, @Ctx() ctx: unknown) {
    record(req, ctx as SipContext);
  }

  @MessagePattern('BYE')
  bye(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    record(req, ctx);
    return 200;
  }
}

@Module({ controllers: [Handlers] })
class AppModule {}

type Leg = 'udp' | 'tcp';

/**
 * The distinct steps of one kind in a Kamailio trace (see test/helpers/kamailio.ts), in order:
 * the method for requests ('relay', 'loose-routed', ...), "status method" for 'reply'. Distinct, so
 * that a retransmission (which Kamailio logs again) does not change them.
 */
function steps(trace: string[], kind: 'request' | 'relay' | 'loose-routed' | 'reply' | 'unserved' | 'absorbed'): string[] {
  const out: string[] = [];
  for (const line of trace) {
    if (!line.startsWith(`${kind} `)) continue;
    const w = line.split(' ');
    const step = kind === 'reply' ? `${w[1]} ${w[2]}` : w[1]!;
    if (!out.includes(step)) out.push(step);
  }
  return out;
}

describe.skipIf(!kamailio.available || !sipp.available)(`Kamailio (${kamailio.version ?? 'missing'}) as the proxy`, () => {
  let k: Kamailio | undefined;
  let app: RunningApp | undefined;
  const clients: SipClient[] = [];
  let run = 0;

  beforeAll(async () => {
    k = await startKamailio();
    app = await startApp(AppModule, {
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
        ...(k.ipv6
          ? [
              { transport: 'udp' as const, host: '::1', port: 0 },
              { transport: 'tcp' as const, host: '::1', port: 0 },
            ]
          : []),
      ],
      timers: { T1: 100 },
    });
    for (const leg of ['udp', 'tcp'] as const) {
      legs.set(`${leg}4`, app.port(leg));
      if (k.ipv6) legs.set(`${leg}6`, app.port(leg, 6));
    }
  });

  afterAll(async () => {
    try {
      killAllSipp();
      await Promise.all(clients.map((c) => c.close()));
      await app?.close();
    } finally {
      await k?.stop(); // even when closing the rest failed
    }
  });

  // Kamailio's log explains most failures: print it with the failed test.
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => console.error(`--- Kamailio log (port ${k?.port}, running: ${k?.running()}) ---\n${k?.log().slice(-8000)}`));
  });

  const newClient = (): SipClient => {
    const c = new SipClient({ localHost: '127.0.0.1', timers: { T1: 100 } });
    clients.push(c);
    return c;
  };

  function expectSipp(r: SippResult, calls: number): void {
    const why = `sipp exit ${r.code}\n${r.errors}\n${r.stderr}\n${r.stdout.slice(-1500)}`;
    expect(r.code, why).toBe(0);
    expect(r.successful, why).toBe(calls);
    expect(r.failed, why).toBe(0);
  }

  /** sipp as UAC over `leg`, sending to Kamailio; the Request-URI names the SipServer's `serverLeg` behind it. */
  async function sippThroughKamailio(leg: Leg, scenario: string, service: string, calls: number, family: 4 | 6 = 4, serverLeg: Leg = leg): Promise<{ r: SippResult; prefix: string }> {
    const prefix = `k${++run}-${leg}${family}-${service}-`;
    const server = family === 6 ? `[::1]:${app!.port(serverLeg, 6)}` : `127.0.0.1:${app!.port(serverLeg)}`;
    const r = await runSipp({
      scenario,
      target: family === 6 ? `[::1]:${k!.port}` : `127.0.0.1:${k!.port}`,
      transport: leg === 'udp' ? 'u1' : 't1',
      local: family === 6 ? '::1' : '127.0.0.1',
      calls,
      rate: 50,
      timeout: 10,
      keys: { server, proto: serverLeg },
      args: ['-s', service, '-cid_str', `${prefix}%u-%p@%s`],
    });
    return { r, prefix };
  }

  const mine = (prefix: string, method?: string): Seen[] => seen.filter((s) => s.callId.startsWith(prefix) && (method === undefined || s.method === method));

  /**
   * What a request relayed by Kamailio looks like to the handler: Kamailio's Via (`leg`, the hop to
   * us) on top of sipp's (`sippLeg`), sent from Kamailio.
   */
  function expectViaKamailio(s: Seen, leg: Leg, family: 4 | 6, sippLeg: Leg = leg): void {
    const host = family === 6 ? '[::1]' : '127.0.0.1';
    expect(s.vias, `${s.method} ${s.callId}`).toHaveLength(2);
    expect(s.vias[0]).toBe(`${leg.toUpperCase()} ${host}:${k!.port}`);
    expect(s.vias[1]).toMatch(new RegExp(`^${sippLeg.toUpperCase()} ${host.replace(/[[\]]/g, '\\$&')}:\\d+$`));
    expect(s.vias[1]).not.toBe(s.vias[0]);
    expect([s.proto, s.family]).toEqual([leg, family]);
    // Over UDP Kamailio sends from its listening socket; over TCP from a connection of its own.
    if (leg === 'udp') expect(s.fromPort).toBe(k!.port);
    expect(s.route, 'Kamailio consumes the Route that points at it').toEqual([]);
  }

  describe.each(['udp', 'tcp'] as const)('sipp -> Kamailio -> SipServer over %s', (leg) => {
    it('OPTIONS: relayed statefully, answered 200 by the handler', async () => {
      const { r, prefix } = await sippThroughKamailio(leg, 'kamailio-options.xml', 'opt', 2);
      expectSipp(r, 2);
      const got = mine(prefix, 'OPTIONS');
      expect(got).toHaveLength(2);
      for (const s of got) {
        expectViaKamailio(s, leg, 4);
        expect(s.recordRoute).toEqual([]); // the proxy record-routes INVITE only
        const trace = await k!.waitTrace(s.callId, 'reply 200 OPTIONS');
        expect(trace[0]).toMatch(new RegExp(`^request OPTIONS sip:opt@127\\.0\\.0\\.1:${app!.port(leg)};transport=${leg} from ${leg}:127\\.0\\.0\\.1:\\d+ `));
        expect(steps(trace, 'relay')).toEqual(['OPTIONS']);
        expect(steps(trace, 'reply')).toEqual(['200 OPTIONS']);
      }
    });

    it('a call: INVITE record-routed; ACK and BYE follow the route set through Kamailio', async () => {
      const { r, prefix } = await sippThroughKamailio(leg, 'kamailio-call.xml', 'bob', 2);
      expectSipp(r, 2);
      const invites = mine(prefix, 'INVITE');
      expect(invites).toHaveLength(2);
      for (const invite of invites) {
        // rr's append_fromtag (on by default) adds the dialog's From tag.
        expect(invite.recordRoute).toEqual([`<sip:127.0.0.1:${k!.port}${leg === 'tcp' ? ';transport=tcp' : ''};lr;ftag=${invite.fromTag}>`]);
        const call = mine(invite.callId);
        expect(call.map((s) => s.method)).toEqual(['INVITE', 'ACK', 'BYE']);
        for (const s of call) expectViaKamailio(s, leg, 4);
        // Kamailio's side: the INVITE relayed, the ACK and BYE loose-routed by their Route header.
        const trace = await k!.waitTrace(invite.callId, 'reply 200 BYE');
        expect(steps(trace, 'relay')).toEqual(['INVITE', 'ACK', 'BYE']);
        expect(steps(trace, 'loose-routed')).toEqual(['ACK', 'BYE']);
        expect(steps(trace, 'reply')).toEqual(['180 INVITE', '200 INVITE', '200 BYE']);
      }
    });

    it('CANCEL after 180: Kamailio cancels its branch; the handler sees the abort, sipp gets 200 and 487', async () => {
      const { r, prefix } = await sippThroughKamailio(leg, 'kamailio-cancel.xml', 'cancel', 1);
      expectSipp(r, 1);
      const [invite, ...rest] = mine(prefix);
      expect(rest).toEqual([]); // CANCEL is the transaction layer's, the ACK for the 487 Kamailio's own
      expect(invite!.note).toBe('abort=SipCancelledError final=487');
      expectViaKamailio(invite!, leg, 4);
      // sipp's ACK for the 487 ends at Kamailio (t_check_trans absorbs it): it is not relayed to us.
      const trace = await k!.waitTrace(invite!.callId, 'request ACK');
      expect(steps(trace, 'request')).toEqual(['INVITE', 'CANCEL', 'ACK']);
      expect(steps(trace, 'relay')).toEqual(['INVITE', 'CANCEL']);
      expect(steps(trace, 'reply')).toEqual(['180 INVITE', '200 CANCEL', '487 INVITE']);
    });
  });

  it('sipp over UDP -> Kamailio -> SipServer over TCP: two Record-Routes (one per side) copied into the 2xx and followed', async () => {
    const { r, prefix } = await sippThroughKamailio('udp', 'kamailio-call.xml', 'carol', 1, 4, 'tcp');
    expectSipp(r, 1);
    const call = mine(prefix);
    expect(call.map((s) => s.method)).toEqual(['INVITE', 'ACK', 'BYE']);
    for (const s of call) expectViaKamailio(s, 'tcp', 4, 'udp');
    // Double record-routing (rr's enable_double_rr): the TCP side on top, as the hop to us.
    const ftag = call[0]!.fromTag;
    expect(call[0]!.recordRoute).toEqual([`<sip:127.0.0.1:${k!.port};transport=tcp;r2=on;lr;ftag=${ftag}>`, `<sip:127.0.0.1:${k!.port};r2=on;lr;ftag=${ftag}>`]);
    const trace = await k!.waitTrace(call[0]!.callId, 'reply 200 BYE');
    expect(steps(trace, 'loose-routed')).toEqual(['ACK', 'BYE']);
    expect(steps(trace, 'relay')).toEqual(['INVITE', 'ACK', 'BYE']);
  });

  describe('IPv6 (::1)', () => {
    it('sipp -> Kamailio -> SipServer over UDP: a call', async ({ skip }) => {
      if (!k!.ipv6) skip('no ::1 on this host');
      const { r, prefix } = await sippThroughKamailio('udp', 'kamailio-call.xml', 'bob6', 1, 6);
      expectSipp(r, 1);
      const call = mine(prefix);
      expect(call.map((s) => s.method)).toEqual(['INVITE', 'ACK', 'BYE']);
      for (const s of call) expectViaKamailio(s, 'udp', 6);
      expect(call[0]!.recordRoute).toEqual([`<sip:[::1]:${k!.port};lr;ftag=${call[0]!.fromTag}>`]);
      expect(steps(await k!.waitTrace(call[0]!.callId, 'reply 200 BYE'), 'loose-routed')).toEqual(['ACK', 'BYE']);
    });
  });

  describe.each(['udp', 'tcp'] as const)('SipClient -> Kamailio -> sipp UAS over %s', (leg) => {
    /** The preloaded Route that makes Kamailio the outbound proxy. */
    const proxy = (params = ''): string => `<sip:127.0.0.1:${k!.port}${leg === 'tcp' ? ';transport=tcp' : ''};lr${params}>`;

    it('OPTIONS with Kamailio as outbound proxy (Route): 200 from sipp, relayed by Kamailio', async () => {
      const u = await startUas({ scenario: 'client-options.xml', mode: leg === 'udp' ? 'u1' : 't1' });
      const client = newClient();
      const res = await lastValueFrom(client.send<SipResponse>('OPTIONS', { uri: `sip:svc@127.0.0.1:${u.port};transport=${leg}`, headers: { Route: proxy() } }));
      expect(res.status).toBe(200);
      expect(res.cseq.method).toBe('OPTIONS');
      expect(res.via).toHaveLength(1); // Kamailio took its own Via off
      expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      const trace = await k!.waitTrace(res.callId, 'reply 200 OPTIONS');
      expect(trace[0]).toMatch(new RegExp(`^request OPTIONS sip:svc@127\\.0\\.0\\.1:${u.port};transport=${leg} from ${leg}:127\\.0\\.0\\.1:\\d+ `));
      expect(steps(trace, 'relay')).toEqual(['OPTIONS']);
    });

    it('INVITE through Kamailio: 180 and 200 come back record-routed; the auto ACK follows the route set', async () => {
      const u = await startUas({ scenario: 'kamailio-uas-invite.xml', mode: leg === 'udp' ? 'u1' : 't1' });
      const client = newClient();
      const all = await lastValueFrom(
        client.send<SipResponse>('INVITE', { uri: `sip:svc@127.0.0.1:${u.port};transport=${leg}`, headers: { Route: proxy() } }).pipe(toArray()),
      );
      const statuses = all.map((x) => x.status);
      // The 100 is Kamailio's own (tm answers an INVITE hop by hop before relaying it); 180 and 200 are sipp's.
      expect(statuses).toEqual([100, 180, 200]);
      const ok = all.at(-1)!;
      expect(ok.headers.getAll('record-route')).toEqual([proxy(`;ftag=${ok.from.tag}`)]);
      expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      // The ACK reached Kamailio with the route set as its Route header, and was loose-routed to sipp's Contact.
      const trace = await k!.waitTrace(ok.callId, 'relay ACK');
      expect(steps(trace, 'relay')).toEqual(['INVITE', 'ACK']);
      expect(steps(trace, 'loose-routed')).toEqual(['ACK']);
      expect(trace.find((l) => l.startsWith('loose-routed ACK'))).toMatch(new RegExp(`^loose-routed ACK to sip:127\\.0\\.0\\.1:${u.port};transport=${leg} `));
    });

    it('INVITE through Kamailio, unsubscribed after the 180: CANCEL through Kamailio; the 487 comes back and is ACKed', async () => {
      const u = await startUas({ scenario: 'kamailio-uas-cancel.xml', mode: leg === 'udp' ? 'u1' : 't1' });
      const client = newClient();
      const got: number[] = [];
      let callId = '';
      await new Promise<void>((resolve, reject) => {
        const sub = client.send<SipResponse>('INVITE', { uri: `sip:svc@127.0.0.1:${u.port};transport=${leg}`, headers: { Route: proxy() } }).subscribe({
          next: (res) => {
            got.push(res.status);
            callId = res.callId;
            if (res.status === 180) {
              queueMicrotask(() => sub.unsubscribe());
              resolve();
            }
          },
          error: (e: unknown) => reject(e as Error),
          complete: () => reject(new Error(`completed before the unsubscribe: ${got.join(',')}`)),
        });
      });
      expect(got).toEqual([100, 180]);
      expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      // Kamailio answered our CANCEL and cancelled its own branch to sipp; sipp's 487 came back through
      // it, and our ACK for the 487 (hop by hop, with the INVITE's Route) reached it too.
      const trace = await k!.waitTrace(callId, 'request ACK');
      expect(steps(trace, 'request')).toEqual(['INVITE', 'CANCEL', 'ACK']);
      expect(steps(trace, 'reply')).toEqual(['180 INVITE', '200 CANCEL', '487 INVITE']);
    });

    it(`Kamailio answers itself (sl_send_reply): 404 for ${UNSERVED_DOMAIN}, 483 for Max-Forwards: 0`, async () => {
      const client = newClient();
      const err = await lastValueFrom(client.send('OPTIONS', { uri: `sip:someone@${UNSERVED_DOMAIN}`, headers: { Route: proxy() } })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SipResponseError);
      const res = (err as SipResponseError).response;
      expect([res.status, res.reason]).toEqual([404, 'Domain Not Served']);
      expect(res.to.tag).toBeTruthy();
      expect(res.headers.get('server')).toBe('kamailio-interop-test');
      const trace = await k!.waitTrace(res.callId, 'unserved OPTIONS');
      expect(steps(trace, 'relay')).toEqual([]);

      // An INVITE answered 404 by the proxy: our ACK for it (same Route) is absorbed by Kamailio's sl module.
      const inv = await lastValueFrom(client.send('INVITE', { uri: `sip:someone@${UNSERVED_DOMAIN}`, headers: { Route: proxy() } })).catch((e: unknown) => e);
      expect(inv).toBeInstanceOf(SipResponseError);
      expect((inv as SipResponseError).status).toBe(404);
      const inviteId = (inv as SipResponseError).response.callId;
      const inviteTrace = await k!.waitTrace(inviteId, 'absorbed ACK');
      expect(steps(inviteTrace, 'unserved')).toEqual(['INVITE']);
      expect(steps(inviteTrace, 'relay')).toEqual([]);

      const hops = await lastValueFrom(client.send('OPTIONS', { uri: `sip:svc@127.0.0.1:9`, headers: { Route: proxy(), 'Max-Forwards': '0' } })).catch((e: unknown) => e);
      expect(hops).toBeInstanceOf(SipResponseError);
      expect([(hops as SipResponseError).status, (hops as SipResponseError).response.reason]).toEqual([483, 'Too Many Hops']);
      const hopsTrace = await k!.waitTrace((hops as SipResponseError).response.callId, 'request OPTIONS');
      expect(steps(hopsTrace, 'relay')).toEqual([]);
    });
  });
});
