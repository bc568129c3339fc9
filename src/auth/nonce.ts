import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a nonce says when it comes back in a credential. */
export type NonceCheck = 'valid' | 'stale' | 'invalid';

/**
 * Nonces without per-challenge memory: `<issue time, base36>.<9 random bytes>.<HMAC-SHA256(secret,
 * time.random:realm)>`, base64url. Any instance holding the same secret checks any other's nonce; an authentic nonce
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
    // The random part keeps two challenges of one millisecond apart: each client counts its own nc.
    const t = `${this.now().toString(36)}.${randomBytes(9).toString('base64url')}`;
    return `${t}.${this.mac(t, realm)}`;
  }

  check(nonce: string, realm: string): NonceCheck {
    if (nonce.length > 80) return 'invalid';
    const dot = nonce.indexOf('.');
    const dot2 = dot <= 0 || dot > 12 ? -1 : nonce.indexOf('.', dot + 1);
    if (dot2 === -1) return 'invalid';
    const t = nonce.slice(0, dot2);
    const given = Buffer.from(nonce.slice(dot2 + 1), 'utf8');
    const expected = Buffer.from(this.mac(t, realm), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    const issued = issuedAt(nonce);
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
 * bounded: past `max` nonces the oldest is forgotten, and so is every nonce issued no later than it
 * (`forgotten()`): such a nonce gets a fresh challenge with stale=true instead of a check that could
 * let a replay through. Clients lose nothing but one round trip.
 */
export class NonceCounts {
  private readonly seen = new Map<string, number>();
  /** Issue time of the newest nonce evicted so far. */
  private floor = -Infinity;

  constructor(private readonly max = 100_000) {}

  /** True when `nc` is above every count seen for `nonce` (and records it). */
  accept(nonce: string, nc: number): boolean {
    const last = this.seen.get(nonce);
    if (last !== undefined && nc <= last) return false;
    if (last === undefined) {
      if (issuedAt(nonce) <= this.floor) return false;
      if (this.seen.size >= this.max) {
        const oldest = this.seen.keys().next().value;
        if (oldest !== undefined) {
          this.seen.delete(oldest);
          this.floor = Math.max(this.floor, issuedAt(oldest));
        }
      }
    }
    this.seen.set(nonce, nc);
    return true;
  }

  /** A nonce whose counts may have been evicted: it must not be trusted, only replaced. */
  forgotten(nonce: string): boolean {
    return !this.seen.has(nonce) && issuedAt(nonce) <= this.floor;
  }

  get size(): number {
    return this.seen.size;
  }
}

/** The issue time a NonceMinter wrote in front of the dot (NaN for anything else). */
function issuedAt(nonce: string): number {
  const dot = nonce.indexOf('.');
  return dot <= 0 ? NaN : parseInt(nonce.slice(0, dot), 36);
}
