import type { SipMessage } from '../message/index.js';
import { fmix } from './hash-mix.js';
import { transactionIdParts, type IdParts } from './transaction-key.js';

/** What the registry keeps on each connection: a ring of its recent ids and a busy count. */
export interface TidOwner {
  /** Ring of the most recent ids seen on this connection, as their two hashes (allocated on first use). */
  tidRing: Int32Array | undefined;
  /** Next ring position to write, and the ids in the ring. */
  tidNext: number;
  tidCount: number;
  /** Open transactions held on this connection (see SocketPool.hold). */
  busy: number;
  /** False once closed: a dead owner is never returned. */
  readonly usable: boolean;
}

interface Hold<C extends TidOwner> {
  owner: C;
  count: number;
}

/** Fewest positions of the table. */
const MIN_CAP = 64;

/**
 * Which connection each recent transaction belongs to: a pool-level table id -> connection, plus a
 * per-connection FIFO of at most MAX_TIDLIST ids. When a FIFO drops its oldest id, the entry is
 * removed only if that connection still owns it: an id a later request moved to another connection
 * stays routed there (the seed trims its lists without that check).
 *
 * Every request a stream brings in is filed here, so the table is no Map of id strings (a fresh id
 * string per request, flattened and hashed by V8, set and deleted: 300-600 ns a request): an id
 * is two seeded 32-bit hashes of its characters (64 bits: two ids that share both are not
 * expected in the life of a process, and the seeds are drawn per table, so they cannot be chosen
 * to), computed from the request's Via without building the string, in typed arrays with open
 * addressing. Nothing of the request is kept.
 *
 * Holds mark a connection busy while upper layers have transactions open on it; the expiry sweep
 * keeps busy connections.
 */
export class TidRegistry<C extends TidOwner> {
  private mask = MIN_CAP - 1;
  private h1s = new Int32Array(MIN_CAP);
  private h2s = new Int32Array(MIN_CAP);
  /** The owner at each position; undefined = empty. */
  private who: (C | undefined)[] = new Array<C | undefined>(MIN_CAP).fill(undefined);
  private count = 0;
  private readonly seed1 = (Math.random() * 0x100000000) | 0;
  private readonly seed2 = (Math.random() * 0x100000000) | 0;
  /** The two hashes of the id hashed last (hashId / hashMessage write them: no pair allocated). */
  private a = 0;
  private b = 0;
  private readonly parts: IdParts = { first: '', second: '' };
  private readonly holds = new Map<string, Hold<C>>();

  constructor(private readonly max: number) {}

  /** Number of ids routed (for tests and stats). */
  get size(): number {
    return this.count;
  }

  /** Remember that `tid` belongs to `owner` (the newest request wins). */
  add(tid: string, owner: C): void {
    if (this.max === 0) return;
    this.hashTid(tid);
    this.file(owner);
  }

  /** add(transactionKey(msg), owner) without making the string; false when `msg` has no id. */
  addMessage(msg: SipMessage, owner: C): boolean {
    if (!transactionIdParts(msg, this.parts)) return false;
    if (this.max === 0) return true;
    this.hashParts();
    this.file(owner);
    return true;
  }

  /** The live connection that owns `tid`, if any. */
  lookup(tid: string): C | undefined {
    this.hashTid(tid);
    return this.owned();
  }

  /** lookup(transactionKey(msg)) without making the string. */
  lookupMessage(msg: SipMessage): C | undefined {
    if (!transactionIdParts(msg, this.parts)) return undefined;
    this.hashParts();
    return this.owned();
  }

  /** Forget every id `owner` owns, and its holds (it closed: later releases of them are no-ops). */
  removeOwner(owner: C): void {
    for (const [tid, h] of this.holds) if (h.owner === owner) this.holds.delete(tid);
    const ring = owner.tidRing;
    if (ring === undefined) return;
    for (let k = 0; k < owner.tidCount; k++) this.drop(ring[2 * k]!, ring[2 * k + 1]!, owner);
    owner.tidRing = undefined;
    owner.tidNext = 0;
    owner.tidCount = 0;
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
    this.who.fill(undefined);
    this.count = 0;
    this.holds.clear();
  }

  /** Hash the parts transactionIdParts wrote, and let go of them (they are views of the message's text). */
  private hashParts(): void {
    const p = this.parts;
    this.hashId(p.first, p.second);
    p.first = p.second = '';
  }

  /**
   * Hash a tid string: its parts are what comes before and after the last space (as transactionKey
   * joins them; the second part, a sent-by or '#' + CSeq number, has none).
   */
  private hashTid(tid: string): void {
    const sp = tid.lastIndexOf(' ');
    if (sp < 0) this.hashId(tid, '');
    else this.hashId(tid.slice(0, sp), tid.slice(sp + 1));
  }

  /**
   * Hash the id of the parts `first` and `second` into a, b. Two characters a step (one multiply's
   * latency per pair: ids are ~40 characters, hashed once per request), each part on its own, so
   * that the string of transactionKey gives the same hashes through hashTid.
   */
  private hashId(first: string, second: string): void {
    let a = this.seed1;
    let b = this.seed2;
    for (let k = 0; k < 2; k++) {
      const s = k === 0 ? first : second;
      const n = s.length;
      let i = 0;
      for (; i + 1 < n; i += 2) {
        const c = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
        a = Math.imul(a ^ c, 0x01000193);
        b = Math.imul(b ^ c, 0x5bd1e995);
      }
      // The odd last character, then the part's length: "ab" + "c" and "a" + "bc" differ.
      const last = i < n ? s.charCodeAt(i) : 0;
      a = Math.imul(a ^ last ^ (n << 16), 0x01000193);
      b = Math.imul(b ^ last ^ (n << 16), 0x5bd1e995);
    }
    this.a = fmix(a);
    this.b = fmix(b ^ 0x2545f491);
  }

  /** The position of the id (a, b), or -1. */
  private find(a: number, b: number): number {
    const mask = this.mask;
    const who = this.who;
    for (let p = a & mask; who[p] !== undefined; p = (p + 1) & mask) if (this.h1s[p] === a && this.h2s[p] === b) return p;
    return -1;
  }

  /** The live owner of the id just hashed. */
  private owned(): C | undefined {
    const p = this.find(this.a, this.b);
    const c = p < 0 ? undefined : this.who[p];
    return c !== undefined && c.usable ? c : undefined;
  }

  /** The id just hashed belongs to `owner` now; into its ring unless it was its already. */
  private file(owner: C): void {
    const a = this.a;
    const b = this.b;
    const p = this.find(a, b);
    if (p >= 0) {
      if (this.who[p] === owner) return;
      this.who[p] = owner;
    } else this.insert(a, b, owner);
    const max = this.max;
    let ring = owner.tidRing;
    if (ring === undefined) ring = owner.tidRing = new Int32Array(2 * max);
    const i = owner.tidNext;
    if (owner.tidCount < max) owner.tidCount++;
    else {
      const oa = ring[2 * i]!;
      const ob = ring[2 * i + 1]!;
      if (oa !== a || ob !== b) this.drop(oa, ob, owner);
    }
    ring[2 * i] = a;
    ring[2 * i + 1] = b;
    owner.tidNext = i + 1 === max ? 0 : i + 1;
  }

  private insert(a: number, b: number, owner: C): void {
    if (2 * (this.count + 1) > this.who.length) this.grow();
    const mask = this.mask;
    let p = a & mask;
    while (this.who[p] !== undefined) p = (p + 1) & mask;
    this.h1s[p] = a;
    this.h2s[p] = b;
    this.who[p] = owner;
    this.count++;
  }

  /** Remove the id (a, b) if `owner` owns it: backward-shift deletion (no tombstones). */
  private drop(a: number, b: number, owner: C): void {
    let i = this.find(a, b);
    if (i < 0 || this.who[i] !== owner) return;
    const mask = this.mask;
    const who = this.who;
    for (let j = (i + 1) & mask; who[j] !== undefined; j = (j + 1) & mask) {
      // The entry at j may move back to i unless its home position lies cyclically in (i, j].
      const home = this.h1s[j]! & mask;
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      this.h1s[i] = this.h1s[j]!;
      this.h2s[i] = this.h2s[j]!;
      who[i] = who[j];
      i = j;
    }
    who[i] = undefined;
    this.count--;
  }

  private grow(): void {
    const oldWho = this.who;
    const oldA = this.h1s;
    const oldB = this.h2s;
    const cap = oldWho.length * 2;
    this.mask = cap - 1;
    this.h1s = new Int32Array(cap);
    this.h2s = new Int32Array(cap);
    this.who = new Array<C | undefined>(cap).fill(undefined);
    this.count = 0;
    for (let k = 0; k < oldWho.length; k++) {
      const o = oldWho[k];
      if (o !== undefined) this.insert(oldA[k]!, oldB[k]!, o);
    }
  }
}
