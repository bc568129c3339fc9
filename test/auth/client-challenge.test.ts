// The client side of digest authentication without I/O: which challenge is answered, what the
// Authorization value holds (checked the way a server checks it), nonce counts, and when a
// 401/407 is no longer answered (stale once, never a loop).
import { describe, expect, it } from 'vitest';
import { ChallengeAnswers, DigestSession, DigestSessionCache, ha1For, readChallenges, type DigestChallenge } from '../../src/auth/client-challenge.js';
import { computeHa1, digestResponse } from '../../src/auth/index.js';
import { parseAuthHeader, SipResponse } from '../../src/message/index.js';

function challenge401(values: string[], header = 'WWW-Authenticate', status = 401): SipResponse {
  return new SipResponse({ status, headers: values.map((v) => [header, v] as [string, string]) });
}

/** Check a credential value as a server would: recompute the response from the password. */
function verify(value: string, method: string, password: string): { ok: boolean; params: Map<string, string> } {
  const { scheme, params } = parseAuthHeader(value);
  expect(scheme).toBe('Digest');
  const alg = (params.get('algorithm') ?? 'MD5') as 'MD5' | 'SHA-256' | 'SHA-512-256';
  const ha1 = computeHa1(alg, params.get('username')!, params.get('realm')!, password);
  const expected = digestResponse({ algorithm: alg, ha1, nonce: params.get('nonce')!, method, uri: params.get('uri')!, qop: params.get('qop'), nc: params.get('nc'), cnonce: params.get('cnonce') });
  return { ok: expected === params.get('response'), params };
}

describe('readChallenges', () => {
  it('strongest algorithm first: SHA-512-256 > SHA-256 > MD5 (absent = MD5); unknown algorithms, other schemes, auth-int only and malformed values left out', () => {
    const res = challenge401([
      'Digest realm="a", nonce="n1", qop="auth", algorithm=MD5',
      'Digest realm="a", nonce="n2", qop="auth"',
      'Digest realm="a", nonce="n3", qop="auth", algorithm=SHA-256',
      'Digest realm="a", nonce="n4", qop="auth,auth-int", algorithm=SHA-512-256',
      'Digest realm="a", nonce="n5", algorithm=SHA-1',
      'Digest realm="a", nonce="n6", qop="auth-int", algorithm=SHA-256',
      'Basic realm="a"',
      'Digest realm="a", nonce="unterminated',
      'Digest nonce="no-realm"',
    ]);
    expect(readChallenges(res).map((c) => [c.nonce, c.algorithm, c.qop])).toEqual([
      ['n4', 'SHA-512-256', 'auth'],
      ['n3', 'SHA-256', 'auth'],
      ['n1', 'MD5', 'auth'],
      ['n2', 'MD5', 'auth'],
    ]);
  });

  it('both header kinds, stale, opaque, no qop (RFC 2069)', () => {
    const res = new SipResponse({
      status: 407,
      headers: [
        ['Proxy-Authenticate', 'Digest realm="proxy", nonce="p", opaque="op", stale=TRUE'],
        ['WWW-Authenticate', 'Digest realm="uas", nonce="w", qop="auth"'],
      ],
    });
    const got = readChallenges(res);
    expect(got).toEqual([
      { kind: 'www', realm: 'uas', nonce: 'w', opaque: undefined, algorithm: 'MD5', qop: 'auth', stale: false },
      { kind: 'proxy', realm: 'proxy', nonce: 'p', opaque: 'op', algorithm: 'MD5', qop: undefined, stale: true },
    ]);
  });

  it('an HA1 answers only challenges of its own hash; a password answers all', () => {
    expect(ha1For({ username: 'u', ha1: 'ABC' }, 'MD5', 'r')).toBe('abc');
    expect(ha1For({ username: 'u', ha1: 'abc' }, 'SHA-256', 'r')).toBeUndefined();
    expect(ha1For({ username: 'u', ha1: 'abc', algorithm: 'SHA-256' }, 'SHA-256-sess', 'r')).toBe('abc');
    expect(ha1For({ username: 'u', password: 'p' }, 'SHA-512-256', 'r')).toBe(computeHa1('SHA-512-256', 'u', 'r', 'p'));
  });
});

describe('DigestSession', () => {
  const ch: DigestChallenge = { kind: 'www', realm: 'example.com', nonce: 'abc', opaque: 'xyz', algorithm: 'SHA-256', qop: 'auth', stale: false };

  it('the value verifies with the password; nc counts each use of the nonce; each use has a new cnonce', () => {
    const s = new DigestSession(ch, 'alice', computeHa1('SHA-256', 'alice', 'example.com', 'secret'));
    const a = verify(s.authorize('REGISTER', 'sip:example.com'), 'REGISTER', 'secret');
    const b = verify(s.authorize('INVITE', 'sip:bob@example.com'), 'INVITE', 'secret');
    expect(a.ok && b.ok).toBe(true);
    expect([a.params.get('nc'), b.params.get('nc')]).toEqual(['00000001', '00000002']);
    expect(a.params.get('cnonce')).toMatch(/^[0-9a-f]{32}$/);
    expect(a.params.get('cnonce')).not.toBe(b.params.get('cnonce'));
    expect([a.params.get('qop'), a.params.get('opaque'), a.params.get('algorithm'), a.params.get('uri')]).toEqual(['auth', 'xyz', 'SHA-256', 'sip:example.com']);
    expect(verify(s.authorize('INVITE', 'sip:bob@example.com'), 'INVITE', 'wrong').ok).toBe(false);
    // qop and nc are tokens, the rest quoted (RFC 3261 §25.1).
    expect(s.authorize('BYE', 'sip:x')).toMatch(/^Digest username="alice", realm="example.com", nonce="abc", uri="sip:x", response="[0-9a-f]{64}", algorithm=SHA-256, opaque="xyz", cnonce="[0-9a-f]{32}", qop=auth, nc=00000004$/);
  });

  it('without qop: no nc, no cnonce, KD(HA1, nonce:HA2)', () => {
    const s = new DigestSession({ ...ch, qop: undefined, algorithm: 'MD5' }, 'alice', computeHa1('MD5', 'alice', 'example.com', 'secret'));
    const v = verify(s.authorize('OPTIONS', 'sip:example.com'), 'OPTIONS', 'secret');
    expect(v.ok).toBe(true);
    expect([v.params.has('nc'), v.params.has('cnonce'), v.params.has('qop')]).toEqual([false, false, false]);
    expect(s.nc).toBe(0);
  });
});

describe('ChallengeAnswers: one retry per challenge, one more for a stale nonce, never a loop', () => {
  const creds = { username: 'alice', password: 'secret' };
  const md5 = (nonce: string, extra = '') => challenge401([`Digest realm="r", nonce="${nonce}", qop="auth"${extra}`]);

  it('a fresh challenge is answered once; the same realm challenged again (not stale) is the result', () => {
    const a = new ChallengeAnswers();
    const due = a.due(md5('n1'));
    expect(due).toHaveLength(1);
    expect(a.answer(due[0]!, creds)).toBe(true);
    a.retrying();
    expect(a.due(md5('n2'))).toEqual([]);
  });

  it('stale=true after an answer: one more answer with the new nonce, then the result', () => {
    const a = new ChallengeAnswers();
    a.answer(a.due(md5('n1'))[0]!, creds);
    a.retrying();
    const stale = a.due(md5('n2', ', stale=true'));
    expect(stale).toHaveLength(1);
    a.answer(stale[0]!, creds);
    a.retrying();
    expect(a.due(md5('n3', ', stale=true'))).toEqual([]);
    const [[name, value]] = a.headers('REGISTER', 'sip:r') as [[string, string]];
    expect(name).toBe('Authorization');
    expect(parseAuthHeader(value).params.get('nonce')).toBe('n2');
  });

  it('credentials reused from an earlier request do not count: a challenge to them is answered', () => {
    const old = new DigestSession({ kind: 'www', realm: 'r', nonce: 'old', opaque: undefined, algorithm: 'MD5', qop: 'auth', stale: false }, 'alice', computeHa1('MD5', 'alice', 'r', 'secret'));
    old.nc = 7;
    const a = new ChallengeAnswers([old]);
    expect(parseAuthHeader(a.headers('OPTIONS', 'sip:r')[0]![1]).params.get('nc')).toBe('00000008');
    const due = a.due(md5('new'));
    expect(due).toHaveLength(1);
    a.answer(due[0]!, creds);
    expect(parseAuthHeader(a.headers('OPTIONS', 'sip:r')[0]![1]).params.get('nonce')).toBe('new');
    expect(a.due(md5('newer'))).toEqual([]);
  });

  it('another realm (a second proxy) is answered too, and both credentials go along; at most three retries whatever the realms', () => {
    const a = new ChallengeAnswers();
    a.answer(a.due(challenge401(['Digest realm="p1", nonce="1"'], 'Proxy-Authenticate', 407))[0]!, creds);
    a.retrying();
    const second = a.due(challenge401(['Digest realm="p2", nonce="2"'], 'Proxy-Authenticate', 407));
    expect(second.map((g) => g[0]!.realm)).toEqual(['p2']);
    a.answer(second[0]!, creds);
    a.retrying();
    expect(a.headers('INVITE', 'sip:b@x').map(([n, v]) => [n, parseAuthHeader(v).params.get('realm')])).toEqual([
      ['Proxy-Authorization', 'p1'],
      ['Proxy-Authorization', 'p2'],
    ]);
    a.answer(a.due(challenge401(['Digest realm="p3", nonce="3"'], 'Proxy-Authenticate', 407))[0]!, creds);
    a.retrying();
    expect(a.due(challenge401(['Digest realm="p4", nonce="4"'], 'Proxy-Authenticate', 407))).toEqual([]);
  });

  it('the strongest challenge the credentials can serve: an MD5 HA1 answers MD5 when SHA-256 is offered first', () => {
    const a = new ChallengeAnswers();
    const res = challenge401(['Digest realm="r", nonce="s", qop="auth", algorithm=SHA-256', 'Digest realm="r", nonce="m", qop="auth", algorithm=MD5']);
    expect(a.answer(a.due(res)[0]!, { username: 'alice', ha1: computeHa1('MD5', 'alice', 'r', 'secret') })).toBe(true);
    const v = verify(a.headers('REGISTER', 'sip:r')[0]![1], 'REGISTER', 'secret');
    expect([v.ok, v.params.get('algorithm'), v.params.get('nonce')]).toEqual([true, 'MD5', 'm']);
    // No credentials for a realm, or an HA1 of a hash not offered: nothing to answer with.
    const b = new ChallengeAnswers();
    expect(b.answer(b.due(res)[0]!, undefined)).toBe(false);
    expect(b.answer(b.due(res)[0]!, { username: 'alice', ha1: 'x', algorithm: 'SHA-512-256' })).toBe(false);
  });
});

describe('DigestSessionCache', () => {
  const session = (realm: string) => new DigestSession({ kind: 'www', realm, nonce: 'n', opaque: undefined, algorithm: 'MD5', qop: 'auth', stale: false }, 'u', 'h');

  it('keeps one session per realm and scope, drops the least recently used scope past its bound', () => {
    const c = new DigestSessionCache(2);
    c.keep('a', session('r1'));
    c.keep('a', session('r1'));
    c.keep('a', session('r2'));
    expect(c.get('a').map((s) => s.challenge.realm)).toEqual(['r1', 'r2']);
    c.keep('b', session('r1'));
    c.get('a'); // a is now the most recently used
    c.keep('c', session('r1'));
    expect([c.get('a').length, c.get('b').length, c.get('c').length, c.size]).toEqual([2, 0, 1, 2]);
    c.drop('a', 'www r1');
    expect(c.get('a').map((s) => s.challenge.realm)).toEqual(['r2']);
  });
});
