import { fmix } from '../transport/hash-mix.js';

/** An empty position of the index (no value is ever this). */
export const EMPTY = 0x7fffffff;
/** Fewest positions: a layer with little traffic keeps 2 x 4 KB. */
const MIN_CAP = 1024;

/**
 * A multimap from 32-bit hashes to 32-bit values in two typed arrays (open addressing, linear
 * probing, at most half full): the table of the layer's server transactions and Completed records.
 * A JS Map of 100,000+ string keys is 100,000 strings and a backing store that every major GC
 * walks, that V8 rebuilds at once when it grows (a 28 ms pause at 131,072 entries), and whose
 * copies, allocated young, survive scavenges (which is what grows V8's young generation). Here
 * there is nothing for the GC to walk, and growing rehashes integers (about 1 ms at 131,072).
 *
 * The index stores no keys: different keys may share a hash, so a hash can have several entries,
 * and the caller checks each candidate against its key (ServerTable.find). An entry is removed or
 * changed by its exact (hash, value) pair, which is unique: a value names one transaction or one
 * record slot.
 */
export class HashIndex {
  /** Positions (a power of two), and that minus one. */
  cap = MIN_CAP;
  mask = MIN_CAP - 1;
  hashes = new Int32Array(MIN_CAP);
  vals = new Int32Array(MIN_CAP).fill(EMPTY);
  size = 0;

  insert(h: number, v: number): void {
    if (2 * (this.size + 1) > this.cap) this.grow();
    const mask = this.mask;
    const vals = this.vals;
    let p = h & mask;
    while (vals[p] !== EMPTY) p = (p + 1) & mask;
    this.hashes[p] = h;
    vals[p] = v;
    this.size++;
  }

  /**
   * The first position from `p` on (start at `h & mask`, go on at the one after a hit) whose entry
   * has hash `h`, or -1 once the run of entries ends: how every lookup walks the candidates of a hash.
   */
  next(h: number, p: number): number {
    const mask = this.mask;
    const hashes = this.hashes;
    const vals = this.vals;
    for (; vals[p] !== EMPTY; p = (p + 1) & mask) if (hashes[p] === h) return p;
    return -1;
  }

  /** The position of (h, v), or -1. */
  private position(h: number, v: number): number {
    for (let p = this.next(h, h & this.mask); p !== -1; p = this.next(h, (p + 1) & this.mask)) if (this.vals[p] === v) return p;
    return -1;
  }

  /** Renumber every value with `f` (values are unique, so entries stay where they are). */
  renumber(f: (v: number) => number): void {
    const vals = this.vals;
    for (let p = 0; p < vals.length; p++) if (vals[p] !== EMPTY) vals[p] = f(vals[p]!);
  }

  /** Remove (h, v); false when it is not there. */
  remove(h: number, v: number): boolean {
    let i = this.position(h, v);
    if (i < 0) return false;
    // Backward-shift deletion (Knuth 6.4, algorithm R): no tombstones, probes stay short.
    const mask = this.mask;
    const hashes = this.hashes;
    const vals = this.vals;
    for (let j = (i + 1) & mask; vals[j] !== EMPTY; j = (j + 1) & mask) {
      const home = hashes[j]! & mask;
      // The entry at j may move to i only if its home position is not cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        hashes[i] = hashes[j]!;
        vals[i] = vals[j]!;
        i = j;
      }
    }
    vals[i] = EMPTY;
    this.size--;
    return true;
  }

  clear(): void {
    this.cap = MIN_CAP;
    this.mask = MIN_CAP - 1;
    this.hashes = new Int32Array(MIN_CAP);
    this.vals = new Int32Array(MIN_CAP).fill(EMPTY);
    this.size = 0;
  }

  private grow(): void {
    const oldHashes = this.hashes;
    const oldVals = this.vals;
    const cap = this.cap * 2;
    const mask = cap - 1;
    const hashes = new Int32Array(cap);
    const vals = new Int32Array(cap).fill(EMPTY);
    for (let k = 0; k < oldVals.length; k++) {
      const v = oldVals[k]!;
      if (v === EMPTY) continue;
      const h = oldHashes[k]!;
      let p = h & mask;
      while (vals[p] !== EMPTY) p = (p + 1) & mask;
      hashes[p] = h;
      vals[p] = v;
    }
    this.cap = cap;
    this.mask = mask;
    this.hashes = hashes;
    this.vals = vals;
  }
}

/**
 * A 32-bit hash of every character of `key`, seeded (each table draws its own seed, so that keys
 * chosen to collide cannot be computed offline and pile up in one run of the index): FNV-1a steps,
 * then murmur3's finaliser so that the low bits (the index position) depend on every character.
 */
export function keyHash(key: string, seed: number): number {
  let h = seed ^ key.length;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return fmix(h);
}
