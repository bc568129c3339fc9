/** murmur3's finaliser: every bit of the result depends on every bit of `h` (the pool's id table and the transaction layer's index both end their hashes with it). */
export function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
