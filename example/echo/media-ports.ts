/**
 * RTP ports for calls, from a fixed range (even ports: RTP; the odd one above is RTCP's, RFC 3550):
 * a call takes one and gives it back when it ends. Bounded by the range: when none is free, the
 * caller is told (the call is refused) instead of growing anything.
 */
export class MediaPorts {
  private readonly free: number[] = [];
  private readonly taken = new Set<number>();

  constructor(first: number, last: number) {
    if (!(Number.isInteger(first) && Number.isInteger(last) && first > 0 && last <= 65535 && first <= last)) throw new Error(`bad media port range ${first}-${last}`);
    for (let p = first + (first % 2); p <= last; p += 2) this.free.push(p);
    if (this.free.length === 0) throw new Error(`media port range ${first}-${last} has no even port`);
  }

  /** A free port, or undefined when every one is in use. */
  take(): number | undefined {
    const p = this.free.shift();
    if (p !== undefined) this.taken.add(p);
    return p;
  }

  release(port: number): void {
    if (this.taken.delete(port)) this.free.push(port);
  }

  get available(): number {
    return this.free.length;
  }

  get inUse(): number {
    return this.taken.size;
  }

  /** "20000-20099" (SIP_MEDIA_PORTS). */
  static parse(range: string): MediaPorts {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(range.trim());
    if (m === null) throw new Error(`SIP_MEDIA_PORTS must look like 20000-20099, got ${JSON.stringify(range)}`);
    return new MediaPorts(Number(m[1]), Number(m[2]));
  }
}
