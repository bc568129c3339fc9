/** A source's or a username's block as every instance sees it. */
export interface SharedBlock {
  /** Ms since the epoch; 0 or past: not blocked. */
  blockedUntil: number;
  /** Blocks so far (the next lasts backoff * 2^level). */
  level: number;
}

/** AuthThrottle's rule, handed to the shared store with each strike. */
export interface StrikeRules {
  now: number;
  window: number;
  backoff: number;
  maxBackoff: number;
  maxFailures: number;
  maxUserFailures: number;
}

/**
 * Failed digest attempts counted across the instances of a service (RedisAuthStrikes is one), so
 * that a guesser spreading its attempts over N instances is blocked after maxFailures in all,
 * not N times as many. Only failures go to the store (one round trip each); each instance learns
 * of a block at the next failure it sees from that source or username.
 */
export interface SharedAuthStrikes {
  /** Count one failure of `source` and of `user` by `rules`; their blocks after it. */
  strike(source: string, user: string, rules: StrikeRules): Promise<{ source: SharedBlock; user: SharedBlock }>;
}
