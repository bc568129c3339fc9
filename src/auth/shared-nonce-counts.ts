/**
 * Nonce-counts shared by the instances of a service (RFC 7616 §3.4 replay protection across them):
 * with a shared nonce secret a client's nonce is good at every instance, so a request replayed to
 * an instance that never saw its nonce must still be refused. RedisNonceCounts is one.
 */
export interface SharedNonceCounts {
  /**
   * Record `nc` for `nonce` when it is above every count any instance recorded for it (true), or
   * refuse it as a replay (false), in one atomic step. The record must last `ttl` ms (the nonce's
   * life). Rejects when the store cannot be reached: the request is answered 503.
   */
  accept(nonce: string, nc: number, ttl: number): Promise<boolean>;
}
