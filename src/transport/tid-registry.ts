/** What the registry keeps on each connection: a ring of its recent ids and a busy count. */
export interface TidOwner {
  /** Ring of the most recent ids seen on this connection (allocated on first use). */
  tidRing: string[] | undefined;
  tidNext: number;
  /** Open transactions held on this connection (see SocketPool.hold). */
  busy: number;
  /** False once closed: a dead owner is never returned. */
  readonly usable: boolean;
}

interface Hold<C extends TidOwner> {
  owner: C;
  count: number;
}

/**
 * Which connection each recent transaction belongs to: a pool-level map id -> connection, plus a
 * per-connection FIFO of at most MAX_TIDLIST ids. When a FIFO drops its oldest id, the map entry is
 * removed only if that connection still owns it: an id a later request moved to another connection
 * stays routed there (the seed trims its lists without that check).
 *
 * Holds mark a connection busy while upper layers have transactions open on it; the expiry sweep
 * keeps busy connections.
 */
export class TidRegistry<C extends TidOwner> {
  private readonly owners = new Map<string, C>();
  private readonly holds = new Map<string, Hold<C>>();

  constructor(private readonly max: number) {}

  /** Number of ids routed (for tests and stats). */
  get size(): number {
    return this.owners.size;
  }

  /** Remember that `tid` belongs to `owner` (the newest request wins). */
  add(tid: string, owner: C): void {
    const max = this.max;
    if (max === 0) return;
    const owners = this.owners;
    if (owners.get(tid) === owner) return;
    owners.set(tid, owner);
    let ring = owner.tidRing;
    if (ring === undefined) ring = owner.tidRing = [];
    const i = owner.tidNext;
    if (ring.length < max) ring.push(tid);
    else {
      const old = ring[i]!;
      if (old !== tid && owners.get(old) === owner) owners.delete(old);
      ring[i] = tid;
    }
    owner.tidNext = i + 1 === max ? 0 : i + 1;
  }

  /** The live connection that owns `tid`, if any. */
  lookup(tid: string): C | undefined {
    const c = this.owners.get(tid);
    return c !== undefined && c.usable ? c : undefined;
  }

  /** Forget every id `owner` owns, and its holds (it closed: later releases of them are no-ops). */
  removeOwner(owner: C): void {
    for (const [tid, h] of this.holds) if (h.owner === owner) this.holds.delete(tid);
    const ring = owner.tidRing;
    if (ring === undefined) return;
    const owners = this.owners;
    for (let i = 0; i < ring.length; i++) {
      const t = ring[i]!;
      if (owners.get(t) === owner) owners.delete(t);
    }
    owner.tidRing = undefined;
    owner.tidNext = 0;
  }

  /** Mark the connection of `tid` busy. False when no live connection carries it. */
  hold(tid: string): boolean {
    const h = this.holds.get(tid);
    if (h !== undefined && h.owner.usable) {
      h.count++;
      h.owner.busy++;
      return true;
    }
    // A hold whose connection died stays counted for its releases; the id now lives elsewhere.
    if (h !== undefined) this.holds.delete(tid);
    const owner = this.lookup(tid);
    if (owner === undefined) return false;
    this.holds.set(tid, { owner, count: 1 });
    owner.busy++;
    return true;
  }

  /** Undo one hold(tid). Returns the connection when that was its last hold (it is idle now). */
  release(tid: string): C | undefined {
    const h = this.holds.get(tid);
    if (h === undefined) return undefined;
    h.owner.busy--;
    if (--h.count === 0) this.holds.delete(tid);
    return h.owner.busy === 0 ? h.owner : undefined;
  }

  /** The held ids whose transactions run on `owner` (it is closing: their owners must learn it). */
  heldBy(owner: C): string[] {
    const out: string[] = [];
    for (const [tid, h] of this.holds) if (h.owner === owner) out.push(tid);
    return out;
  }

  /** Number of ids held. */
  get held(): number {
    return this.holds.size;
  }

  clear(): void {
    this.owners.clear();
    this.holds.clear();
  }
}
