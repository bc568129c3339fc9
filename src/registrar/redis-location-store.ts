import { createHash } from 'node:crypto';
import type { Binding } from './binding.js';
import { sortByUpdate } from './apply-update.js';
import { LocationStoreError, type BindingUpdate, type LocationStore, type UpdateResult } from './location-store.js';
import { UPDATE_SCRIPT } from './redis-update-script.js';
import { LocalFlows } from './local-flows.js';

/**
 * The commands the store uses, as the `redis` package's clients have them (createClient,
 * createCluster, createSentinel): pass any of them, or anything else with these three methods.
 */
export interface RedisClientLike {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  hGetAll(key: string): Promise<Record<string, string>>;
}

export interface RedisLocationStoreOptions {
  /**
   * `redis://[user:pass@]host:port[/db]` (or `rediss://`): the store makes its own client with the
   * `redis` package (an optional peer dependency, loaded only then), connects in the background,
   * reconnects by itself, and closes it in close().
   */
  url?: string;
  /** More createClient options with `url` (password, TLS, RESP...); `socket` is merged with the store's. */
  clientOptions?: Record<string, unknown>;
  /**
   * A client you made and connected yourself, e.g. createCluster(...) or createSentinel(...) for
   * Cluster / Sentinel; the store never closes it. Give it `disableOfflineQueue: true` so commands
   * fail at once while it reconnects (else they wait until `timeout`).
   */
  client?: RedisClientLike;
  /** Key prefix (default `sip:location:`): one hash per AOR, `<prefix><aor>`. */
  prefix?: string;
  /** A command not answered within this many ms fails (LocationStoreError; the registrar answers 503). Default 1000. */
  timeout?: number;
  /** Errors of the client the store made (connection lost, refused...): it keeps reconnecting meanwhile. */
  onError?: (err: Error) => void;
}

/** The subset of a `redis` package client the store drives when it made the client itself. */
interface OwnedClient extends RedisClientLike {
  on(event: 'error', fn: (err: Error) => void): unknown;
  once(event: 'ready' | 'error', fn: () => void): unknown;
  off(event: 'ready' | 'error', fn: () => void): unknown;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  readonly isReady: boolean;
}

/** A variable, so that bundlers and type checkers of users without `redis` do not look for it. */
const REDIS_MODULE = 'redis';
const UPDATE_SHA = createHash('sha1').update(UPDATE_SCRIPT).digest('hex');

/**
 * Bindings in Redis, shared by every instance of the service: one hash per AOR whose key expires
 * (a native TTL) when its last binding does and the AOR's keep time has passed. Updates run as one
 * Lua script (atomic, one round trip); lookups are one HGETALL. Each binding records its source;
 * the connection object stays in the process that received the REGISTER (its lookups get it back,
 * other instances see `source.node`, the instance that holds it).
 */
export class RedisLocationStore implements LocationStore {
  private readonly prefix: string;
  private readonly timeout: number;
  private readonly owned: Promise<OwnedClient> | undefined;
  private readonly given: RedisClientLike | undefined;
  /** The connections of the bindings this process wrote (Redis keeps no objects). */
  private readonly flows = new LocalFlows();
  /**
   * The store's connection, for more shared state on the same Redis (e.g. RedisNonceCounts for
   * digest authentication), with the store's timeout and fail-fast errors.
   */
  readonly redis: RedisClientLike = {
    evalSha: (sha1, o) => this.run('EVALSHA', (c) => c.evalSha(sha1, o)),
    eval: (script, o) => this.run('EVAL', (c) => c.eval(script, o)),
    hGetAll: (key) => this.run('HGETALL', (c) => c.hGetAll(key)),
  };
  /** Until the first connection attempt of the store's own client succeeded or failed. */
  private firstConnect: Promise<void> | undefined;

  constructor(options: RedisLocationStoreOptions) {
    if ((options.url === undefined) === (options.client === undefined)) throw new TypeError('RedisLocationStore needs either url or client');
    this.prefix = options.prefix ?? 'sip:location:';
    this.timeout = options.timeout ?? 1000;
    this.given = options.client;
    if (options.url !== undefined) {
      this.owned = openClient(options.url, options.clientOptions ?? {}, this.timeout, options.onError ?? (() => {}));
      this.firstConnect = this.owned.then(
        (c) =>
          new Promise<void>((resolve) => {
            const done = (): void => {
              c.off('ready', done);
              c.off('error', done);
              this.firstConnect = undefined;
              resolve();
            };
            if (c.isReady) return done();
            c.once('ready', done);
            c.once('error', done);
          }),
        // Failing to load the package is reported by each command; never an unhandled rejection.
        () => {
          this.firstConnect = undefined;
        },
      );
    }
  }

  async get(aor: string, now: number): Promise<Binding[] | undefined> {
    const hash = await this.run('lookup', (c) => c.hGetAll(this.prefix + aor));
    const fields = Object.keys(hash);
    if (fields.length === 0) return undefined;
    const out: Binding[] = [];
    for (const f of fields) {
      if (!f.startsWith('b:')) continue;
      const b = decode(hash[f]!);
      if (b !== undefined && b.expiresAt > now) out.push(b);
    }
    this.flows.attach(aor, out);
    return sortByUpdate(out);
  }

  async update(aor: string, u: BindingUpdate): Promise<UpdateResult> {
    const args = [String(u.now), u.callId, String(u.cseq), u.removeAll ? '1' : '0', String(u.maxBindings), String(u.keepUntil)];
    for (const c of u.changes) args.push(`b:${c.key}`, c.binding === undefined ? '' : encode(c.binding), String(c.binding?.expiresAt ?? 0));
    const opts = { keys: [this.prefix + aor], arguments: args };
    const reply = await this.run('update', async (c) => {
      try {
        return await c.evalSha(UPDATE_SHA, opts);
      } catch (err) {
        // First use on this server (or after a restart / SCRIPT FLUSH): EVAL loads it.
        if (!String((err as Error)?.message).includes('NOSCRIPT')) throw err;
        return c.eval(UPDATE_SCRIPT, opts);
      }
    });
    if (!Array.isArray(reply) || reply.length === 0) throw new LocationStoreError(`Redis location store: unexpected script reply ${String(reply)}`);
    const [status, ...rest] = reply as string[];
    if (status === 'out-of-order' || status === 'too-many') return { ok: false, reason: status };
    const bindings: Binding[] = [];
    for (const j of rest) {
      const b = decode(j);
      if (b !== undefined) bindings.push(b);
    }
    // The process that received the REGISTER keeps the connection objects it was given.
    const connections = new Map<string, unknown>();
    for (const c of u.changes) if (c.binding?.source?.connection !== undefined) connections.set(c.key, c.binding.source.connection);
    this.flows.written(aor, bindings, connections);
    this.flows.attach(aor, bindings);
    return { ok: true, bindings: sortByUpdate(bindings) };
  }

  /** One round trip (a read of a key nobody writes): rejects with the LocationStoreError a REGISTER would get. */
  async ping(): Promise<void> {
    await this.run('ping', (c) => c.hGetAll(`${this.prefix}~ping`));
  }

  async close(): Promise<void> {
    if (this.owned === undefined) return;
    let c: OwnedClient;
    try {
      c = await this.owned;
    } catch {
      return;
    }
    // A client still reconnecting has nothing to flush: destroy stops its retries at once.
    if (!c.isReady) return c.destroy();
    await c.close().catch(() => c.destroy());
  }

  /** One command with the store's timeout; every failure becomes a LocationStoreError. */
  private async run<T>(what: string, fn: (c: RedisClientLike) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LocationStoreError(`Redis location store: ${what} not answered within ${this.timeout} ms`)), this.timeout);
    });
    try {
      let client: RedisClientLike;
      if (this.given !== undefined) client = this.given;
      else {
        const owned = await this.owned!;
        // Only the first connection is waited for (the app's first REGISTER may come before it is up);
        // once Redis has been reached or refused, commands fail at once while it is away.
        if (this.firstConnect !== undefined) await Promise.race([this.firstConnect, timeout]);
        client = owned;
      }
      return await Promise.race([fn(client), timeout]);
    } catch (err) {
      if (err instanceof LocationStoreError) throw err;
      throw new LocationStoreError(`Redis location store: ${what} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}

async function openClient(url: string, extra: Record<string, unknown>, timeout: number, onError: (err: Error) => void): Promise<OwnedClient> {
  let mod: { createClient(options: object): OwnedClient };
  try {
    mod = (await import(REDIS_MODULE)) as typeof mod;
  } catch (err) {
    throw new LocationStoreError("RedisLocationStore with a url needs the 'redis' package: npm install redis", { cause: err });
  }
  const socket = {
    connectTimeout: timeout,
    // Keep trying (backing off to 2 s): the store answers 503 meanwhile and works again as soon as Redis is back.
    reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2000),
    ...(extra.socket as object | undefined),
  };
  const client = mod.createClient({ url, disableOfflineQueue: true, ...extra, socket });
  client.on('error', onError);
  // Not awaited: the app starts while Redis is down, and commands fail fast until it is up.
  client.connect().catch(onError);
  return client;
}

/** The stored form of a binding: everything but the connection object. */
function encode(b: Binding): string {
  if (b.source?.connection === undefined) return JSON.stringify(b);
  const { connection: _, ...source } = b.source;
  return JSON.stringify({ ...b, source });
}

function decode(json: string): Binding | undefined {
  let b: Binding;
  try {
    b = JSON.parse(json) as Binding;
  } catch {
    return undefined;
  }
  if (typeof b !== 'object' || b === null || typeof b.uri !== 'string' || typeof b.expiresAt !== 'number') return undefined;
  return b;
}
