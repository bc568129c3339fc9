// Property tests (fast-check) of the Authorization / WWW-Authenticate parser (issue 12): what
// formatAuthHeader writes parses back to the same parameters, and arbitrary input is either read
// or refused with a SipParseError; a server never throws on any credential, only answers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DigestAuthenticator } from '../../src/auth/index.js';
import { formatAuthHeader, parseAuthHeader, parseMessage, SipParseError, type SipRequest } from '../../src/message/index.js';

const RUNS = 500;
const token = fc.stringMatching(/^[A-Za-z0-9!%'*+._`~-]{1,16}$/);
// Printable text with the characters quoting must escape; no controls (they cannot be carried).
const value = fc.string({ unit: fc.constantFrom(...' abcXYZ019"\\,=;:@./-_'.split('')), maxLength: 40 });

describe('auth header properties', () => {
  it('format -> parse gives back the scheme and every parameter, quotes and backslashes included', () => {
    fc.assert(
      fc.property(token, fc.uniqueArray(fc.tuple(token.map((t) => t.toLowerCase()), value), { selector: (p) => p[0], maxLength: 12 }), (scheme, params) => {
        // Token-valued names (algorithm, nc, stale...) carry tokens only.
        const safe = params.map(([n, v]) => [n, ['algorithm', 'qop-value', 'nc', 'stale', 'userhash'].includes(n) ? 'tok' : v] as [string, string]);
        const parsed = parseAuthHeader(formatAuthHeader(scheme, safe));
        expect(parsed.scheme).toBe(scheme);
        expect([...parsed.params]).toEqual(safe);
      }),
      { numRuns: RUNS },
    );
  });

  it('arbitrary text is parsed or refused with SipParseError, never anything else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        try {
          parseAuthHeader(s);
        } catch (err) {
          expect(err).toBeInstanceOf(SipParseError);
        }
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it('DigestAuthenticator answers every credential (mutated real ones and junk) with a verdict, never a throw', async () => {
    const auth = new DigestAuthenticator({ realm: 'p.test', credentials: () => 'pw', throttle: { maxFailures: 1e9 } });
    const challenge = (auth.challenge().headers!['WWW-Authenticate'] as string[])[1]!;
    const nonce = parseAuthHeader(challenge).params.get('nonce')!;
    const real = `Digest username="alice", realm="p.test", nonce="${nonce}", uri="sip:p.test", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"`;
    const mutated = fc.tuple(fc.nat(real.length), fc.nat(real.length), fc.string({ unit: fc.constantFrom(...'"\\, =abc0'.split('')), maxLength: 8 })).map(([a, b, ins]) => real.slice(0, Math.min(a, b)) + ins + real.slice(Math.max(a, b)));
    const junk = fc.string({ unit: fc.constantFrom(...'Digest usernamerealm=",\\ 0'.split('')), maxLength: 120 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, junk), async (cred) => {
        const text = `REGISTER sip:p.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKp\r\nMax-Forwards: 70\r\nFrom: <sip:alice@p.test>;tag=1\r\nTo: <sip:alice@p.test>\r\nCall-ID: p\r\nCSeq: 1 REGISTER\r\nAuthorization: ${cred}\r\nContent-Length: 0\r\n\r\n`;
        let req: SipRequest;
        try {
          req = parseMessage(Buffer.from(text)) as SipRequest;
        } catch {
          return; // the codec refused it first (e.g. a line break): a 400 before any handler
        }
        const out = await auth.authenticate(req, '192.0.2.1');
        expect(out.ok).toBe(false);
        if ('refusal' in out) expect([400, 401, 403]).toContain(out.refusal.status);
      }),
      { numRuns: RUNS },
    );
  });
});
