// The server side of digest (issue 12): stateless nonces, the checks of RFC 3261 §22.4 / RFC 7616,
// replay refusal, bounded nonce-count records. Units on a controllable clock; the credential is
// computed the way a client does (RFC 7616 §3.4.1).
import { describe, expect, it } from 'vitest';
import { challenges, computeHa1, digestResponse, NonceCounts, NonceMinter, verifyDigest, type DigestAlgorithm } from '../../src/auth/index.js';
import { parseAuthHeader, type AuthHeader } from '../../src/message/index.js';

const realm = 'example.com';
const uri = 'sip:registrar.example.com';

function credential(challenge: string, o: { user?: string; password?: string; uri?: string; nc?: string; method?: string; realm?: string } = {}): AuthHeader {
  const c = parseAuthHeader(challenge).params;
  const algorithm = c.get('algorithm') as DigestAlgorithm;
  const user = o.user ?? 'alice';
  const nc = o.nc ?? '00000001';
  const cnonce = 'c0ffee';
  const u = o.uri ?? uri;
  const response = digestResponse({ algorithm, ha1: computeHa1(algorithm, user, o.realm ?? realm, o.password ?? 'secret'), nonce: c.get('nonce')!, method: o.method ?? 'REGISTER', uri: u, qop: 'auth', nc, cnonce });
  return {
    scheme: 'Digest',
    params: new Map([
      ['username', user],
      ['realm', o.realm ?? realm],
      ['nonce', c.get('nonce')!],
      ['uri', u],
      ['response', response],
      ['algorithm', algorithm],
      ['qop', 'auth'],
      ['nc', nc],
      ['cnonce', cnonce],
    ]),
  };
}

function setup(lifetime = 60_000) {
  let t = 1_000_000;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const minter = new NonceMinter('a shared secret of enough bytes', lifetime, clock.now);
  return { clock, minter, counts: new NonceCounts(), req: { method: 'REGISTER', requestUri: uri, realm } };
}

describe('digest, server side', () => {
  it('challenges: SHA-256 first, then MD5, each with qop="auth", an opaque and its own nonce', () => {
    const { minter } = setup();
    const [a, b] = challenges(minter, realm);
    expect(parseAuthHeader(a!).params.get('algorithm')).toBe('SHA-256');
    expect(parseAuthHeader(b!).params.get('algorithm')).toBe('MD5');
    expect(a).toContain('qop="auth"');
    expect(parseAuthHeader(a!).params.get('opaque')).toBeDefined();
    expect(challenges(minter, realm, ['MD5'], true)[0]).toMatch(/stale=true$/);
  });

  it.each(['SHA-256', 'MD5'] as const)('a right %s credential passes, from a password or from the stored HA1', (alg) => {
    const { minter, counts, req } = setup();
    const ch = challenges(minter, realm, [alg])[0]!;
    expect(verifyDigest(credential(ch), req, 'secret', minter, counts)).toEqual({ ok: true, username: 'alice', algorithm: alg });
    const again = credential(ch, { nc: '00000002' });
    expect(verifyDigest(again, req, { ha1: computeHa1(alg, 'alice', realm, 'secret'), algorithm: alg }, minter, counts).ok).toBe(true);
  });

  it('refuses each wrong part, for its own reason', () => {
    const { minter, counts, req } = setup();
    const ch = challenges(minter, realm)[0]!;
    const check = (cred: AuthHeader) => verifyDigest(cred, req, 'secret', minter, counts);
    expect(check(credential(ch, { password: 'guess' }))).toEqual({ ok: false, reason: 'response' });
    expect(check(credential(ch, { realm: 'other.org' }))).toEqual({ ok: false, reason: 'realm' });
    expect(check(credential(ch, { uri: 'sip:elsewhere.example.com' }))).toEqual({ ok: false, reason: 'uri' });
    expect(check(credential(ch, { method: 'INVITE' }))).toEqual({ ok: false, reason: 'response' }); // computed for another method
    expect(verifyDigest(credential(ch), req, undefined, minter, counts)).toEqual({ ok: false, reason: 'unknown-user' });
    const forged = credential(ch);
    forged.params.set('nonce', `${(1_000_000).toString(36)}.AAAA`);
    expect(check(forged)).toEqual({ ok: false, reason: 'nonce' });
    const sha1 = credential(ch);
    sha1.params.set('algorithm', 'SHA-1');
    expect(check(sha1)).toEqual({ ok: false, reason: 'algorithm' });
    const noQop = credential(ch);
    noQop.params.delete('qop');
    expect(check(noQop)).toEqual({ ok: false, reason: 'qop' });
    const missing = credential(ch);
    missing.params.delete('username');
    expect(check(missing)).toEqual({ ok: false, reason: 'malformed' });
    // uri compared as URIs: the same host in other case passes
    expect(check(credential(ch, { uri: 'sip:REGISTRAR.example.com' })).ok).toBe(true);
  });

  it('a replayed or lower nonce-count is refused; a higher one passes', () => {
    const { minter, counts, req } = setup();
    const ch = challenges(minter, realm)[0]!;
    expect(verifyDigest(credential(ch, { nc: '00000005' }), req, 'secret', minter, counts).ok).toBe(true);
    expect(verifyDigest(credential(ch, { nc: '00000005' }), req, 'secret', minter, counts)).toEqual({ ok: false, reason: 'replay' });
    expect(verifyDigest(credential(ch, { nc: '00000003' }), req, 'secret', minter, counts)).toEqual({ ok: false, reason: 'replay' });
    expect(verifyDigest(credential(ch, { nc: '00000006' }), req, 'secret', minter, counts).ok).toBe(true);
  });

  it('an authentic nonce past its lifetime is stale (a fresh challenge with stale=true follows); another secret makes it invalid', () => {
    const { clock, minter, counts, req } = setup(60_000);
    const ch = challenges(minter, realm)[0]!;
    clock.advance(60_001);
    expect(verifyDigest(credential(ch), req, 'secret', minter, counts)).toEqual({ ok: false, reason: 'stale' });
    const other = new NonceMinter('another secret, also long enough', 60_000, clock.now);
    expect(other.check(parseAuthHeader(ch).params.get('nonce')!, realm)).toBe('invalid');
    // Two instances sharing a secret accept each other's nonces.
    const twin = new NonceMinter('a shared secret of enough bytes', 60_000, clock.now);
    expect(twin.check(minter.mint(realm), realm)).toBe('valid');
    expect(twin.check(minter.mint(realm), 'other.realm')).toBe('invalid');
  });

  it('the nonce-count record is bounded', () => {
    const counts = new NonceCounts(100);
    for (let i = 0; i < 10_000; i++) counts.accept(`n${i}`, 1);
    expect(counts.size).toBe(100);
  });

  it('a nonce whose count may have been evicted is never trusted: stale, a fresh challenge', () => {
    const { clock, minter, req } = setup();
    const counts = new NonceCounts(2);
    const early = challenges(minter, realm, ['MD5'])[0]!;
    clock.advance(1000);
    const fill = [challenges(minter, realm, ['MD5'])[0]!, challenges(minter, realm, ['MD5'])[0]!];
    clock.advance(1000);
    const late = challenges(minter, realm, ['MD5'])[0]!;
    expect(verifyDigest(credential(early), req, 'secret', minter, counts)).toMatchObject({ ok: true });
    // Two more nonces push the first out: replaying it must not look fresh.
    for (const ch of fill) expect(verifyDigest(credential(ch), req, 'secret', minter, counts)).toMatchObject({ ok: true });
    expect(verifyDigest(credential(early), req, 'secret', minter, counts)).toEqual({ ok: false, reason: 'stale' });
    expect(verifyDigest(credential(late), req, 'secret', minter, counts)).toMatchObject({ ok: true });
  });
});
