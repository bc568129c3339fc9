import { describe, expect, it } from 'vitest';
import { ShardedMap } from '../../src/transaction/sharded-map.js';

describe('ShardedMap (the server-transaction table)', () => {
  it('behaves as a Map: get, set, delete, size, values, clear', () => {
    const m = new ShardedMap<number>();
    for (let i = 0; i < 1000; i++) m.set(`k${i}`, i);
    m.set('k5', 55);
    expect(m.size).toBe(1000);
    expect([m.get('k5'), m.get('k999'), m.get('nope')]).toEqual([55, 999, undefined]);
    expect([m.delete('k5'), m.delete('k5')]).toEqual([true, false]);
    expect(m.size).toBe(999); // a count kept by set/delete: a failed delete or an overwrite changes nothing
    expect([...m.values()].sort((a, b) => a - b).slice(0, 3)).toEqual([0, 1, 2]);
    m.clear();
    expect(m.size).toBe(0);
  });

  it('spreads sequential branches (sipp numbers its calls) evenly, so no shard grows to a big rebuild', () => {
    const m = new ShardedMap<number>();
    for (let i = 0; i < 100_000; i++) m.set(`z9hG4bK-4242-${i}-0|127.0.0.1:5070|OPTIONS`, i);
    const sizes = (m as unknown as { shards: Map<string, number>[] }).shards.map((s) => s.size);
    expect(sizes).toHaveLength(64);
    // Even would be 1,562 each.
    expect(Math.max(...sizes)).toBeLessThan(2_000);
    expect(Math.min(...sizes)).toBeGreaterThan(1_100);
  });
});
