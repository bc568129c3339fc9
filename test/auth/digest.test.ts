import { describe, expect, it } from 'vitest';
import { computeHa1, digestAlgorithm, digestResponse } from '../../src/auth/index.js';
import { formatAuthHeader, parseAuthHeader, SipParseError } from '../../src/message/index.js';

describe('digest computation (RFC 7616 §3.9.1 vectors)', () => {
  const base = {
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    nc: '00000001',
    qop: 'auth',
    uri: '/dir/index.html',
    method: 'GET',
  };
  it('MD5', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(digestResponse({ ...base, algorithm: 'MD5', ha1 })).toBe('8ca523f5e9506fed4657c9700eebdbec');
  });
  it('SHA-256', () => {
    const ha1 = computeHa1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(digestResponse({ ...base, algorithm: 'SHA-256', ha1 })).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });
  it('RFC 2069 style (no qop), RFC 2617 §3.5 vector', () => {
    // RFC 2617's example is qop=auth; without qop the response is KD(HA1, nonce:HA2).
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    expect(digestResponse({ algorithm: 'MD5', ha1, nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', method: 'GET', uri: '/dir/index.html', qop: 'auth', nc: '00000001', cnonce: '0a4f113b' })).toBe('6629fae49393a05397450978507c4ef1');
    expect(digestResponse({ algorithm: 'MD5', ha1, nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', method: 'GET', uri: '/dir/index.html' })).toMatch(/^[0-9a-f]{32}$/);
  });
  it('algorithm names', () => {
    expect([digestAlgorithm(undefined), digestAlgorithm('md5'), digestAlgorithm('sha-256'), digestAlgorithm('SHA-512-256-sess'), digestAlgorithm('SHA-1')]).toEqual(['MD5', 'MD5', 'SHA-256', 'SHA-512-256-sess', undefined]);
  });
});

describe('auth headers', () => {
  it('parses a challenge: scheme, lower-cased names, unquoted values, LWS and commas', () => {
    const h = parseAuthHeader('Digest  realm="example.com" ,NONCE="a\\"b", qop="auth,auth-int",algorithm=SHA-256, stale=FALSE');
    expect(h.scheme).toBe('Digest');
    expect(Object.fromEntries(h.params)).toEqual({ realm: 'example.com', nonce: 'a"b', qop: 'auth,auth-int', algorithm: 'SHA-256', stale: 'FALSE' });
  });
  it('refuses malformed values with a 400', () => {
    for (const bad of ['', '   ', 'Digest realm', 'Digest realm="x', 'Digest realm="x" nonce="y"', 'Digest realm=', 'Digest realm="a", realm="b"', 'Digest ' + Array.from({ length: 40 }, (_, i) => `p${i}=1`).join(',')]) {
      expect(() => parseAuthHeader(bad), bad).toThrow(SipParseError);
    }
  });
  it('reads a long run of escapes in one pass', () => {
    const long = 'Digest realm="' + '\\"'.repeat(100_000) + '"';
    expect(parseAuthHeader(long).params.get('realm')).toBe('"'.repeat(100_000));
  });
  it('formats: tokens bare, the rest quoted and escaped; round trip', () => {
    const v = formatAuthHeader('Digest', [['username', 'al"ice'], ['realm', 'r'], ['uri', 'sip:x'], ['algorithm', 'MD5'], ['qop', 'auth'], ['nc', '00000001']], { qopToken: true });
    expect(v).toBe('Digest username="al\\"ice", realm="r", uri="sip:x", algorithm=MD5, qop=auth, nc=00000001');
    expect(parseAuthHeader(v).params.get('username')).toBe('al"ice');
    expect(formatAuthHeader('Digest', [['qop', 'auth']])).toBe('Digest qop="auth"');
  });
});
