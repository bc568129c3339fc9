// The integer multimap behind the server table: entries found, removed and renumbered by their
// exact (hash, value) pair, whatever the clustering.
import { describe, expect, it } from 'vitest';
import { EMPTY, HashIndex, keyHash } from '../../src/transaction/hash-index.js';

/** Every value stored under `h` (a probe as ServerTable.find does it). */
function valuesOf(ix: HashIndex, h: number): number[] {
  const out: number[] = [];
  for (let p = h & ix.mask; ix.vals[p] !== EMPTY; p = (p + 1) & ix.mask) if (ix.hashes[p] === h) out.push(ix.vals[p]!);
  return out.sort((x, y) => x - y);
}

describe('HashIndex', () => {
  it('keeps every entry reachable through inserts, removals in any order and growth, with clustered hashes', () => {
    const ix = new HashIndex();
    const model = new Map<number, number>(); // value -> hash
    let seed = 1;
    const rnd = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) % n);
    for (let step = 0; step < 20_000; step++) {
      if (model.size > 0 && rnd(3) === 0) {
        const vs = [...model.keys()];
        const v = vs[rnd(vs.length)]!;
        expect(ix.remove(model.get(v)!, v)).toBe(true);
        model.delete(v);
      } else {
        // Few distinct hashes, some of them neighbours: long runs that wrap around the end.
        const h = rnd(4) === 0 ? -1 - rnd(4) : rnd(8) * 1023;
        const v = step - 10_000; // negative and positive values
        ix.insert(h, v);
        model.set(v, h);
      }
    }
    expect(ix.size).toBe(model.size);
    const byHash = new Map<number, number[]>();
    for (const [v, h] of model) byHash.set(h, [...(byHash.get(h) ?? []), v]);
    for (const [h, vs] of byHash) expect(valuesOf(ix, h)).toEqual(vs.sort((x, y) => x - y));
    expect(ix.remove(12345, 1)).toBe(false);
  });

  it('keyHash depends on every character and on the seed', () => {
    const k = 'z9hG4bK-1234\u0001192.0.2.1:5060\u0001OPTIONS';
    expect(keyHash(k, 1)).toBe(keyHash(k, 1));
    expect(keyHash(k, 1)).not.toBe(keyHash(k, 2));
    expect(keyHash(k, 1)).not.toBe(keyHash(k.replace('1234', '1235'), 1));
    expect(keyHash(k, 1)).not.toBe(keyHash(k.replace('OPTIONS', 'OPTIONs'), 1));
  });
});
