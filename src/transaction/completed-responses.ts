import type { SipPeer } from './types.js';
import type { TimerEntry, TimerQueue, TimerTarget } from './timer-queue.js';
import type { HashIndex } from './hash-index.js';

/** Records outlive J by up to this much (and at most J/16), so that the sweep takes them in batches. */
const SWEEP_SLACK_MS = 200;
/** Response bytes are copied into shared chunks of this size (bigger ones get a chunk of their own). */
const CHUNK = 256 * 1024;
/** Released chunks kept for reuse: a sweep frees a few at a time, and the next records need as many. */
const SPARE_CHUNKS = 8;
/** Distinct (socket, proto) pairs the records point to: the listening UDP sockets, a handful in practice. */
const MAX_KINDS = 4096;

/** What a completed non-INVITE UDP server transaction leaves behind until Timer J fires. */
export interface CompletedResponse {
  /** The final response as sent. */
  readonly wire: Buffer;
  readonly from: SipPeer;
}

/**
 * The final responses of completed non-INVITE UDP server transactions, kept for Timer J (64*T1)
 * to answer retransmissions. At 3,000 requests/s that is ~100,000 records, which every major GC
 * would walk, so a record is no object at all and holds no pointer: a slot in a ring of typed
 * arrays (due time, port, family, socket and proto as a number in `kinds`, the hash of its key,
 * where its bytes are), its response, key and source address copied as bytes into shared 256 KB
 * chunks, and the layer's HashIndex maps the key's hash to the slot (no key string is kept:
 * `matches` compares a key with the stored bytes; the address string is made again on a hit). `head`/`tail` count
 * records (a slot is the count modulo the ring's size). Every record lives the same J, so they
 * expire in the order they came: one sweep timer for all of them (at most 200 ms late), and a
 * chunk is dropped once the oldest live record is past it. Bounded: past `max` the oldest goes
 * first (a late retransmission of it would be taken as a new request).
 */
export class CompletedResponses implements TimerTarget {
  private cap = 1024;
  /** Where `kinds` has the record's socket and proto. */
  private kindOf = new Uint16Array(1024);
  private ports = new Uint16Array(1024);
  private families = new Uint8Array(1024);
  private hashes = new Int32Array(1024);
  private dues = new Float64Array(1024);
  /** Sequence number of the chunk holding the bytes, offset in it, length of the response, of the key, of the address. */
  private chunkSeqs = new Float64Array(1024);
  private offsets = new Uint32Array(1024);
  private lengths = new Uint32Array(1024);
  private keyLengths = new Uint32Array(1024);
  private addrLengths = new Uint16Array(1024);
  /** The (socket, proto) pairs of the records, and the last one used (most records share it). */
  private kinds: { socket: unknown; proto: SipPeer['proto'] }[] = [];
  private lastKind = -1;
  /** Sequence numbers: of the oldest record kept, of the next record. */
  private head = 0;
  private tail = 0;
  /** Chunks still referenced, oldest first; `firstChunk` is the sequence number of chunks[0]. */
  private chunks: Buffer[] = [];
  /** Released shared chunks kept for reuse (at most SPARE_CHUNKS). */
  private spare: Buffer[] = [];
  private firstChunk = 0;
  private used = CHUNK; // the current chunk is full: the first record starts one
  private timer: TimerEntry | undefined = undefined;
  /** Records pushed out early by the bound. */
  evicted = 0;
  /** Records kept. */
  get size(): number {
    return this.tail - this.head;
  }

  /**
   * `index` is shared with the layer's open server transactions (one lookup per request finds
   * either): a record is the entry (hash of its key, slot), a small integer.
   */
  constructor(
    private readonly queue: TimerQueue,
    private readonly max: number,
    private readonly index: HashIndex,
  ) {}

  /** The record in slot `i` (a value found in the index). */
  at(i: number): CompletedResponse {
    const chunk = this.chunks[this.chunkSeqs[i]! - this.firstChunk]!;
    const off = this.offsets[i]!;
    const end = off + this.lengths[i]!;
    const a = end + this.keyLengths[i]!;
    const kind = this.kinds[this.kindOf[i]!]!;
    return {
      wire: chunk.subarray(off, end),
      from: { addr: chunk.toString('utf8', a, a + this.addrLengths[i]!), port: this.ports[i]!, family: this.families[i] as 4 | 6, proto: kind.proto, socket: kind.socket },
    };
  }

  /** True when slot `i` is the record of `key` (its key's bytes are `key` in UTF-8). */
  matches(i: number, key: string): boolean {
    const chunk = this.chunks[this.chunkSeqs[i]! - this.firstChunk]!;
    const off = this.offsets[i]! + this.lengths[i]!;
    const n = this.keyLengths[i]!;
    if (n < key.length) return false; // UTF-8 takes at least a byte per UTF-16 unit
    if (n === key.length) {
      let k = 0;
      for (; k < n; k++) {
        const c = key.charCodeAt(k);
        if (c > 127 || chunk[off + k] !== c) break;
      }
      if (k === n) return true;
      if (key.charCodeAt(k) <= 127) return false; // an ASCII character differs
    }
    // Not all ASCII (rare): compare the UTF-8 bytes.
    return Buffer.from(key, 'utf8').equals(chunk.subarray(off, off + n));
  }

  /** J/16 of the latest record: short timers (tests) get a short slack. */
  private slack = SWEEP_SLACK_MS;

  /** Keep `wire` for `key` (whose hash is `h`) for `ms`, and index it. */
  retain(key: string, h: number, wire: Buffer, from: SipPeer, ms: number): void {
    this.slack = ms >>> 4;
    if (this.size >= this.max) {
      while (this.size >= this.max && this.head < this.tail) {
        if (this.dropFront()) this.evicted++;
      }
      // The chunks of evicted records go now, not at the next sweep (up to J later): the bound
      // holds for their bytes too, and a released chunk is reused (no fresh pages).
      this.releaseChunks();
    }
    const kind = this.kind(from);
    if (kind < 0) return; // thousands of sockets with live records: this one is not kept
    if (this.tail - this.head === this.cap) this.grow();
    const i = this.tail++ & (this.cap - 1);
    this.kindOf[i] = kind;
    this.ports[i] = from.port;
    this.families[i] = from.family;
    this.hashes[i] = h;
    this.dues[i] = this.queue.clock.now() + ms;
    this.store(i, wire, key, from.addr);
    this.index.insert(h, i);
    if (this.timer === undefined) this.timer = this.queue.schedule(ms, this);
  }

  /** The sweep: drop every record whose J has passed, then wait for the next one's. */
  onTimer(): void {
    this.timer = undefined;
    const now = this.queue.clock.now();
    while (this.head < this.tail) {
      const due = this.dues[this.head & (this.cap - 1)]!;
      if (due > now) {
        // A little late on purpose: one sweep takes a batch, not one record per wake-up.
        this.timer = this.queue.schedule(due - now + Math.min(SWEEP_SLACK_MS, this.slack), this);
        break;
      }
      this.dropFront();
    }
    this.releaseChunks();
  }

  /** Drop every record (the layer clears the shared index). */
  clear(): void {
    this.head = this.tail = 0;
    this.kinds = [];
    this.lastKind = -1;
    this.chunks = [];
    this.spare = [];
    this.firstChunk = 0;
    this.used = CHUNK;
    this.queue.cancel(this.timer);
    this.timer = undefined;
  }

  /** The number of (from.socket, from.proto) in `kinds`; -1 when it is full of live ones. */
  private kind(from: SipPeer): number {
    const kinds = this.kinds;
    const last = this.lastKind;
    if (last >= 0 && kinds[last]!.socket === from.socket && kinds[last]!.proto === from.proto) return last;
    let k = 0;
    while (k < kinds.length && (kinds[k]!.socket !== from.socket || kinds[k]!.proto !== from.proto)) k++;
    if (k === kinds.length) {
      if (k >= MAX_KINDS && (k = this.compactKinds()) >= MAX_KINDS) return -1;
      this.kinds.push({ socket: from.socket, proto: from.proto }); // compactKinds made a new list
    }
    return (this.lastKind = k);
  }

  /** Keep only the kinds live records use (renumbered); returns how many that is. */
  private compactKinds(): number {
    const renum = new Int32Array(this.kinds.length).fill(-1);
    const kept: { socket: unknown; proto: SipPeer['proto'] }[] = [];
    for (let s = this.head; s < this.tail; s++) {
      const i = s & (this.cap - 1);
      const k = this.kindOf[i]!;
      if (renum[k]! < 0) renum[k] = kept.push(this.kinds[k]!) - 1;
      this.kindOf[i] = renum[k]!;
    }
    this.kinds = kept;
    this.lastKind = -1;
    return kept.length;
  }

  /** Copy the response's bytes, then the key's and the address's, into the current chunk (a new one when it is full). */
  private store(i: number, wire: Buffer, key: string, addr: string): void {
    const n = wire.length;
    // Room for key and address in UTF-8 at their longest (3 bytes per UTF-16 unit); ASCII in practice.
    const room = n + 3 * (key.length + addr.length);
    let chunk: Buffer;
    let off = 0;
    const big = room > CHUNK >>> 3;
    if (big) {
      // Big: a chunk of its own (a copy, so the caller's buffer is not kept).
      chunk = Buffer.allocUnsafeSlow(room);
      this.chunks.push(chunk);
    } else {
      if (this.used + room > CHUNK) {
        // A released chunk again when there is one: its pages are already mapped (a fresh 256 KB
        // allocation is a fresh mmap, and the first write to each page a page fault).
        this.chunks.push(this.spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK));
        this.used = 0;
      }
      chunk = this.chunks[this.chunks.length - 1]!;
      off = this.used;
    }
    // TypedArray#set: a V8 builtin (Buffer#copy goes through argument checks and a C++ binding).
    chunk.set(wire, off);
    const k = writeText(chunk, off + n, key);
    const a = writeText(chunk, off + n + k, addr);
    // After a big one, the next small one starts a fresh shared chunk.
    this.used = big ? CHUNK : off + n + k + a;
    this.offsets[i] = off;
    this.chunkSeqs[i] = this.firstChunk + this.chunks.length - 1;
    this.lengths[i] = n;
    this.keyLengths[i] = k;
    this.addrLengths[i] = a;
  }

  /** Take the oldest record; true when it was still indexed. */
  private dropFront(): boolean {
    const i = this.head++ & (this.cap - 1);
    return this.index.remove(this.hashes[i]!, i);
  }

  /** Drop the chunks no kept record points into any more (the current one stays while kept records use it). */
  private releaseChunks(): void {
    const oldest = this.head < this.tail ? this.chunkSeqs[this.head & (this.cap - 1)]! : this.firstChunk + this.chunks.length;
    const drop = oldest - this.firstChunk;
    if (drop <= 0) return;
    for (let k = 0; k < drop && this.spare.length < SPARE_CHUNKS; k++) {
      const c = this.chunks[k]!;
      if (c.length === CHUNK) this.spare.push(c);
    }
    this.chunks.splice(0, drop);
    this.firstChunk = oldest;
    if (this.chunks.length === 0) this.used = CHUNK;
  }

  /** Double the ring, keeping the records in order from slot 0. */
  private grow(): void {
    const old = this.cap;
    const cap = old * 2;
    const mask = old - 1;
    const head = this.head;
    const n = this.tail - head;
    const move = <T extends { [k: number]: unknown; length: number }>(src: T, dst: T): T => {
      for (let k = 0; k < n; k++) dst[(head + k) & (cap - 1)] = src[(head + k) & mask];
      return dst;
    };
    this.kindOf = move(this.kindOf, new Uint16Array(cap));
    this.ports = move(this.ports, new Uint16Array(cap));
    this.families = move(this.families, new Uint8Array(cap));
    this.hashes = move(this.hashes, new Int32Array(cap));
    this.dues = move(this.dues, new Float64Array(cap));
    this.chunkSeqs = move(this.chunkSeqs, new Float64Array(cap));
    this.offsets = move(this.offsets, new Uint32Array(cap));
    this.lengths = move(this.lengths, new Uint32Array(cap));
    this.keyLengths = move(this.keyLengths, new Uint32Array(cap));
    this.addrLengths = move(this.addrLengths, new Uint16Array(cap));
    this.cap = cap;
    // The records moved to other slots: renumber their index entries in one pass (a record's old
    // slot s held the sequence number head + ((s - head) mod old), its new slot is that mod cap).
    // (Negative values are the open transactions', which stay as they are.)
    this.index.renumber((v) => (v < 0 ? v : (head + ((v - head) & mask)) & (cap - 1)));
  }
}

/** Write `key` at `off` in UTF-8 (a loop for ASCII, which keys and addresses are in practice); returns its length in bytes. */
function writeText(chunk: Buffer, off: number, key: string): number {
  const n = key.length;
  for (let k = 0; k < n; k++) {
    const c = key.charCodeAt(k);
    if (c > 127) return chunk.write(key, off, 'utf8');
    chunk[off + k] = c;
  }
  return n;
}
