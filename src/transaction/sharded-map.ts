/** Number of shards: a power of two. */
const SHARDS = 64;

/**
 * A Map from string keys split over 64 Maps by a hash of the key. V8 grows (and, once deletions
 * pile up, rebuilds) a Map all at once: at 262,144 entries that is a 55 ms pause of the event
 * loop, at 131,072 about 28 ms, and a server holding 100,000+ transactions (Timer J keeps every
 * completed one 32 s) met it every few seconds. Split, each rebuild is 1/64 of that (under 1 ms),
 * for a hash of the key's characters per operation. Keys an attacker chose to collide only land in
 * one shard, which is then no worse than one Map.
 */
export class ShardedMap<V> {
  private readonly shards: Map<string, V>[] = Array.from({ length: SHARDS }, () => new Map<string, V>());
  /**
   * The last key hashed and its shard: a request's key is looked up, then set (new transaction),
   * then set again (its Completed record), so most operations skip the hash.
   */
  private lastKey = '';
  private lastShard = 0;

  private shardFor(key: string): Map<string, V> {
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastShard = shardOf(key);
    }
    return this.shards[this.lastShard]!;
  }

  /** Entries, kept as a count: a size read per request (the dialog table's `full`) must not walk 64 Maps. */
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(key: string): boolean {
    return this.shardFor(key).has(key);
  }

  get(key: string): V | undefined {
    return this.shardFor(key).get(key);
  }

  set(key: string, value: V): void {
    const m = this.shardFor(key);
    const before = m.size;
    m.set(key, value);
    this.count += m.size - before;
  }

  delete(key: string): boolean {
    if (!this.shardFor(key).delete(key)) return false;
    this.count--;
    return true;
  }

  clear(): void {
    for (const m of this.shards) m.clear();
    this.count = 0;
  }

  /** Every value, shard by shard (not in insertion order). */
  *values(): IterableIterator<V> {
    for (const m of this.shards) yield* m.values();
  }
}

/**
 * A hash of every character (keys are ~50 characters). Shifts and adds, not Math.imul: the
 * callgrind profile showed Math.imul called as a builtin per character (~4k instructions per
 * request over the 4-5 lookups a request makes). One multiply at the end mixes the bits.
 */
function shardOf(key: string): number {
  let h = key.length;
  for (let i = 0; i < key.length; i++) h = ((h << 5) - h + key.charCodeAt(i)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x9e3779b1);
  return (h >>> 26) & (SHARDS - 1);
}
