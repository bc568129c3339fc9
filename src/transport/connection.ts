import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parseMessage, responseForParseError, SipParseError, StreamFramer, type FrameSink, type Framer } from '../message/index.js';
import { normalizeAddr, toFamily } from './address.js';
import {
  ConnectFailedError,
  ConnectionClosedError,
  ConnectRefusedError,
  QueueFullError,
  TlsError,
  type SipTransportError,
} from './errors.js';
import { SettleQueue } from './settle-queue.js';
import type { From } from './types.js';
import { CLOSED, CLOSING, CONNECTING, nextFlowId, now, OPEN, type ConnectionOwner, type PoolConnection, unusableMessage } from './pool-connection.js';

const CRLF = Buffer.from('\r\n');

/**
 * One TCP or TLS connection of a pool, inbound or outgoing: framing of the input, the write queue
 * (every write settles), activity for expiry, and the ids of its recent requests.
 */
export class Connection implements FrameSink, PoolConnection {
  state = CONNECTING;
  readonly flow = nextFlowId();
  /** Peer as seen by the handler; made once, shared by every message of the connection. */
  from: From | undefined;
  /** Keys of this connection in the transport's peer map (requested address, real address). */
  keys: string[];
  /** Why the connection failed or was closed by us; what pending and later sends reject with. */
  failure: SipTransportError | undefined;
  /** The peer sent FIN: nothing more comes in, responses may still go out. */
  peerEnded = false;
  /** performance.now() of the last activity: connect, complete message in, write out, keep-alive. */
  lastActivity = 0;
  /** Outgoing: when the connect (TLS handshake included) times out. */
  connectDeadline = 0;
  /** Pending-write progress, for the stall check of the sweep. */
  stallBytes = -1;
  stallSince = 0;
  closingSince = 0;
  tidRing: Int32Array | undefined = undefined;
  tidNext = 0;
  tidCount = 0;
  busy = 0;
  /** A request came in after our last write: the peer may still be owed an answer. */
  owed = false;
  /** Writes of this tick are held (cork) and leave together in one writev on the next tick. */
  corked = false;

  private framer: Framer | undefined;
  private readonly writes = new SettleQueue();
  /**
   * Outgoing: what was sent before the connection was ready. Nothing is written before the TLS
   * handshake has verified the server (Node would otherwise flush it with the handshake).
   */
  private early: Buffer[] | undefined;
  private earlyBytes = 0;
  /** TCP is up (outgoing TLS: the handshake errors after this are TLS failures). */
  private tcpUp: boolean;

  constructor(
    private readonly transport: ConnectionOwner,
    readonly socket: Socket | TLSSocket,
    readonly inbound: boolean,
    key: string | undefined,
  ) {
    this.keys = key === undefined ? [] : [key];
    this.tcpUp = inbound;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    if (!inbound) {
      if (transport.proto === 'tls') {
        socket.once('connect', this.onTcpUp);
        socket.once('secureConnect', this.onReady);
      } else socket.once('connect', this.onReady);
    }
  }

  /** Usable for responses: open and writable (a peer that only half-closed may still read). */
  get usable(): boolean {
    return this.state === OPEN && this.socket.writable;
  }

  /** Usable for new requests too: the peer can still answer. */
  get reusable(): boolean {
    return this.state <= OPEN && !this.peerEnded;
  }

  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  get bytesOut(): number {
    return this.socket.bytesWritten;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Start taking input (inbound: right away; outgoing: once connected). */
  open(): void {
    const s = this.socket;
    const addr = normalizeAddr(s.remoteAddress ?? '');
    this.from = {
      addr,
      port: s.remotePort ?? 0,
      // From the normalised address: a v4 peer of a dual-stack listener is IPv4, not IPv6.
      family: toFamily(undefined, addr),
      proto: this.transport.proto,
      socket: s,
      flow: this.flow,
    };
    this.framer = new StreamFramer(this.transport.parseLimits);
    this.state = OPEN;
    this.lastActivity = now();
    s.setNoDelay(true);
  }

  /** Queue `buf` for writing; settles when every byte is handed to the kernel, or fails. */
  write(buf: Buffer): Promise<void> {
    if (this.state >= CLOSING) return Promise.reject(this.failure ?? new ConnectionClosedError('connection closed'));
    const s = this.socket;
    if (this.state === CONNECTING) return this.writeEarly(buf);
    const queued = s.writableLength;
    if (queued > 0 && queued + buf.length > this.transport.limits.MAX_QUEUED_BYTES) {
      this.transport.stats.queueFull++;
      return Promise.reject(new QueueFullError(`write queue full (${queued} bytes pending)`));
    }
    const p = this.writes.enqueue();
    this.owed = false;
    try {
      if (!this.corked && buf.length < CORK_BELOW) {
        // The responses to one read's worth of requests go out in one system call, not one each.
        this.corked = true;
        s.cork();
        process.nextTick(uncork, this);
      }
      s.write(buf, this.onWritten);
    } catch (err) {
      this.writes.rejectLast(new ConnectionClosedError('write failed', { cause: err }));
    }
    return p;
  }

  private writeEarly(buf: Buffer): Promise<void> {
    const queued = this.earlyBytes;
    if (queued > 0 && queued + buf.length > this.transport.limits.MAX_QUEUED_BYTES) {
      this.transport.stats.queueFull++;
      return Promise.reject(new QueueFullError(`write queue full (${queued} bytes waiting for the connection)`));
    }
    (this.early ??= []).push(buf);
    this.earlyBytes = queued + buf.length;
    return this.writes.enqueue();
  }

  /** Write what waited for the connection, in order (their promises are already queued). */
  private flushEarly(): void {
    const early = this.early;
    if (early === undefined) return;
    this.early = undefined;
    this.earlyBytes = 0;
    const s = this.socket;
    for (const buf of early) s.write(buf, this.onWritten);
  }

  /** Close with `err` as the reason every pending and later send rejects with. */
  fail(err: SipTransportError): void {
    if (this.failure === undefined) this.failure = err;
    if (this.state === CLOSED) return;
    this.state = CLOSING;
    this.socket.destroy();
  }

  /**
   * Stop reading and close after `last` (an error response) is flushed, or at once without it. The
   * peer's FIN, or the sweep after a grace period, completes the close.
   */
  closeAfter(last: Buffer | undefined): void {
    if (this.state >= CLOSING) return;
    this.state = CLOSING;
    this.closingSince = now();
    this.transport.unlink(this);
    this.transport.graceFor(this);
    const s = this.socket;
    if (last !== undefined && s.writable) {
      this.transport.stats.errorResponses++;
      s.end(last);
    } else s.destroy();
  }

  /**
   * Input that cannot be used: answer 400 / 505 / 513 when the header could be read
   * (responseForParseError), then close, since a stream cannot resynchronise.
   */
  rejectInput(err: unknown): void {
    const stats = this.transport.stats;
    stats.parseErrors++;
    stats.connectionsFailed++;
    this.closeAfter(err instanceof SipParseError ? responseForParseError(err) : undefined);
  }

  /**
   * A whole frame (the framer found its end) that is not a usable message: answer it (400, 505...)
   * or drop it, and keep reading, since the next message starts right after it. Framing errors,
   * size limits (513) and frames that are not SIP close.
   */
  private rejectMessage(err: unknown): void {
    const verdict = unusableMessage(err);
    if (verdict === 'close') {
      this.rejectInput(err);
      return;
    }
    const stats = this.transport.stats;
    stats.parseErrors++;
    if (verdict === 'drop') return;
    stats.errorResponses++;
    this.write(verdict).catch(() => undefined);
  }


  /** Closing after the peer half-closed: flush what is queued, then FIN. */
  finish(): void {
    if (this.state >= CLOSING) return;
    this.state = CLOSING;
    this.closingSince = now();
    this.transport.unlink(this);
    this.socket.end();
  }

  // FrameSink: called by the framer from onData.
  onFrame(data: Buffer): void {
    if (this.state !== OPEN) return;
    this.lastActivity = now();
    let msg;
    try {
      msg = parseMessage(data, this.transport.parseLimits);
    } catch (err) {
      this.rejectMessage(err);
      return;
    }
    if (msg.isRequest()) this.owed = true;
    this.transport.receive(msg, this);
  }

  onKeepAlive(ping: boolean): void {
    if (this.state !== OPEN) return;
    this.lastActivity = now();
    this.transport.stats.keepAlives++;
    // RFC 5626 §3.5.1: a CRLFCRLF ping gets a CRLF pong; never more than the queue allows.
    const s = this.socket;
    if (ping && s.writable && s.writableLength < this.transport.limits.MAX_QUEUED_BYTES) s.write(CRLF);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.state !== OPEN) return;
    try {
      this.framer!.push(chunk, this);
    } catch (err) {
      // Framing failed (400) or a size limit was hit (513).
      this.rejectInput(err);
    }
  };

  private readonly onWritten = (err?: Error | null): void => {
    if (err) {
      this.writes.settle(this.failure ?? new ConnectionClosedError(`write failed: ${err.message}`, { cause: err }));
      return;
    }
    this.lastActivity = now();
    this.transport.stats.messagesOut++;
    this.writes.settle();
  };

  private readonly onTcpUp = (): void => {
    this.tcpUp = true;
  };

  private readonly onReady = (): void => {
    if (this.state !== CONNECTING) return;
    this.open();
    this.transport.connected(this);
    this.flushEarly();
  };

  private readonly onEnd = (): void => {
    this.peerEnded = true;
    if (this.state === CLOSING) {
      this.socket.destroy();
      return;
    }
    this.transport.unlink(this);
    // Nothing running on it and nothing owed: close our side now. A peer that lingers on close
    // (sipp -t tn) waits for our FIN; holding it for the grace period cost ~40 ms per connection.
    if (this.busy === 0 && !this.owed) {
      this.finish();
      return;
    }
    // Half-closed with transactions open: their responses may still go out for a short grace (see the sweep).
    this.transport.peerEnded(this);
  };

  private readonly onError = (err: Error): void => {
    if (this.failure !== undefined) return;
    if (this.state === CONNECTING) {
      const code = (err as NodeJS.ErrnoException).code;
      if (!this.tcpUp) {
        this.failure =
          code === 'ECONNREFUSED'
            ? new ConnectRefusedError(`connection refused by ${this.describe()}`, { cause: err })
            : new ConnectFailedError(`cannot connect to ${this.describe()}: ${err.message}`, { cause: err });
      } else {
        this.failure = new TlsError(`TLS handshake with ${this.describe()} failed: ${err.message}`, { cause: err });
      }
    } else {
      this.failure = new ConnectionClosedError(`connection to ${this.describe()} failed: ${err.message}`, { cause: err });
    }
  };

  private readonly onClose = (): void => {
    this.state = CLOSED;
    this.framer = undefined;
    this.early = undefined;
    const failure = this.failure ?? new ConnectionClosedError(`connection to ${this.describe()} closed`);
    if (this.failure === undefined) this.failure = failure;
    this.writes.rejectAll(failure);
    this.transport.closed(this);
  };

  describe(): string {
    const f = this.from;
    if (f !== undefined) return f.family === 6 ? `[${f.addr}]:${f.port}` : `${f.addr}:${f.port}`;
    // Key "addr|port", or "addr|port|servername" for TLS to a named identity.
    const [addr, port, name] = (this.keys[0] ?? 'peer').split('|');
    return (port === undefined ? addr! : `${addr} port ${port}`) + (name === undefined ? '' : ` (as ${name})`);
  }
}

/**
 * Messages under this size are corked (coalesced per tick); bigger writes go out on their own, so
 * a bulk transfer keeps per-write back-pressure and failure reporting.
 */
const CORK_BELOW = 65536;

/** Release a connection's corked writes (scheduled once per tick by write()). */
function uncork(c: Connection): void {
  c.corked = false;
  c.socket.uncork();
}
