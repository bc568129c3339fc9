/**
 * A FIFO of pending send promises, settled in order by one shared callback. Stream writes and
 * datagram sends complete in the order they were issued, so a socket needs no closure per send:
 * `enqueue()` makes the caller's promise (through a shared executor, no closure) and the socket's
 * single write callback calls `settle()` for the oldest entry.
 */
type Resolve = (value: void) => void;
type Reject = (reason: Error) => void;

let capturedResolve: Resolve | undefined;
let capturedReject: Reject | undefined;
function capture(resolve: Resolve, reject: Reject): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

const COMPACT_AT = 1024;

export class SettleQueue {
  private resolves: (Resolve | undefined)[] = [];
  private rejects: (Reject | undefined)[] = [];
  private head = 0;

  /** Pending entries. */
  get size(): number {
    return this.resolves.length - this.head;
  }

  /** A promise settled by a later settle() / rejectAll(). */
  enqueue(): Promise<void> {
    const p = new Promise<void>(capture);
    this.resolves.push(capturedResolve);
    this.rejects.push(capturedReject);
    return p;
  }

  /** Settle the oldest entry: resolve, or reject with `err`. Returns false when none was pending. */
  settle(err?: Error): boolean {
    const i = this.head;
    if (i >= this.resolves.length) return false;
    const res = this.resolves[i]!;
    const rej = this.rejects[i]!;
    this.resolves[i] = undefined;
    this.rejects[i] = undefined;
    this.head = i + 1;
    if (this.head === this.resolves.length) this.reset();
    else if (this.head >= COMPACT_AT && this.head * 2 >= this.resolves.length) this.compact();
    if (err === undefined) res();
    else rej(err);
    return true;
  }

  /** Take back the newest entry (its write threw synchronously) and reject it. */
  rejectLast(err: Error): void {
    if (this.size === 0) return;
    this.resolves.pop();
    const rej = this.rejects.pop()!;
    if (this.head === this.resolves.length) this.reset();
    rej(err);
  }

  /** Reject every pending entry, oldest first. */
  rejectAll(err: Error): void {
    const rejects = this.rejects;
    const from = this.head;
    this.resolves = [];
    this.rejects = [];
    this.head = 0;
    for (let i = from; i < rejects.length; i++) rejects[i]!(err);
  }

  private reset(): void {
    this.resolves.length = 0;
    this.rejects.length = 0;
    this.head = 0;
  }

  private compact(): void {
    this.resolves = this.resolves.slice(this.head);
    this.rejects = this.rejects.slice(this.head);
    this.head = 0;
  }
}
