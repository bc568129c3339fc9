import { createHash } from 'node:crypto';
import { RedisScript, type RedisScriptClient } from './redis-script.js';
import type { SharedAuthStrikes, SharedBlock, StrikeRules } from './shared-auth-strikes.js';

/**
 * AuthThrottle's strike on one offender (a hash: failures, window start, blocked until, level),
 * forgotten (the key expires) once quiet for maxBackoff after its block.
 * ARGV: now, window, backoff, maxBackoff, limit. Returns {blockedUntil, level}.
 */
const STRIKE = new RedisScript(`
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'f', 'w', 'b', 'l')
local f = tonumber(v[1]) or 0
local w = tonumber(v[2]) or now
local b = tonumber(v[3]) or 0
local l = tonumber(v[4]) or 0
if now - w > window then
  f = 0
  w = now
end
f = f + 1
if f >= tonumber(ARGV[5]) and b <= now then
  b = now + math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ l)
  l = l + 1
  f = 0
  w = now
end
redis.call('HSET', KEYS[1], 'f', f, 'w', string.format('%d', w), 'b', string.format('%d', b), 'l', l)
redis.call('PEXPIREAT', KEYS[1], string.format('%d', math.max(b, now) + tonumber(ARGV[4])))
return { string.format('%d', b), l }
`);

/**
 * Failed-attempt counters in Redis, one key per source (`<prefix>s:<source>`) and per username
 * (`<prefix>u:<name>`, a long name hashed), each updated by one script (two in parallel per
 * failure; one key per script, so it runs on a Redis Cluster too).
 */
export class RedisAuthStrikes implements SharedAuthStrikes {
  private readonly client: RedisScriptClient;
  private readonly prefix: string;

  constructor(options: { client: RedisScriptClient; prefix?: string }) {
    this.client = options.client;
    this.prefix = options.prefix ?? 'sip:auth:';
  }

  async strike(source: string, user: string, r: StrikeRules): Promise<{ source: SharedBlock; user: SharedBlock }> {
    const base = [String(r.now), String(r.window), String(r.backoff), String(r.maxBackoff)];
    const name = user.length <= 64 ? user : createHash('sha1').update(user).digest('hex');
    const [s, u] = await Promise.all([
      STRIKE.run(this.client, [`${this.prefix}s:${source}`], [...base, String(r.maxFailures)]),
      STRIKE.run(this.client, [`${this.prefix}u:${name}`], [...base, String(r.maxUserFailures)]),
    ]);
    return { source: block(s), user: block(u) };
  }
}

function block(reply: unknown): SharedBlock {
  const [b, l] = Array.isArray(reply) ? reply : [];
  return { blockedUntil: Number(b) || 0, level: Number(l) || 0 };
}
