import { createHash } from 'node:crypto';
import type { SharedNonceCounts } from './shared-nonce-counts.js';

/** The command a Redis client of the `redis` package has (a client, cluster or sentinel; or RedisLocationStore.redis). */
export interface RedisScriptClient {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Raise the stored count when the new one is above it; the key lives as long as the nonce. */
const SCRIPT = `
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
local nc = tonumber(ARGV[1])
if nc <= c then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;
const SHA = createHash('sha1').update(SCRIPT).digest('hex');

/**
 * Nonce-counts in Redis, one key per nonce (`<prefix><nonce>`) that expires with the nonce: an
 * atomic compare-and-raise script, one round trip per authenticated request.
 */
export class RedisNonceCounts implements SharedNonceCounts {
  private readonly client: RedisScriptClient;
  private readonly prefix: string;

  constructor(options: { client: RedisScriptClient; prefix?: string }) {
    this.client = options.client;
    this.prefix = options.prefix ?? 'sip:nc:';
  }

  async accept(nonce: string, nc: number, ttl: number): Promise<boolean> {
    const opts = { keys: [this.prefix + nonce], arguments: [String(nc), String(Math.max(1, Math.ceil(ttl)))] };
    let r: unknown;
    try {
      r = await this.client.evalSha(SHA, opts);
    } catch (err) {
      if (!String((err as Error)?.message).includes('NOSCRIPT')) throw err;
      r = await this.client.eval(SCRIPT, opts);
    }
    return Number(r) === 1;
  }
}
