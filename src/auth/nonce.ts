import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a nonce says when it comes back in a credential. */
export type NonceCheck = 'valid' | 'stale' | 'invalid';

/**
 * Nonces without per-challenge memory: `<issue time, base36>.<HMAC-SHA256(secret, time:realm)>`
 * in base64url. Any instance holding the same secret checks any other's nonce; an authentic nonce
 * past its lifetime is `stale` (the client gets a fresh challenge with `stale=true` and retries
 * without asking its user again), anything else is `invalid`.
 */
export class NonceMinter {
  private readonly secret: Buffer;

  constructor(
    secret: string | Buffer | undefined,
    /** How long a nonce is good for, ms. */
    readonly lifetime = 300_000,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = secret === undefined ? randomBytes(32) : Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
    if (this.secret.length < 16) throw new RangeError('the nonce secret needs at least 16 bytes');
  }

  mint(realm: string): string {
    const t = this.now().toString(36);
    return `${t}.${this.mac(t, realm)}`;
  }

  check(nonce: string, realm: string): NonceCheck {
    const dot = nonce.indexOf('.');
    if (dot <= 0 || dot > 12 || nonce.length > 64) return 'invalid';
    const t = nonce.slice(0, dot);
    const given = Buffer.from(nonce.slice(dot + 1), 'utf8');
    const expected = Buffer.from(this.mac(t, realm), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    const issued = parseInt(t, 36);
    if (!Number.isFinite(issued)) return 'invalid';
    const age = this.now() - issued;
    if (age < -5_000) return 'invalid'; // from the future: another instance's clock far ahead, or forged
    return age > this.lifetime ? 'stale' : 'valid';
  }

  private mac(t: string, realm: string): string {
    return createHmac('sha256', this.secret).update(`${t}:${realm}`).digest('base64url');
  }
}

/**
 * The highest nonce-count seen per nonce (RFC 7616 §3.4: a repeated or lower `nc` is a replay),
 * bounded: past `max` nonces the oldest is forgotten (its next use then counts as fresh, which
 * only lets a replay through for a nonce nobody used for a long while).
 */
export class NonceCounts {
  private readonly seen = new Map<string, number>();

  constructor(private readonly max = 100_000) {}

  /** True when `nc` is above every count seen for `nonce` (and records it). */
  accept(nonce: string, nc: number): boolean {
    const last = this.seen.get(nonce);
    if (last !== undefined && nc <= last) return false;
    if (last === undefined && this.seen.size >= this.max) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    this.seen.set(nonce, nc);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
