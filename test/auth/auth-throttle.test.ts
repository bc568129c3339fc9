// Brute-force throttling (issue 12): per source and per username, bounded, growing back-off, and
// an attacker cannot lock the real user out. Units on a controllable clock.
import { describe, expect, it } from 'vitest';
import { AuthThrottle } from '../../src/auth/index.js';

function setup(opts: ConstructorParameters<typeof AuthThrottle>[0] = {}) {
  let t = 1_000_000;
  const warnings: string[] = [];
  const th = new AuthThrottle({ maxFailures: 3, maxUserFailures: 5, window: 60_000, backoff: 10_000, maxBackoff: 80_000, ...opts }, (kind, key, until) => warnings.push(`${kind} ${key} ${until - t}`), () => t);
  return { th, warnings, advance: (ms: number) => (t += ms) };
}

describe('AuthThrottle', () => {
  it('blocks a source after maxFailures, for a back-off that doubles with each new block, up to maxBackoff', () => {
    const { th, warnings, advance } = setup();
    const blocks: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3; i++) {
        expect(th.check('192.0.2.1', 'alice')).toBe('ok');
        th.failed('192.0.2.1', `user${round}-${i}`); // many usernames: only the source limit applies
      }
      expect(th.check('192.0.2.1', 'anyone')).toBe('source-blocked');
      // Without credentials it still gets its challenge (a guess would be refused); 'drop' is silent.
      expect(th.check('192.0.2.1', undefined)).toBe('ok');
      blocks.push(th.blockedFor('192.0.2.1'));
      advance(th.blockedFor('192.0.2.1'));
      expect(th.check('192.0.2.1', 'alice')).toBe('ok');
    }
    expect(blocks).toEqual([10_000, 20_000, 40_000, 80_000, 80_000]);
    // One warning per block, not per refused attempt.
    expect(warnings.filter((w) => w.startsWith('source'))).toHaveLength(5);
    expect(th.stats).toMatchObject({ evaluated: 15, failures: 15, blocks: 5, refused: 5 });
  });

  it('failures spread wider than the window never block', () => {
    const { th, advance } = setup();
    for (let i = 0; i < 20; i++) {
      th.failed('192.0.2.1', 'alice');
      advance(31_000); // two failures per window at most
    }
    expect(th.check('192.0.2.1', 'alice')).toBe('ok');
  });

  it('an IPv6 attacker is one source per /64, whatever addresses it takes from it', () => {
    const { th } = setup();
    th.failed('2001:db8:1:2::1', 'a');
    th.failed('2001:db8:1:2:ffff::9', 'b');
    th.failed('[2001:db8:1:2:0:0:0:7]', 'c');
    expect(th.check('2001:db8:1:2::abcd', 'd')).toBe('source-blocked');
    expect(th.check('2001:db8:1:3::1', 'd')).toBe('ok');
  });

  it('a locked username refuses the sources that failed, not its owner at a clean address', () => {
    const { th, warnings } = setup({ maxFailures: 100 });
    // A distributed attacker: five addresses, one guess each, all on alice.
    for (let i = 1; i <= 5; i++) th.failed(`198.51.100.${i}`, 'alice');
    expect(warnings).toContain('user alice 10000');
    for (let i = 1; i <= 5; i++) expect(th.check(`198.51.100.${i}`, 'alice')).toBe('user-locked');
    // ...but each may still try other users, and alice herself, from home, gets in.
    expect(th.check('198.51.100.1', 'bob')).toBe('ok');
    expect(th.check('203.0.113.7', 'alice')).toBe('ok');
    // A new attacker address gets its one guess, then is refused too.
    th.failed('198.51.100.9', 'alice');
    expect(th.check('198.51.100.9', 'alice')).toBe('user-locked');
  });

  it('a user who proved itself at a source is not shut out when others there fail (the office NAT), until it fails itself', () => {
    const { th } = setup();
    th.succeeded('192.0.2.1', 'alice');
    for (let i = 0; i < 3; i++) th.failed('192.0.2.1', 'bob'); // bob's phone has a stale password
    expect(th.check('192.0.2.1', 'bob')).toBe('source-blocked');
    expect(th.check('192.0.2.1', 'carol')).toBe('source-blocked');
    expect(th.check('192.0.2.1', 'alice')).toBe('ok');
    // An attacker there guessing alice's password gets three tries, then alice is refused too.
    for (let i = 0; i < 3; i++) th.failed('192.0.2.1', 'alice');
    expect(th.check('192.0.2.1', 'alice')).toBe('source-blocked');
    const drop = setup({ action: 'drop' }).th;
    for (let i = 0; i < 3; i++) drop.failed('192.0.2.1', 'bob');
    expect(drop.check('192.0.2.1', undefined)).toBe('source-blocked');
  });

  it('tables stay bounded under a flood of distinct sources and usernames', () => {
    const { th } = setup({ maxEntries: 1000 });
    for (let i = 0; i < 50_000; i++) {
      th.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `u${i}`);
      th.succeeded(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `v${i}`);
    }
    expect((th as unknown as { pairs: Map<string, unknown> }).pairs.size).toBeLessThanOrEqual(1000);
    expect(th.stats.sources).toBeLessThanOrEqual(1000);
    expect(th.stats.users).toBeLessThanOrEqual(1000);
  });

  it('offenders quiet longer than the longest block are forgotten', () => {
    const { th, advance } = setup();
    for (let i = 0; i < 3; i++) th.failed('192.0.2.1', 'x');
    advance(10_000 + 80_001);
    expect(th.check('192.0.2.1', 'x')).toBe('ok');
    // Forgotten: the next block starts at the first back-off again.
    for (let i = 0; i < 3; i++) th.failed('192.0.2.1', 'x');
    expect(th.blockedFor('192.0.2.1')).toBe(10_000);
  });

  it('refuses nonsense settings', () => {
    expect(() => new AuthThrottle({ maxFailures: 0 })).toThrow(RangeError);
    expect(() => new AuthThrottle({ backoff: Number.NaN })).toThrow(RangeError);
  });
});
