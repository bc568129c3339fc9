// SipClient placing calls that sipp (a real UA, here the answering side) takes, over UDP, TCP and
// TLS: the dialog hangs up, or is hung up on. The packaged sipp has no TLS: the TLS runs go through
// a TLS front (test/client/support.ts) to sipp over TCP, so our side is real, verified TLS.
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipClient, SipResponseError, type SipDialog, type SipRequest } from 'nestjs-sip';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp } from '../helpers/sipp.js';
import { makeTestPki, type TestPki } from '../transport/tls-certs.js';
import { sippOk, startUas, tlsFront, waitUntil, type Uas } from '../client/support.js';

const sipp = peerTool('sipp');
const TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
type T = (typeof TRANSPORTS)[number];

describe('SipClient dialogs: sipp is required in CI', () => {
  it('sipp is installed', () => {
    if (inCI() && !sipp.available) expect.fail('sipp is not installed (apt-get install sip-tester)');
    else if (!sipp.available) console.warn('sipp missing: the SipClient dialog tests are SKIPPED');
  });
});

describe.skipIf(!sipp.available)('SipClient dialogs against sipp', () => {
  let pki: TestPki;
  let client: SipClient;
  const fronts: { close(): Promise<void> }[] = [];
  const requests: { method: string; dialog: SipDialog }[] = [];

  beforeAll(() => {
    pki = makeTestPki();
    client = new SipClient({ localHost: '127.0.0.1', timers: { T1: 50 }, tls: { ca: pki.ca } });
    client.on('request', (req: SipRequest, dialog: SipDialog) => requests.push({ method: req.method, dialog }));
  });
  afterAll(async () => {
    await client.close();
    await Promise.all(fronts.map((f) => f.close()));
    killAllSipp();
  });

  async function uas(scenario: string, t: T): Promise<Uas & { uri: string }> {
    if (t !== 'tls') {
      const u = await startUas({ scenario, mode: t === 'udp' ? 'u1' : 't1' });
      return { ...u, uri: `sip:svc@127.0.0.1:${u.port};transport=${t}` };
    }
    const front = await tlsFront(pki.a);
    fronts.push(front);
    const u = await startUas({ scenario, mode: 't1', contact: () => `sips:127.0.0.1:${front.port}` });
    front.target = u.port;
    return { ...u, uri: `sips:svc@127.0.0.1:${front.port}` };
  }

  describe.each(TRANSPORTS)('over %s', (t) => {
    it('invite() resolves with the confirmed dialog; dialog.bye() reaches sipp, which answers 200', async () => {
      const u = await uas('dialog-uas-awaits-bye.xml', t);
      const dialog = await client.invite({ uri: u.uri, body: 'v=0\r\n', headers: { 'Content-Type': 'application/sdp' } });
      expect([dialog.role, dialog.state]).toEqual(['uac', 'confirmed']);
      expect(dialog.remoteSdp).toContain('m=audio 9 RTP/AVP 0');
      const bye = await lastValueFrom(dialog.bye());
      expect(bye.status).toBe(200);
      expect(await dialog.terminated).toMatchObject({ reason: 'bye', by: 'local' });
      expect(sippOk(await u.done)).toMatchObject({ successful: 1, failed: 0, errors: '' });
    });

    it("sipp hangs up: its BYE reaches the dialog (200), `terminated` says bye by remote, the client's 'request' event fires", async () => {
      const u = await uas('dialog-uas-sends-bye.xml', t);
      const dialog = await client.invite({ uri: u.uri });
      const seen: string[] = [];
      dialog.requests.subscribe((r) => seen.push(r.method));
      expect(await dialog.terminated).toMatchObject({ reason: 'bye', by: 'remote' });
      expect(seen).toEqual(['BYE']);
      await waitUntil(() => requests.some((r) => r.dialog === dialog && r.method === 'BYE'), 2000, "the client's request event");
      expect(sippOk(await u.done)).toMatchObject({ successful: 1, failed: 0, errors: '' });
      // The dialog is gone: a request in it is refused without being sent.
      await expect(lastValueFrom(dialog.info())).rejects.toMatchObject({ code: 'ERR_SIP_DIALOG_TERMINATED' });
    });
  });

  it('invite() rejects with the SipResponseError of a non-2xx, and no dialog stays', async () => {
    const u = await startUas({ scenario: 'client-invite-486.xml', mode: 'u1' });
    const before = client.addresses.length;
    await expect(client.invite({ uri: `sip:busy@127.0.0.1:${u.port}` })).rejects.toBeInstanceOf(SipResponseError);
    expect(before).toBeGreaterThan(0);
    expect(sippOk(await u.done).failed).toBe(0);
  });
});
