// SipClient against a real Kamailio that demands digest authentication (test/helpers/kamailio-auth.ts
// generates its config; each test starts its own Kamailio on a random high port and stops it):
//
//   SipClient.register() -> Kamailio registrar (401, pv_www_authenticate; 423 below min_expires)
//   SipClient INVITE     -> Kamailio proxy (407, pv_proxy_authenticate; lookup("location")) -> sipp UAS
//   dialog.bye()         -> Kamailio (loose_route, 407 again)                                -> sipp UAS
//
// What our client sent is read from Kamailio's own log (its `KTEST` lines): every REGISTER with its
// CSeq, Expires and credentials, each challenge Kamailio sent and why, each request it authorized.
import { filter, firstValueFrom, lastValueFrom } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SipClient, SipResponseError, type SipClientOptions, type SipRegistration, type SipRegistrationStatus } from 'nestjs-sip';
import { sippOk, startUas, waitUntil } from '../client/support.js';
import { kamailioAuthConfig, type KamailioAuthOptions } from '../helpers/kamailio-auth.js';
import { startKamailio, type Kamailio } from '../helpers/kamailio.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllSipp } from '../helpers/sipp.js';
import { sleep } from '../helpers/wait.js';

const kamailio = peerTool('kamailio');
const sipp = peerTool('sipp');

it('kamailio and sipp are installed (required in CI)', () => {
  if (inCI()) {
    expect(kamailio.available, 'kamailio must be installed in CI (apt-get install kamailio)').toBe(true);
    expect(sipp.available, 'sipp must be installed in CI (apt-get install sip-tester)').toBe(true);
  } else if (!kamailio.available || !sipp.available) console.warn('kamailio or sipp missing: the Kamailio digest-auth interop tests were SKIPPED');
});

/** One REGISTER (or other request) as Kamailio logged it. */
interface Logged {
  method: string;
  cseq: number;
  expires: string;
  auth: Map<string, string> | undefined;
  pauth: Map<string, string> | undefined;
}

/** Digest parameters of a logged credentials header (enough for the log: no commas inside values here). */
function digestParams(v: string): Map<string, string> | undefined {
  if (v === '' || v === '<null>') return undefined;
  const out = new Map<string, string>();
  for (const part of v.replace(/^Digest\s+/, '').split(',')) {
    const eq = part.indexOf('=');
    out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim().replace(/^"|"$/g, ''));
  }
  return out;
}

function requests(k: Kamailio, callId: string, method?: string): Logged[] {
  const out: Logged[] = [];
  for (const line of k.trace(callId)) {
    const m = /^request (\S+) \S+ cseq=(\d+) expires=(\S*) auth=\[(.*)\] pauth=\[(.*)\] ci=/.exec(line);
    if (m === null || (method !== undefined && m[1] !== method)) continue;
    out.push({ method: m[1]!, cseq: Number(m[2]), expires: m[3]!, auth: digestParams(m[4]!), pauth: digestParams(m[5]!) });
  }
  return out;
}

const steps = (k: Kamailio, callId: string, kind: string): string[] => k.trace(callId).filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1, l.lastIndexOf(' ci=')));

describe.skipIf(!kamailio.available || !sipp.available)(`SipClient against Kamailio (${kamailio.version ?? 'missing'}) demanding digest authentication`, () => {
  let k: Kamailio | undefined;
  let clients: SipClient[] = [];

  const start = async (o: KamailioAuthOptions): Promise<Kamailio> => (k = await startKamailio({ config: kamailioAuthConfig(o) }));
  const newClient = (o: SipClientOptions): SipClient => {
    const c = new SipClient({ localHost: '127.0.0.1', timers: { T1: 100 }, ...o });
    clients.push(c);
    return c;
  };
  const state = (reg: SipRegistration, s: SipRegistrationStatus['state']) => firstValueFrom(reg.status$.pipe(filter((x) => x.state === s)));

  // Kamailio's log explains most failures: print it with the failed test (it is stopped by then).
  let lastLog = '';
  beforeEach(({ onTestFailed }) => {
    lastLog = '';
    onTestFailed(() => console.error(`--- Kamailio log ---\n${lastLog.slice(-10000)}`));
  });
  afterEach(async () => {
    lastLog = k?.log() ?? '';
    try {
      killAllSipp();
      await Promise.all(clients.map((c) => c.close()));
      clients = [];
    } finally {
      await k?.stop();
      k = undefined;
    }
  });

  for (const algorithm of ['MD5', 'SHA-256'] as const) {
    it(`${algorithm}: registers (401 answered, 423 followed), stays registered through 3 refreshes of a 2 s binding on one nonce (nc 1, 2, 3...), stop() removes it`, async () => {
      const kam = await start({ algorithm, users: { alice: 'secret' }, nonces: 'count', minExpires: 2 });
      const client = newClient({ auth: { username: 'alice', password: 'secret' } });
      const reg = client.register({ aor: `sip:alice@127.0.0.1:${kam.port}`, expires: 1 });
      const seen: SipRegistrationStatus[] = [];
      reg.status$.subscribe((s) => seen.push(s));
      await state(reg, 'registered');
      expect(reg.expires).toBe(2);
      // Three refreshes after the first 200.
      await waitUntil(() => requests(kam, reg.callId).filter((r) => r.expires === '2').length >= 4, 10_000, 'three refreshes');
      expect(reg.state).toBe('registered');
      await reg.stop();
      expect(reg.state).toBe('unregistered');
      await sleep(50);

      const regs = requests(kam, reg.callId, 'REGISTER');
      // REGISTER without credentials (401), with them asking 1 s (423: Min-Expires 2), then 2 s
      // again and again on the same nonce, each with the next nc; Expires: 0 last.
      expect(regs.length).toBeGreaterThanOrEqual(6);
      expect(regs.map((r) => r.cseq)).toEqual(regs.map((_, i) => regs[0]!.cseq + i));
      expect(regs[0]!.auth).toBeUndefined();
      expect(regs.slice(0, 2).map((r) => r.expires)).toEqual(['1', '1']);
      expect(regs.slice(2, -1).every((r) => r.expires === '2')).toBe(true);
      expect(regs.at(-1)!.expires).toBe('0');
      const creds = regs.slice(1).map((r) => r.auth!);
      expect(new Set(creds.map((c) => c.get('nonce'))).size).toBe(1);
      expect(creds.map((c) => parseInt(c.get('nc')!, 16))).toEqual(creds.map((_, i) => i + 1));
      expect(creds.every((c) => c.get('algorithm') === algorithm && c.get('qop') === 'auth' && c.get('username') === 'alice')).toBe(true);
      // Kamailio challenged once (no credentials: -1 from Kamailio 5.6) and authorized every other REGISTER.
      expect(steps(kam, reg.callId, 'challenge')).toEqual(['401 rc=-1']);
      expect(steps(kam, reg.callId, 'authorized').length).toBe(regs.length - 1);
      // The registrar's save(): 423 (-1), new binding (1), updated (2) at each refresh, deleted (3).
      const saved = steps(kam, reg.callId, 'saved');
      expect(saved).toEqual(['rc=-1', 'rc=1', ...saved.slice(2, -1).map(() => 'rc=2'), 'rc=3']);
      // Registered from the first 200 to the stop: never 'registering' or 'failed' in between.
      const states = seen.map((s) => s.state);
      expect(states.slice(states.indexOf('registered'))).toEqual([...states.slice(states.indexOf('registered'), -1).map(() => 'registered'), 'unregistered']);
      expect(states.filter((s) => s === 'failed')).toEqual([]);
    });
  }

  it('a wrong password: exactly one answer to the challenge, then the 401 is the outcome (failed, no loop)', async () => {
    const kam = await start({ algorithm: 'SHA-256', users: { alice: 'secret' } });
    const client = newClient({ auth: { username: 'alice', password: 'not-the-password' } });
    const reg = client.register({ aor: `sip:alice@127.0.0.1:${kam.port}`, expires: 60 });
    const failed = await state(reg, 'failed');
    expect(failed.error).toBeInstanceOf(SipResponseError);
    expect((failed.error as SipResponseError).status).toBe(401);
    await sleep(500); // the next attempt is a back-off (15-30 s) away
    const regs = requests(kam, reg.callId, 'REGISTER');
    expect(regs.map((r) => [r.cseq - regs[0]!.cseq, r.auth?.get('username')])).toEqual([
      [0, undefined],
      [1, 'alice'],
    ]);
    expect(steps(kam, reg.callId, 'challenge')).toEqual(['401 rc=-1', '401 rc=-2']); // no credentials; wrong password
    await reg.stop();
    expect(requests(kam, reg.callId, 'REGISTER')).toHaveLength(2); // never bound: nothing to remove
  });

  it('SHA-256: an INVITE through Kamailio (407 answered) reaches a UAS registered there; the BYE, challenged in turn (stale nonce), goes through with credentials', async () => {
    const kam = await start({ algorithm: 'SHA-256', users: { alice: 'secret', bob: 'hunter2' }, nonces: 'once' });
    const u = await startUas({ scenario: 'kamailio-auth-uas.xml', mode: 'u1' });
    // bob's phone is the sipp UAS: its binding registered by a client with bob's credentials.
    const bob = newClient({}).register({ aor: `sip:bob@127.0.0.1:${kam.port}`, contact: `<sip:bob@127.0.0.1:${u.port}>`, expires: 60, auth: { username: 'bob', password: 'hunter2' } });
    await state(bob, 'registered');
    const alice = newClient({ from: '<sip:alice@127.0.0.1>', auth: async (realm) => (realm === '127.0.0.1' ? { username: 'alice', password: 'secret' } : undefined) });
    const dialog = await alice.invite({ uri: `sip:bob@127.0.0.1:${kam.port}`, body: 'v=0\r\n', headers: { 'Content-Type': 'application/sdp' } });
    expect(dialog.state).toBe('confirmed');
    const bye = await lastValueFrom(dialog.bye());
    expect(bye.status).toBe(200);
    expect(sippOk(await u.done)).toEqual({ successful: 1, failed: 0, errors: '' });
    await sleep(50);

    const invites = requests(kam, dialog.callId, 'INVITE');
    const byes = requests(kam, dialog.callId, 'BYE');
    expect(invites.map((r) => [r.cseq, r.pauth?.get('algorithm')])).toEqual([
      [invites[0]!.cseq, undefined],
      [invites[0]!.cseq + 1, 'SHA-256'],
    ]);
    // The BYE went first with the INVITE's nonce (a one-time nonce here: refused as stale), then with the new one.
    expect(byes.map((r) => [r.cseq, r.pauth?.get('nonce') === invites[1]!.pauth!.get('nonce')])).toEqual([
      [invites[0]!.cseq + 2, true],
      [invites[0]!.cseq + 3, false],
    ]);
    expect(dialog.localCSeq).toBe(invites[0]!.cseq + 3);
    expect(steps(kam, dialog.callId, 'challenge')).toEqual(['407 rc=-1', '407 rc=-6']); // no credentials; nonce used already
    expect(steps(kam, dialog.callId, 'authorized')).toEqual(['INVITE alice', 'BYE alice']);
    expect(steps(kam, dialog.callId, 'relay').map((s) => s.split(' ')[0])).toEqual(['INVITE', 'ACK', 'BYE']);
    expect(steps(kam, dialog.callId, 'relay')[0]).toBe(`INVITE to sip:bob@127.0.0.1:${u.port}`);
  });
});
