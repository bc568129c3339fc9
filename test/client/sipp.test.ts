// SipClient against sipp as the far end (a UAS per test, on a random high port) over UDP, TCP and
// TLS. sipp decides success: each scenario only completes if our messages (ACK, CANCEL, BYE)
// reach it in order. The packaged sipp has no TLS: the TLS runs go through a TLS front
// (support.ts) to sipp over TCP, so our side is real TLS with certificate verification.
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAckFor2xx, SipClient, SipRequest, SipResponseError, SipTimeoutError, SipTransportError, type SipResponse } from 'nestjs-sip';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp } from '../helpers/sipp.js';
import { makeTestPki, type TestPki } from '../transport/tls-certs.js';
import { sippOk, startUas, tlsFront, type Uas } from './support.js';

const sipp = peerTool('sipp');
const TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
type T = (typeof TRANSPORTS)[number];

describe('SipClient against sipp', () => {
  it('sipp is installed (required in CI)', () => {
    if (inCI() && !sipp.available) expect.fail('sipp is not installed (apt-get install sip-tester)');
  });
});

describe.skipIf(!sipp.available)('SipClient against sipp', () => {
  let pki: TestPki;
  let client: SipClient;
  const fronts: { close(): Promise<void> }[] = [];
  const clients: SipClient[] = [];

  const newClient = (opts: ConstructorParameters<typeof SipClient>[0] = {}): SipClient => {
    const c = new SipClient({ localHost: '127.0.0.1', timers: { T1: 50 }, tls: { ca: pki.ca }, ...opts });
    clients.push(c);
    return c;
  };

  beforeAll(() => {
    pki = makeTestPki();
    client = newClient();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(fronts.map((f) => f.close()));
    killAllSipp();
  });

  /** A sipp UAS for `t` (TLS: behind a TLS front) and the URI that reaches it. */
  async function uas(scenario: string, t: T, o: { args?: string[]; user?: string } = {}): Promise<Uas & { uri: string }> {
    if (t !== 'tls') {
      const u = await startUas({ scenario, mode: t === 'udp' ? 'u1' : 't1', args: o.args });
      return { ...u, uri: `sip:${o.user ?? 'svc'}@127.0.0.1:${u.port};transport=${t}` };
    }
    const front = await tlsFront(pki.a);
    fronts.push(front);
    const u = await startUas({ scenario, mode: 't1', args: o.args, contact: () => `sips:127.0.0.1:${front.port}` });
    front.target = u.port;
    return { ...u, uri: `sips:${o.user ?? 'svc'}@127.0.0.1:${front.port}` };
  }

  const statuses = (o: Observable<SipResponse>): Promise<number[]> => lastValueFrom(o.pipe(toArray())).then((all) => all.map((r) => r.status));

  /** Subscribe; unsubscribe when `when` says so (or at `afterMs`); resolve with what was seen by then. */
  function sendAndDrop(c: SipClient, uri: string, o: { when?: (r: SipResponse) => boolean; afterMs?: number }): Promise<number[]> {
    return new Promise((resolve, reject) => {
      const seen: number[] = [];
      let dropped = false;
      const sub = c.send<SipResponse>('INVITE', { uri }).subscribe({
        next: (r) => {
          seen.push(r.status);
          if (o.when?.(r)) {
            dropped = true;
            queueMicrotask(() => sub.unsubscribe());
            resolve(seen);
          }
        },
        error: (e: unknown) => reject(e as Error),
        complete: () => (dropped ? undefined : reject(new Error(`completed before the unsubscribe: ${seen.join(',')}`))),
      });
      if (o.afterMs !== undefined) {
        setTimeout(() => {
          sub.unsubscribe();
          resolve(seen);
        }, o.afterMs);
      }
    });
  }

  for (const t of TRANSPORTS) {
    describe(`over ${t.toUpperCase()}`, () => {
      it('OPTIONS is answered 200', async () => {
        const u = await uas('client-options.xml', t);
        const res = await lastValueFrom(client.send<SipResponse>('OPTIONS', { uri: u.uri }));
        expect(res.status).toBe(200);
        expect(res.cseq.method).toBe('OPTIONS');
        expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      });

      it('INVITE: emits 180 then 200, completes, and sipp gets our ACK for the 2xx', async () => {
        const u = await uas('client-invite-200.xml', t);
        const all = await lastValueFrom(client.send<SipResponse>('INVITE', { uri: u.uri }).pipe(toArray()));
        expect(all.map((r) => r.status)).toEqual([180, 200]);
        expect(all[1]!.body.toString()).toContain('v=0');
        expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      });

      it('INVITE answered 486: SipResponseError with the response; sipp gets the ACK', async () => {
        const u = await uas('client-invite-486.xml', t);
        const err = await lastValueFrom(client.send('INVITE', { uri: u.uri })).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SipResponseError);
        expect((err as SipResponseError).status).toBe(486);
        expect((err as SipResponseError).response.status).toBe(486);
        expect((err as SipResponseError).response.reason).toBe('Busy Here');
        expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      });

      it('INVITE answered 486 with non2xxAsValue: the 486 is the last value; sipp gets the ACK', async () => {
        const c = newClient({ non2xxAsValue: true });
        const u = await uas('client-invite-486.xml', t);
        expect(await statuses(c.send<SipResponse>('INVITE', { uri: u.uri }))).toEqual([486]);
        expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      });

      it('a server that never answers: SipTimeoutError (Timer B) at 64*T1', async () => {
        const T1 = 20;
        const c = newClient({ timers: { T1 } });
        const u = await uas('client-silent.xml', t);
        const start = performance.now();
        const err = await lastValueFrom(c.send('INVITE', { uri: u.uri })).catch((e: unknown) => e);
        const took = performance.now() - start;
        expect(err).toBeInstanceOf(SipTimeoutError);
        expect((err as SipTimeoutError).timer).toBe('B');
        expect(took).toBeGreaterThanOrEqual(64 * T1 - 5);
        expect(took).toBeLessThan(64 * T1 + 2000);
        u.child.kill('SIGKILL');
      });

      it('unsubscribe after the 180 sends CANCEL; 487 is ACKed (checked by sipp)', async () => {
        const u = await uas('client-cancel.xml', t);
        expect(await sendAndDrop(client, u.uri, { when: (r) => r.status === 180 })).toEqual([180]);
        expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      });

      it('unsubscribe before any provisional: the CANCEL waits for the 180 (RFC 3261 §9.1)', async () => {
        const u = await uas('client-cancel-early.xml', t);
        // sipp holds its 180 for 400 ms; a CANCEL before it would fail the scenario.
        expect(await sendAndDrop(client, u.uri, { afterMs: 100 })).toEqual([]);
        expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      });

      it('a 2xx crossing the CANCEL is ACKed and hung up with BYE', async () => {
        const u = await uas('client-cancel-cross.xml', t);
        expect(await sendAndDrop(client, u.uri, { when: (r) => r.status === 180 })).toEqual([180]);
        expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      });

      it('autoAck: false: client.ack(response, { body }) sends the ACK with its SDP (checked by sipp)', async () => {
        const c = newClient({ autoAck: false });
        const u = await uas('client-ack-body.xml', t);
        const res = await lastValueFrom(c.send<SipResponse>('INVITE', { uri: u.uri }));
        expect(res.status).toBe(200);
        await c.ack(res, { body: 'v=0\r\n', contentType: 'application/sdp' });
        expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      });

      it("autoAck: false: emit('ACK', buildAckFor2xx(invite, res)) sends the ACK (checked by sipp)", async () => {
        const c = newClient({ autoAck: false });
        const u = await uas('client-ack-body.xml', t);
        // A SipRequest given to send() is the request sent: the client fills in its headers.
        const invite = new SipRequest({ method: 'INVITE', uri: u.uri });
        const res = await lastValueFrom(c.send<SipResponse>('INVITE', invite));
        const ack = buildAckFor2xx(invite, res, { body: 'v=0\r\n', contentType: 'application/sdp' });
        await lastValueFrom(c.emit('ACK', ack), { defaultValue: undefined });
        expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
      });

      if (t !== 'udp') {
        it('the connection dying fails exactly the transactions on it, at once, with a transport error', async () => {
          const dying = await uas('client-ringing-forever.xml', t);
          const alive = await uas('client-slow-200.xml', t);
          const other = statuses(client.send<SipResponse>('INVITE', { uri: alive.uri }));
          let ringing!: () => void;
          const rang = new Promise<void>((r) => (ringing = r));
          const failed = new Promise<unknown>((resolve) => {
            client.send<SipResponse>('INVITE', { uri: dying.uri }).subscribe({ next: () => ringing(), error: resolve, complete: () => resolve('completed') });
          });
          await rang;
          const killedAt = performance.now();
          dying.child.kill('SIGKILL');
          const err = await failed;
          expect(performance.now() - killedAt).toBeLessThan(1000); // not Timer B (64*T1 = 3.2 s here), let alone 32 s
          expect(err).toBeInstanceOf(SipTransportError);
          expect((err as SipTransportError).code).toBe('ERR_SIP_CONNECTION_CLOSED');
          expect(await other).toEqual([180, 200]);
          expect(sippOk(await alive.done)).toEqual({ successful: 1, failed: 0, errors: '' });
        });
      }
    });
  }

  describe('over UDP, retransmissions', () => {
    it('OPTIONS answered only on its second retransmission succeeds (Timer E)', async () => {
      const c = newClient({ timers: { T1: 100 } });
      const u = await uas('client-retrans-options.xml', 'udp', { args: ['-nr'] });
      const res = await lastValueFrom(c.send<SipResponse>('OPTIONS', { uri: u.uri }));
      expect(res.status).toBe(200);
      expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
    });

    it('INVITE answered only on its second retransmission succeeds (Timer A), and is ACKed', async () => {
      const c = newClient({ timers: { T1: 100 } });
      const u = await uas('client-retrans-invite.xml', 'udp', { args: ['-nr'] });
      expect(await statuses(c.send<SipResponse>('INVITE', { uri: u.uri }))).toEqual([200]);
      expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
    });
  });
});
