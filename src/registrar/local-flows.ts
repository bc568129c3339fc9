import { bindingKey, type Binding } from './binding.js';

interface Flow {
  updatedAt: number;
  connection: unknown;
}

/**
 * The connections of the bindings this process wrote, for a store that keeps no objects (Redis):
 * a lookup here gets the connection back in `source.connection` when the binding is still the one
 * this process wrote (same write time) and the connection is not destroyed. Other instances see
 * `source.node` instead. Bounded: past `max` AORs the oldest is forgotten.
 */
export class LocalFlows {
  private readonly byAor = new Map<string, Map<string, Flow>>();

  constructor(private readonly max = 100_000) {}

  /** After a successful update of `aor`: remember the new connections, forget replaced and removed bindings. */
  written(aor: string, bindings: readonly Binding[], connections: ReadonlyMap<string, unknown>): void {
    const old = this.byAor.get(aor);
    this.byAor.delete(aor);
    const flows = new Map<string, Flow>();
    for (const b of bindings) {
      const key = bindingKey(b);
      const conn = connections.get(key);
      if (conn !== undefined) flows.set(key, { updatedAt: b.updatedAt, connection: conn });
      else {
        const kept = old?.get(key);
        if (kept !== undefined && kept.updatedAt === b.updatedAt) flows.set(key, kept);
      }
    }
    if (flows.size === 0) return;
    if (this.byAor.size >= this.max) this.byAor.delete(this.byAor.keys().next().value!);
    this.byAor.set(aor, flows);
  }

  /** Put this process's live connections back into `bindings` (read from the store) of `aor`. */
  attach(aor: string, bindings: Binding[]): void {
    const flows = this.byAor.get(aor);
    if (flows === undefined) return;
    for (const b of bindings) {
      const f = flows.get(bindingKey(b));
      if (f === undefined || f.updatedAt !== b.updatedAt || b.source === undefined) continue;
      if ((f.connection as { destroyed?: boolean }).destroyed === true) flows.delete(bindingKey(b));
      else b.source.connection = f.connection;
    }
  }
}
