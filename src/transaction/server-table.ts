import { CompletedResponses, type CompletedResponse } from './completed-responses.js';
import { HashIndex, keyHash } from './hash-index.js';
import type { ServerTransaction } from './server-transaction.js';
import type { TimerQueue } from './timer-queue.js';

/**
 * The layer's server transactions by key (RFC 3261 §17.2.3): the open ones, and the non-INVITE
 * UDP ones in Completed state reduced to records (CompletedResponses) until Timer J. One
 * HashIndex holds both, so one lookup per request finds a retransmission of either; its values
 * are a record's slot (>= 0) or ~n for the open transaction n of `open`.
 *
 * A request's key is hashed once (`hash`), and that number serves its lookup, its insertion, its
 * Completed record and its removal. Nothing holds the key string once the transaction is gone: a
 * hit is checked against the open transaction's key, or the record's stored key bytes, so keys
 * that share a hash are still told apart.
 */
export class ServerTable {
  private readonly index = new HashIndex();
  private readonly records: CompletedResponses;
  /** Open transactions by number (`_index`); free numbers are reused, most recent first. */
  private open: (ServerTransaction | undefined)[] = [];
  private free: number[] = [];
  /** Each table its own seed: keys chosen to share one hash cannot be computed in advance. */
  private readonly seed = (Math.random() * 0x100000000) | 0;

  constructor(queue: TimerQueue, maxCompleted: number) {
    this.records = new CompletedResponses(queue, maxCompleted, this.index);
  }

  /** Records kept for Timer J. */
  get completedSize(): number {
    return this.records.size;
  }

  /** Records pushed out by the bound before their Timer J. */
  get evicted(): number {
    return this.records.evicted;
  }

  /** The hash of `key` that find/add take (a method, so that a test can force collisions). */
  hash(key: string): number {
    return keyHash(key, this.seed);
  }

  /** The open transaction of `key` (hash `h`), or its record's slot, or undefined. */
  find(key: string, h: number): ServerTransaction | number | undefined {
    const ix = this.index;
    for (let p = ix.next(h, h & ix.mask); p !== -1; p = ix.next(h, (p + 1) & ix.mask)) {
      const v = ix.vals[p]!;
      if (v < 0) {
        const txn = this.open[~v]!;
        if (txn.key === key) return txn;
      } else if (this.records.matches(v, key)) return v;
    }
    return undefined;
  }

  /** The record in slot `i` (a number `find` returned). */
  record(i: number): CompletedResponse {
    return this.records.at(i);
  }

  /** Add an open transaction whose key hashes to `h`. */
  add(txn: ServerTransaction, h: number): void {
    const n = this.free.length > 0 ? this.free.pop()! : this.open.length;
    this.open[n] = txn;
    txn._hash = h;
    txn._index = n;
    this.index.insert(h, ~n);
  }

  /** Remove an open transaction (nothing when it is not in the table). */
  remove(txn: ServerTransaction): void {
    const n = txn._index;
    if (n < 0 || this.open[n] !== txn) return;
    this.index.remove(txn._hash, ~n);
    this.open[n] = undefined;
    this.free.push(n);
    txn._index = -1;
  }

  /** The open transaction becomes a record of its response's bytes for `ms` (Timer J). */
  retain(txn: ServerTransaction, wire: Buffer, ms: number): void {
    this.remove(txn);
    this.records.retain(txn.key, txn._hash, wire, txn.from, ms);
  }

  /** The open transactions (a copy: ending one removes it). */
  openTransactions(): ServerTransaction[] {
    return this.open.filter((t): t is ServerTransaction => t !== undefined);
  }

  clear(): void {
    for (const t of this.open) if (t !== undefined) t._index = -1;
    this.open = [];
    this.free = [];
    this.records.clear();
    this.index.clear();
  }
}
