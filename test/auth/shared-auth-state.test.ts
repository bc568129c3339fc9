// Digest state shared between instances (issue 15): a nonce-count the shared store has seen is a
// replay even where this instance has not (a store that is down means 503); a block another
// instance imposed is taken on at the next failure (a store that is down leaves the own counts).
// The Redis stores themselves are tested against a real redis-server in test/registrar/shared-auth.test.ts.
import { describe, expect, it } from 'vitest';
import { AuthThrottle, computeHa1, digestResponse, DigestAuthenticator, type DigestAlgorithm, type SharedAuthStrikes, type SharedNonceCounts } from '../../src/auth/index.js';
import { parseAuthHeader, parseMessage, type SipRequest } from '../../src/message/index.js';

const realm = 'example.com';

function register(auth?: string): SipRequest {
  const text = [
    'REGISTER sip:example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-' + Math.random().toString(36).slice(2),
    'Max-Forwards: 70',
    'From: <sip:alice@example.com>;tag=f1',
    'To: <sip:alice@example.com>',
    'Call-ID: c1@192.0.2.10',
    'CSeq: 2 REGISTER',
    ...(auth === undefined ? [] : [`Authorization: ${auth}`]),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

function answer(challenge: string, nc: number): string {
  const c = parseAuthHeader(challenge).params;
  const algorithm = (c.get('algorithm') ?? 'MD5') as DigestAlgorithm;
  const ncHex = nc.toString(16).padStart(8, '0');
  const response = digestResponse({ algorithm, ha1: computeHa1(algorithm, 'alice', realm, 'secret'), nonce: c.get('nonce')!, method: 'REGISTER', uri: 'sip:example.com', qop: 'auth', nc: ncHex, cnonce: 'x' });
  return `Digest username="alice", realm="${realm}", nonce="${c.get('nonce')}", uri="sip:example.com", response="${response}", algorithm=${algorithm}, qop=auth, nc=${ncHex}, cnonce="x"`;
}

/** An in-process stand-in for a shared store (another instance's counts are written into it directly). */
class Counts implements SharedNonceCounts {
  readonly seen = new Map<string, number>();
  down = false;
  ttls: number[] = [];
  async accept(nonce: string, nc: number, ttl: number): Promise<boolean> {
    if (this.down) throw new Error('connection refused');
    this.ttls.push(ttl);
    if (nc <= (this.seen.get(nonce) ?? 0)) return false;
    this.seen.set(nonce, nc);
    return true;
  }
}

describe('DigestAuthenticator with shared nonce-counts', () => {
  it('refuses a count another instance used, records its own, and answers 503 when the store is down', async () => {
    const shared = new Counts();
    const auth = new DigestAuthenticator({ realm, credentials: () => 'secret', secret: 'a shared secret of 16+ bytes', nonceLifetime: 60_000, sharedNonceCounts: shared });
    const challenge = (auth.challenge().headers!['WWW-Authenticate'] as string[])[0]!;
    const nonce = parseAuthHeader(challenge).params.get('nonce')!;
    shared.seen.set(nonce, 3); // another instance let nc=3 through
    const replay = await auth.authenticate(register(answer(challenge, 2)), '192.0.2.10');
    expect(replay).toMatchObject({ ok: false, refusal: { status: 401 } });
    expect(auth.stats.refused.replay).toBe(1);
    expect(await auth.authenticate(register(answer(challenge, 4)), '192.0.2.10')).toMatchObject({ ok: true, identity: { user: 'alice' } });
    expect(shared.seen.get(nonce)).toBe(4);
    expect(shared.ttls.every((t) => t >= 60_000)).toBe(true);
    shared.down = true;
    expect(await auth.authenticate(register(answer(challenge, 5)), '192.0.2.10')).toMatchObject({ ok: false, refusal: { status: 503, headers: { 'Retry-After': '5' } } });
  });
});

describe('AuthThrottle with shared strikes', () => {
  it('takes on a block another instance imposed at the next failure, and keeps its own counts when the store is down', async () => {
    let t = 1_000_000;
    let down = false;
    const calls: string[] = [];
    const shared: SharedAuthStrikes = {
      strike: async (source, user, rules) => {
        if (down) throw new Error('connection refused');
        calls.push(`${source} ${user} ${rules.maxFailures}`);
        return { source: { blockedUntil: rules.now + 60_000, level: 1 }, user: { blockedUntil: 0, level: 0 } };
      },
    };
    const throttle = new AuthThrottle({ maxFailures: 10, shared }, undefined, () => t);
    throttle.failed('192.0.2.7', 'alice');
    expect(throttle.blockedFor('192.0.2.7')).toBe(0);
    await throttle.share('192.0.2.7', 'alice');
    expect(calls).toEqual(['192.0.2.7 alice 10']);
    expect(throttle.blockedFor('192.0.2.7')).toBe(60_000);
    expect(throttle.check('192.0.2.7', 'alice')).toBe('source-blocked');
    t += 60_001;
    down = true;
    throttle.failed('192.0.2.7', 'alice');
    await throttle.share('192.0.2.7', 'alice');
    expect(throttle.stats.sharedErrors).toBe(1);
    expect(throttle.check('192.0.2.7', 'alice')).toBe('ok');
  });
});
