import { SipParseError, tooLarge } from './errors.js';
import { DEFAULT_MAX_BODY, DEFAULT_MAX_HEADER, parseMessage, type ParseLimits } from './parse.js';

/** Receives what a StreamFramer finds in a byte stream. */
export interface FrameSink {
  /** One whole message (header and Content-Length bytes of body): hand it to parseMessage. */
  onFrame(data: Buffer): void;
  /**
   * A CRLF between messages (RFC 5626 §3.5.1). `ping` is true when it completes a CRLFCRLF
   * (answer it with one CRLF), false for a lone CRLF (a pong, or the first half of a ping).
   */
  onKeepAlive(ping: boolean): void;
}

/** A framing step: turns what a transport reads into whole messages (and keep-alives) for a sink. */
export interface Framer {
  /** Hand what `chunk` completes to `sink`; throws SipParseError when the input cannot be framed. */
  push(chunk: Buffer, sink: FrameSink): void;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CL_NAME = Buffer.from('content-length');
const MISSING = -1;
const MALFORMED = -2;
const CONFLICT = -3;

/**
 * Frames SIP messages in a TCP/TLS byte stream (RFC 3261 §18.3): the header ends at the first
 * empty line and Content-Length (required) gives the body size. Chunks may split messages anywhere
 * or hold several. Memory is bounded by the limits: a header that does not end within `maxHeader`
 * bytes or a Content-Length over `maxBody` is an error (513), as is any framing error (400); after an
 * error the framer is unusable, because a stream cannot resynchronise.
 *
 * Frames handed to the sink are views of the received chunks (no copy) when a chunk holds whole
 * messages; partial data is copied once into a buffer owned by the framer.
 */
export class StreamFramer implements Framer {
  private readonly maxHeader: number;
  private readonly maxBody: number;
  private buf: Buffer | undefined;
  private len = 0;
  /** Where the next search for the end of the header may start (relative to the pending data). */
  private scanFrom = 0;
  /** Length of the frame being completed, once its header is known. */
  private need = -1;
  private crlfRun = 0;
  private broken = false;

  constructor(limits?: ParseLimits) {
    this.maxHeader = limits?.maxHeader ?? DEFAULT_MAX_HEADER;
    this.maxBody = limits?.maxBody ?? DEFAULT_MAX_BODY;
  }

  /** Bytes held while waiting for the rest of a message. */
  get buffered(): number {
    return this.len;
  }
  get failed(): boolean {
    return this.broken;
  }
  /** True while the pending bytes are not a whole message (a slow or stalled sender). */
  get partial(): boolean {
    return this.len > 0;
  }

  push(chunk: Buffer, sink: FrameSink): void {
    if (this.broken) throw new SipParseError('Stream framing already failed');
    if (chunk.length === 0) return;
    try {
      if (this.len === 0) {
        // Nothing pending: positions from the previous data mean nothing for this chunk.
        this.scanFrom = 0;
        const used = this.consume(chunk, chunk.length, sink);
        if (used < chunk.length) this.keep(chunk, used, chunk.length);
        return;
      }
      if (this.need !== -1 && this.len + chunk.length < this.need) {
        this.append(chunk);
        return;
      }
      this.append(chunk);
      const data = this.buf!;
      const end = this.len;
      const used = this.consume(data, end, sink);
      if (used === end) {
        this.buf = undefined;
        this.len = 0;
        this.scanFrom = 0;
      } else if (used > 0) {
        // Frames already handed out may still view `data`: copy the rest into a new buffer
        // (keep() also rebases scanFrom onto it).
        this.buf = undefined;
        this.len = 0;
        this.keep(data, used, end);
      }
    } catch (err) {
      this.broken = true;
      this.buf = undefined;
      this.len = 0;
      throw err;
    }
  }

  /** Consume whole frames and keep-alives from data[0..end); returns the offset of the first unused byte. */
  private consume(data: Buffer, end: number, sink: FrameSink): number {
    let p = 0;
    while (p < end) {
      if (this.need === -1) {
        // Between messages: CRLF keep-alives.
        while (p < end) {
          const c = data[p];
          if (c === 13) {
            if (p + 1 >= end) return p;
            if (data[p + 1] !== 10) throw new SipParseError('Bare CR between messages');
            p += 2;
            this.crlfRun++;
            sink.onKeepAlive(this.crlfRun % 2 === 0);
          } else if (c === 10) p++;
          else break;
        }
        if (p >= end) return p;
        this.crlfRun = 0;
        const from = Math.max(p, this.scanFrom - 3);
        // `data` may be the framer's buffer, whose bytes past `end` are stale: the whole
        // CRLFCRLF must lie before `end`.
        const hdrEnd = data.indexOf(CRLFCRLF, from);
        if (hdrEnd === -1 || hdrEnd + 4 > end) {
          if (end - p > this.maxHeader) throw tooLarge('Header');
          this.scanFrom = end;
          return p;
        }
        if (hdrEnd - p > this.maxHeader) throw tooLarge('Header');
        const cl = contentLength(data, p, hdrEnd);
        if (cl < 0) {
          const err = new SipParseError(cl === MISSING ? 'Content-Length required on a stream' : cl === CONFLICT ? 'Conflicting Content-Length' : 'Malformed Content-Length');
          throw withHeaders(err, data, p, hdrEnd);
        }
        if (cl > this.maxBody) throw withHeaders(tooLarge('Body'), data, p, hdrEnd);
        this.need = hdrEnd + 4 + cl - p;
      }
      if (end - p < this.need) {
        this.scanFrom = end;
        return p;
      }
      const frameEnd = p + this.need;
      this.need = -1;
      this.scanFrom = frameEnd;
      sink.onFrame(data.subarray(p, frameEnd));
      p = frameEnd;
    }
    return p;
  }

  private keep(src: Buffer, from: number, to: number): void {
    const n = to - from;
    const cap = Math.max(4096, n * 2);
    const b = Buffer.allocUnsafe(cap);
    src.copy(b, 0, from, to);
    this.buf = b;
    this.len = n;
    // Positions are relative to the kept data now.
    this.scanFrom = Math.max(0, this.scanFrom - from);
  }

  private append(chunk: Buffer): void {
    let b = this.buf!;
    const need = this.len + chunk.length;
    if (need > b.length) {
      const nb = Buffer.allocUnsafe(Math.max(need, b.length * 2));
      b.copy(nb, 0, 0, this.len);
      this.buf = b = nb;
    }
    chunk.copy(b, this.len);
    this.len = need;
  }
}

/**
 * Content-Length from the raw header lines in data[start..end) (no CRLF at `end`). Looks at the first
 * letter of each line only, then compares the name case-insensitively ("Content-Length" or "l").
 */
function contentLength(data: Buffer, start: number, end: number): number {
  let value = MISSING;
  let p = start;
  while (p < end) {
    let e = data.indexOf(10, p);
    if (e === -1 || e > end) e = end;
    const c = data[p]! | 32;
    let q = -1;
    if (c === 108 /* l */) q = p + 1;
    else if (c === 99 /* c */ && e - p > 14) {
      let ok = true;
      for (let k = 1; k < 14; k++) {
        if ((data[p + k]! | 32) !== CL_NAME[k]) {
          ok = false;
          break;
        }
      }
      if (ok) q = p + 14;
    }
    if (q !== -1) {
      while (q < e && (data[q] === 32 || data[q] === 9)) q++;
      if (data[q] === 58 /* : */) {
        q++;
        while (q < e && (data[q] === 32 || data[q] === 9)) q++;
        let v = 0;
        let digits = 0;
        while (q < e && data[q]! >= 48 && data[q]! <= 57) {
          v = v * 10 + data[q]! - 48;
          if (v > 0x7fffffff) return MALFORMED;
          digits++;
          q++;
        }
        while (q < e && (data[q] === 32 || data[q] === 9 || data[q] === 13)) q++;
        if (digits === 0 || q !== e) return MALFORMED;
        if (value !== MISSING && value !== v) return CONFLICT;
        value = v;
      }
    }
    p = e + 1;
  }
  return value;
}

/** Attach what can be read of the header to a framing error, so the pool can still answer 400/513. */
function withHeaders(err: SipParseError, data: Buffer, start: number, hdrEnd: number): SipParseError {
  try {
    const m = parseMessage(data.subarray(start, hdrEnd + 4), { maxHeader: Infinity, maxBody: Infinity });
    err.isRequest = m.isRequest();
    err.headers = m.headers;
  } catch (e) {
    // A Content-Length pointing past this block lands here too, with the headers read so far.
    if (e instanceof SipParseError) {
      err.isRequest = e.isRequest;
      err.headers = e.headers;
    }
  }
  return err;
}
