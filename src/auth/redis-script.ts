import { createHash } from 'node:crypto';

/** The commands a Redis client of the `redis` package has (a client, cluster or sentinel; or RedisLocationStore.redis). */
export interface RedisScriptClient {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** A Lua script run by its SHA1, loaded with EVAL the first time a server has not seen it. */
export class RedisScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisScriptClient, keys: string[], args: string[]): Promise<unknown> {
    const opts = { keys, arguments: args };
    try {
      return await client.evalSha(this.sha, opts);
    } catch (err) {
      if (!String((err as Error)?.message).includes('NOSCRIPT')) throw err;
      return client.eval(this.source, opts);
    }
  }
}
