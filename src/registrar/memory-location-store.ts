import type { Binding } from './binding.js';
import { applyUpdate } from './apply-update.js';
import type { BindingUpdate, LocationStore, UpdateResult } from './location-store.js';

export interface MemoryLocationStoreOptions {
  /** Most AORs held at once (default 100,000); a new AOR beyond it is refused ('full': 503) until some expire. */
  maxAors?: number;
}

interface Entry {
  bindings: Binding[];
  keepUntil: number;
}

const FULL: UpdateResult = { ok: false, reason: 'full' };

/**
 * Bindings in this process's memory: the embedded default, for one instance. Expired bindings
 * are dropped when their AOR is read or written, forgotten AORs when the table is full.
 * Keeps each binding's source connection as it is.
 */
export class MemoryLocationStore implements LocationStore {
  private readonly table = new Map<string, Entry>();
  private readonly maxAors: number;
  /** When the table was last swept (a full table is swept at most once a second, not per REGISTER). */
  private sweptAt = -Infinity;

  constructor(options: MemoryLocationStoreOptions = {}) {
    this.maxAors = options.maxAors ?? 100_000;
    if (!(this.maxAors >= 1)) throw new RangeError(`maxAors must be at least 1, got ${this.maxAors}`);
  }

  /** AORs held now (forgotten ones included until swept). */
  get size(): number {
    return this.table.size;
  }

  async get(aor: string, now: number): Promise<Binding[] | undefined> {
    const e = this.live(aor, now);
    return e === undefined ? undefined : e.bindings.slice();
  }

  async update(aor: string, u: BindingUpdate): Promise<UpdateResult> {
    const e = this.live(aor, u.now);
    if (e === undefined && this.table.size >= this.maxAors && !this.sweep(u.now)) return FULL;
    const r = applyUpdate(e?.bindings ?? [], u);
    if (!r.ok) return r;
    let keepUntil = u.keepUntil;
    for (const b of r.bindings) keepUntil = Math.max(keepUntil, b.expiresAt);
    this.table.set(aor, { bindings: r.bindings, keepUntil });
    return { ok: true, bindings: r.bindings.slice() };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.table.clear();
  }

  /** The AOR's entry with expired bindings dropped; undefined (and deleted) when it is forgotten. */
  private live(aor: string, now: number): Entry | undefined {
    const e = this.table.get(aor);
    if (e === undefined) return undefined;
    if (e.keepUntil <= now) {
      this.table.delete(aor);
      return undefined;
    }
    let expired = false;
    for (const b of e.bindings) if (b.expiresAt <= now) expired = true;
    if (expired) e.bindings = e.bindings.filter((b) => b.expiresAt > now);
    return e;
  }

  /** Forget AORs past their keepUntil; true when that made room. */
  private sweep(now: number): boolean {
    if (now - this.sweptAt >= 1000) {
      this.sweptAt = now;
      for (const [aor, e] of this.table) if (e.keepUntil <= now) this.table.delete(aor);
    }
    return this.table.size < this.maxAors;
  }
}
