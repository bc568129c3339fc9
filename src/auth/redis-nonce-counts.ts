import { RedisScript, type RedisScriptClient } from './redis-script.js';
import type { SharedNonceCounts } from './shared-nonce-counts.js';

/** Raise the stored count when the new one is above it; the key lives as long as the nonce. */
const RAISE = new RedisScript(`
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
local nc = tonumber(ARGV[1])
if nc <= c then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);

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
    const r = await RAISE.run(this.client, [this.prefix + nonce], [String(nc), String(Math.max(1, Math.ceil(ttl)))]);
    return Number(r) === 1;
  }
}
