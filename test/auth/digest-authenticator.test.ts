// DigestAuthenticator (issue 12): what a request with no, bad, wrong or right credentials gets,
// throttling at work, and bounded memory. Real parsed requests, a controllable clock; the
// credential is computed the way a client does (RFC 7616 §3.4.1).
import { describe, expect, it } from 'vitest';
import { computeHa1, digestResponse, DigestAuthenticator, type DigestAlgorithm, type DigestAuthOptions } from '../../src/auth/index.js';
import { parseAuthHeader, parseMessage, type SipRequest } from '../../src/message/index.js';

const realm = 'example.com';
const ruri = 'sip:example.com';

function request(o: { method?: string; uri?: string; to?: string; from?: string; auth?: string[]; header?: string } = {}): SipRequest {
  const method = o.method ?? 'REGISTER';
  const text = [
    `${method} ${o.uri ?? ruri} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-' + Math.random().toString(36).slice(2),
    'Max-Forwards: 70',
    `From: <sip:${o.from ?? 'alice'}@example.com>;tag=f1`,
    `To: <sip:${o.to ?? 'alice'}@example.com>`,
    'Call-ID: c1@192.0.2.10',
    `CSeq: 2 ${method}`,
    ...(o.auth ?? []).map((a) => `${o.header ?? 'Authorization'}: ${a}`),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

/** A client's answer to `challenge` (a WWW-Authenticate value). */
function answer(challenge: string, o: { user?: string; password?: string; uri?: string; method?: string; nc?: string; realm?: string } = {}): string {
  const c = parseAuthHeader(challenge).params;
  const algorithm = (c.get('algorithm') ?? 'MD5') as DigestAlgorithm;
  const user = o.user ?? 'alice';
  const r = o.realm ?? c.get('realm')!;
  const nc = o.nc ?? '00000001';
  const uri = o.uri ?? ruri;
  const response = digestResponse({ algorithm, ha1: computeHa1(algorithm, user, r, o.password ?? 'secret'), nonce: c.get('nonce')!, method: o.method ?? 'REGISTER', uri, qop: 'auth', nc, cnonce: 'abc123' });
  return `Digest username="${user}", realm="${r}", nonce="${c.get('nonce')}", uri="${uri}", response="${response}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="abc123", opaque="${c.get('opaque')}"`;
}

function setup(o: Partial<DigestAuthOptions> = {}) {
  let t = 5_000_000;
  const users: Record<string, string> = { alice: 'secret', bob: 'hunter2' };
  const auth = new DigestAuthenticator(
    { realm, credentials: (u) => users[u], throttle: { maxFailures: 3, backoff: 10_000 }, nonceLifetime: 60_000, ...o },
    undefined,
    () => t,
  );
  const challenge = (alg: DigestAlgorithm = 'MD5'): string => {
    const r = auth.challenge();
    return (r.headers!['WWW-Authenticate'] as string[]).find((h) => h.includes(`algorithm=${alg}`))!;
  };
  return { auth, challenge, advance: (ms: number) => (t += ms) };
}

const src = '192.0.2.10';

describe('DigestAuthenticator', () => {
  it('no credentials: 401 with one challenge per algorithm, SHA-256 first; as a proxy 407 with Proxy-Authenticate', async () => {
    const { auth } = setup();
    const out = await auth.authenticate(request(), src);
    expect(out).toMatchObject({ ok: false, refusal: { status: 401 } });
    const hs = (out as { refusal: { headers: Record<string, string[]> } }).refusal.headers['WWW-Authenticate']!;
    expect(hs.map((h) => parseAuthHeader(h).params.get('algorithm'))).toEqual(['SHA-256', 'MD5']);
    const proxy = setup({ proxy: true });
    const p = await proxy.auth.authenticate(request({ method: 'INVITE' }), src);
    expect(p).toMatchObject({ ok: false, refusal: { status: 407, headers: { 'Proxy-Authenticate': expect.any(Array) } } });
  });

  it.each(['MD5', 'SHA-256'] as const)('the right %s credential passes and names its user', async (alg) => {
    const { auth, challenge } = setup();
    const out = await auth.authenticate(request({ auth: [answer(challenge(alg))] }), src);
    expect(out).toEqual({ ok: true, identity: { user: 'alice', realm, algorithm: alg } });
  });

  it('a stored HA1 works for its algorithm only', async () => {
    const ha1 = computeHa1('SHA-256', 'alice', realm, 'secret');
    const { auth, challenge } = setup({ credentials: () => ({ ha1, algorithm: 'SHA-256' }) });
    expect(await auth.authenticate(request({ auth: [answer(challenge('SHA-256'))] }), src)).toMatchObject({ ok: true });
    expect(await auth.authenticate(request({ auth: [answer(challenge('MD5'))] }), src)).toMatchObject({ ok: false, refusal: { status: 401 } });
  });

  it('a REGISTER must authenticate as the user it registers; other requests as their From user, unless told otherwise', async () => {
    const { auth, challenge } = setup();
    const asBob = (to: string, method = 'REGISTER', from = 'bob') => request({ method, to, from, auth: [answer(challenge(), { user: 'bob', password: 'hunter2', method })] });
    expect(await auth.authenticate(asBob('alice'), src)).toMatchObject({ ok: false, refusal: { status: 403 } });
    expect(await auth.authenticate(asBob('bob'), src)).toMatchObject({ ok: true });
    expect(await auth.authenticate(asBob('carol', 'MESSAGE', 'alice'), src)).toMatchObject({ ok: false, refusal: { status: 403 } });
    expect(await auth.authenticate(asBob('carol', 'MESSAGE'), src)).toMatchObject({ ok: true });
    expect(await auth.authenticate(asBob('alice'), src, { matchUser: false })).toMatchObject({ ok: true });
  });

  it('the URI user is compared unescaped, once: sip:al%2541@ is the user "al%41"', async () => {
    const { auth, challenge } = setup({ credentials: (u) => (u === 'al%41' || u === 'alA' ? 'secret' : undefined) });
    const as = (user: string) => request({ to: 'al%2541', auth: [answer(challenge(), { user })] });
    expect(await auth.authenticate(as('al%41'), src)).toMatchObject({ ok: true, identity: { user: 'al%41' } });
    expect(await auth.authenticate(as('alA'), src)).toMatchObject({ ok: false, refusal: { status: 403 } });
  });

  it('bad input: malformed or oversize credentials get 400, another uri 403, another realm or method a challenge; never a throw', async () => {
    const { auth, challenge } = setup();
    const ch = challenge();
    const nonce = parseAuthHeader(ch).params.get('nonce');
    const cases: [string, number][] = [
      ['Digest username="alice", realm="example.com"', 400], // no nonce, uri, response
      [`Digest username="alice, realm="${realm}"`, 400], // unterminated quote
      [`Digest username="alice", username="bob", realm="${realm}"`, 400], // repeated parameter
      [`Digest username="${'a'.repeat(3_000)}", realm="${realm}", nonce="${nonce}", uri="${ruri}", response="00", qop=auth, nc=00000001, cnonce="x"`, 400],
      [`Digest username="alice", realm="${realm}", nonce="${nonce}", uri="${ruri}", response="${'0'.repeat(3_000)}", qop=auth, nc=00000001, cnonce="x"`, 400],
      [answer(ch).replace('algorithm=MD5', 'algorithm=ROT13'), 401],
      [answer(ch).replace('qop=auth', 'qop=auth-int'), 401],
      [answer(ch).replace(/nonce="[^"]+"/, 'nonce="forged.nonce.value"'), 401],
      [answer(ch, { uri: 'sip:elsewhere.example.org' }), 403],
      [answer(ch, { realm: 'other.realm' }), 401],
      [answer(ch, { method: 'INVITE' }), 401], // computed for another method: a wrong response
      ['Basic YWxpY2U6c2VjcmV0', 401], // not digest: as if absent
    ];
    for (const [value, status] of cases) {
      const out = await auth.authenticate(request({ auth: [value] }), `198.51.100.${status}`);
      expect(out, value.slice(0, 80) + JSON.stringify(out)).toMatchObject({ ok: false, refusal: { status } });
    }
    expect(auth.stats.authenticated).toBe(0);
    // 20 KB in one header never gets this far: the codec answers 513 (MAX_SIP_HEADER).
    expect(() => request({ auth: [`Digest username="${'a'.repeat(20_000)}"`] })).toThrow(/513/);
  });

  it('replayed nonce-count: a fresh challenge; the next count passes', async () => {
    const { auth, challenge } = setup();
    const ch = challenge();
    expect(await auth.authenticate(request({ auth: [answer(ch)] }), src)).toMatchObject({ ok: true });
    expect(await auth.authenticate(request({ auth: [answer(ch)] }), src)).toMatchObject({ ok: false, refusal: { status: 401 } });
    expect(await auth.authenticate(request({ auth: [answer(ch, { nc: '00000002' })] }), src)).toMatchObject({ ok: true });
    expect(auth.stats.refused.replay).toBe(1);
  });

  it('an expired nonce: a fresh challenge with stale=true, not counted as a failure', async () => {
    const { auth, challenge, advance } = setup();
    const ch = challenge();
    advance(61_000);
    const out = await auth.authenticate(request({ auth: [answer(ch)] }), src);
    expect(out).toMatchObject({ ok: false, refusal: { status: 401 } });
    expect(JSON.stringify(out)).toContain('stale=true');
    expect(auth.throttle!.stats.failures).toBe(0);
  });

  it('credentials for several realms: ours is found among them', async () => {
    const { auth, challenge } = setup();
    const other = answer(challenge(), { realm: 'upstream.example.net' });
    expect(await auth.authenticate(request({ auth: [other, answer(challenge())] }), src)).toMatchObject({ ok: true });
  });

  it('throttled: after maxFailures wrong passwords the source gets 403 (or nothing, with drop) for every credential, even the right one', async () => {
    for (const action of ['403', 'drop'] as const) {
      const { auth, challenge, advance } = setup({ throttle: { maxFailures: 3, backoff: 10_000, action } });
      for (let i = 0; i < 2; i++) expect(await auth.authenticate(request({ auth: [answer(challenge(), { password: `guess${i}` })] }), src)).toMatchObject({ refusal: { status: 401 } });
      const third = await auth.authenticate(request({ auth: [answer(challenge(), { password: 'guess2' })] }), src);
      const refused = action === 'drop' ? { ok: false, drop: true } : { ok: false, refusal: { status: 403 } };
      expect(third).toMatchObject(refused);
      expect(await auth.authenticate(request({ auth: [answer(challenge())] }), src)).toMatchObject(refused);
      // Without credentials: still a challenge (403 mode), or silence (drop).
      expect(await auth.authenticate(request(), src)).toMatchObject(action === 'drop' ? refused : { ok: false, refusal: { status: 401 } });
      // Another address is not affected; the blocked one is served again after its back-off.
      expect(await auth.authenticate(request({ auth: [answer(challenge())] }), '203.0.113.5')).toMatchObject({ ok: true });
      advance(10_001);
      expect(await auth.authenticate(request({ auth: [answer(challenge())] }), src)).toMatchObject({ ok: true });
      expect(auth.throttle!.stats.evaluated).toBe(5);
    }
  });

  it('a failing credentials store: 503 with Retry-After, not a failed guess', async () => {
    const { auth, challenge } = setup({ credentials: () => Promise.reject(new Error('db down')) });
    expect(await auth.authenticate(request({ auth: [answer(challenge())] }), src)).toMatchObject({ ok: false, refusal: { status: 503, headers: { 'Retry-After': '5' } } });
    expect(auth.throttle!.stats.failures).toBe(0);
  });

  it('the store is never asked for garbage: a lookup happens only for a well-formed credential with our nonce', async () => {
    let lookups = 0;
    const { auth, challenge } = setup({ credentials: () => (lookups++, 'secret') });
    await auth.authenticate(request({ auth: ['Digest username="x", realm="example.com", nonce="n", uri="sip:example.com", response="r", qop=auth, nc=00000001, cnonce="c"'] }), src);
    await auth.authenticate(request({ auth: [answer(challenge(), { uri: 'sip:other' })] }), src);
    expect(lookups).toBe(0);
    await auth.authenticate(request({ auth: [answer(challenge())] }), src);
    expect(lookups).toBe(1);
  });

  it('refuses a realm that cannot be quoted and a missing lookup', () => {
    expect(() => new DigestAuthenticator({ realm: 'a"b', credentials: () => undefined })).toThrow(RangeError);
    expect(() => new DigestAuthenticator({ realm: 'a', credentials: undefined as never })).toThrow(TypeError);
  });
});
