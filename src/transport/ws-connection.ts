import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { MessageFramer, parseWholeMessage, responseForParseError, SipParseError, type FrameSink } from '../message/index.js';
import { normalizeAddr, toFamily } from './address.js';
import { ConnectFailedError, ConnectionClosedError, ConnectionExpiredError, ConnectRefusedError, QueueFullError, TlsError, type SipTransportError } from './errors.js';
import { CLOSED, CLOSING, CONNECTING, nextFlowId, now, OPEN, type ConnectionOwner, type PoolConnection, unusableMessage } from './pool-connection.js';
import { SettleQueue } from './settle-queue.js';
import type { From } from './types.js';

/** WebSocket close codes (RFC 6455 §7.4.1). */
const NORMAL = 1000;
const PROTOCOL_ERROR = 1002;
const TOO_BIG = 1009;

/** Text frames for UTF-8 (what browsers expect of SIP), binary for anything else (RFC 7118 §5.2). */
const AS_TEXT = { binary: false };
const AS_BINARY = { binary: true };

/** Errors of a connect that never reached the server: anything else on a wss connect is TLS's. */
const NET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/**
 * One SIP-over-WebSocket connection (RFC 7118), inbound or outgoing: one SIP message per WebSocket
 * message (MessageFramer), the write queue with its bound (a peer that does not read is closed
 * when its queue would pass MAX_QUEUED_BYTES), and the activity the sweep expires it by (messages,
 * and WebSocket pings and pongs). Frames over the size limits are closed by `ws` itself with 1009.
 */
export class WsConnection implements FrameSink, PoolConnection {
  state = CONNECTING;
  readonly flow = nextFlowId();
  from: From | undefined;
  keys: string[];
  failure: SipTransportError | undefined;
  /** WebSocket has no half-close: a close frame ends both directions. */
  peerEnded = false;
  lastActivity = 0;
  connectDeadline = 0;
  stallBytes = -1;
  stallSince = 0;
  closingSince = 0;
  tidRing: Int32Array | undefined = undefined;
  tidNext = 0;
  tidCount = 0;
  busy = 0;
  owed = false;

  private readonly framer: MessageFramer;
  private readonly writes = new SettleQueue();
  /** The TCP (or TLS) socket under the WebSocket: the peer's address, and what From.socket is. */
  private tcp: Socket | undefined;

  constructor(
    private readonly owner: ConnectionOwner,
    readonly ws: WebSocket,
    readonly inbound: boolean,
    key: string | undefined,
    socket: Socket | undefined,
  ) {
    this.keys = key === undefined ? [] : [key];
    this.tcp = socket;
    this.framer = new MessageFramer(owner.parseLimits);
    ws.on('message', this.onMessage);
    ws.on('ping', this.onPing);
    ws.on('pong', this.onPing);
    ws.on('error', this.onError);
    ws.on('close', this.onClose);
    if (!inbound) {
      ws.once('upgrade', this.onUpgrade);
      ws.once('open', this.onOpen);
    }
  }

  get usable(): boolean {
    return this.state === OPEN && this.ws.readyState === 1;
  }

  get reusable(): boolean {
    return this.state <= OPEN;
  }

  get pendingBytes(): number {
    return this.ws.bufferedAmount;
  }

  get bytesOut(): number {
    return this.tcp?.bytesWritten ?? 0;
  }

  open(): void {
    const s = this.tcp!;
    const addr = normalizeAddr(s.remoteAddress ?? '');
    this.from = { addr, port: s.remotePort ?? 0, family: toFamily(undefined, addr), proto: this.owner.proto, socket: s, flow: this.flow };
    this.state = OPEN;
    this.lastActivity = now();
    s.setNoDelay(true);
  }

  write(buf: Buffer): Promise<void> {
    if (this.state >= CLOSING) return Promise.reject(this.failure ?? new ConnectionClosedError('connection closed'));
    const limit = this.owner.limits.MAX_QUEUED_BYTES;
    const queued = this.state === CONNECTING ? this.earlyBytes : this.ws.bufferedAmount;
    if (queued > 0 && queued + buf.length > limit) {
      // A peer that does not read (a stalled browser tab) gets no more of our memory: closed.
      this.owner.stats.queueFull++;
      const err = new QueueFullError(`write queue full (${queued} bytes pending): connection closed`);
      this.fail(err);
      return Promise.reject(err);
    }
    const p = this.writes.enqueue();
    this.owed = false;
    // ws refuses sends before its handshake is done: those wait in `early`.
    if (this.state === CONNECTING) {
      (this.early ??= []).push(buf);
      this.earlyBytes += buf.length;
    } else this.ws.send(buf, isUtf8(buf) ? AS_TEXT : AS_BINARY, this.onWritten);
    return p;
  }

  /** Outgoing: what was sent before the handshake completed, in order (promises already queued). */
  private early: Buffer[] | undefined;
  private earlyBytes = 0;

  fail(err: SipTransportError): void {
    if (this.failure === undefined) this.failure = err;
    if (this.state === CLOSED) return;
    this.state = CLOSING;
    this.ws.terminate();
  }

  /** Close after `last` (an error response) is sent, with `code`; the sweep terminates it after a grace. */
  private closeAfter(last: Buffer | undefined, code: number): void {
    if (this.state >= CLOSING) return;
    this.state = CLOSING;
    this.closingSince = now();
    this.owner.unlink(this);
    this.owner.graceFor(this);
    if (last !== undefined) {
      this.owner.stats.errorResponses++;
      this.ws.send(last, AS_TEXT);
    }
    this.ws.close(code);
  }

  rejectInput(err: unknown): void {
    const stats = this.owner.stats;
    stats.parseErrors++;
    stats.connectionsFailed++;
    const sipErr = err instanceof SipParseError ? err : undefined;
    this.closeAfter(sipErr !== undefined ? responseForParseError(sipErr) : undefined, sipErr?.status === 513 ? TOO_BIG : PROTOCOL_ERROR);
  }

  /**
   * A message that is not usable. Each WebSocket message is its own frame, so the next one can
   * still be read: a request gets its 400 / 505 and the connection stays; what cannot be answered
   * is dropped if it is SIP (an ACK, a response), and closes the connection if it is not.
   */
  private rejectMessage(err: unknown): void {
    const verdict = unusableMessage(err);
    if (verdict === 'close') {
      this.rejectInput(err);
      return;
    }
    const stats = this.owner.stats;
    stats.parseErrors++;
    if (verdict === 'drop') return;
    stats.errorResponses++;
    this.write(verdict).catch(() => undefined);
  }


  finish(): void {
    if (this.state >= CLOSING) return;
    this.state = CLOSING;
    this.closingSince = now();
    this.owner.unlink(this);
    this.owner.graceFor(this);
    this.ws.close(NORMAL);
  }

  destroy(): void {
    this.ws.terminate();
  }

  /** performance.now() of the ping we are waiting a pong for (0: none). */
  private pingSentAt = 0;

  /**
   * Held and idle: ping (RFC 6455 §5.5.2). A pong is activity (onPing clears this); no pong within
   * another expiry time means the peer is gone (a browser tab closed without a close frame, a NAT
   * that forgot us): the connection is closed, so that its transactions and flows learn it.
   */
  probe(t: number, expireMs: number): void {
    if (this.pingSentAt === 0 || this.lastActivity > this.pingSentAt) {
      this.pingSentAt = t;
      this.ws.ping();
    } else if (t - this.pingSentAt >= expireMs) {
      this.owner.stats.connectionsExpired++;
      this.fail(new ConnectionExpiredError(`connection to ${this.describe()} expired: no pong`));
    }
  }

  // FrameSink
  onFrame(data: Buffer): void {
    let msg;
    try {
      msg = parseWholeMessage(data, this.owner.parseLimits);
    } catch (err) {
      this.rejectMessage(err);
      return;
    }
    this.lastActivity = now();
    if (msg.isRequest()) this.owed = true;
    this.owner.receive(msg, this);
  }

  onKeepAlive(): void {
    this.lastActivity = now();
    this.owner.stats.keepAlives++;
  }

  private readonly onMessage = (data: Buffer | ArrayBuffer | Buffer[]): void => {
    if (this.state !== OPEN) return;
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    try {
      this.framer.push(buf, this);
    } catch (err) {
      this.rejectInput(err);
    }
  };

  /** A ping (answered by ws) or a pong: the peer is there (RFC 6455 keep-alive). */
  private readonly onPing = (): void => {
    if (this.state !== OPEN) return;
    this.lastActivity = now();
    this.pingSentAt = 0;
    this.owner.stats.keepAlives++;
  };

  private readonly onWritten = (err?: Error): void => {
    if (err) {
      this.writes.settle(this.failure ?? new ConnectionClosedError(`write failed: ${err.message}`, { cause: err }));
      return;
    }
    this.lastActivity = now();
    this.owner.stats.messagesOut++;
    this.writes.settle();
  };

  private readonly onUpgrade = (res: IncomingMessage): void => {
    this.tcp = res.socket as Socket;
  };

  private readonly onOpen = (): void => {
    if (this.state !== CONNECTING) return;
    this.open();
    this.owner.connected(this);
    const early = this.early;
    this.early = undefined;
    if (early !== undefined) for (const buf of early) this.ws.send(buf, isUtf8(buf) ? AS_TEXT : AS_BINARY, this.onWritten);
  };

  private readonly onError = (err: Error): void => {
    if (this.failure !== undefined) return;
    if (this.state === CONNECTING) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED') this.failure = new ConnectRefusedError(`connection refused by ${this.describe()}`, { cause: err });
      else if (this.owner.proto === 'wss' && code !== undefined && !NET_ERRORS.has(code) && this.tcp === undefined) {
        this.failure = new TlsError(`TLS handshake with ${this.describe()} failed: ${err.message}`, { cause: err });
      } else this.failure = new ConnectFailedError(`cannot connect to ${this.describe()}: ${err.message}`, { cause: err });
    } else if ((err as NodeJS.ErrnoException).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      // ws closes it with 1009 itself.
      this.owner.stats.parseErrors++;
      this.owner.stats.connectionsFailed++;
      this.failure = new ConnectionClosedError(`connection to ${this.describe()} closed: message over the size limit`, { cause: err });
    } else {
      this.failure = new ConnectionClosedError(`connection to ${this.describe()} failed: ${err.message}`, { cause: err });
    }
  };

  private readonly onClose = (code: number): void => {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.early = undefined;
    const failure = this.failure ?? new ConnectionClosedError(`connection to ${this.describe()} closed (${code})`);
    if (this.failure === undefined) this.failure = failure;
    this.writes.rejectAll(failure);
    this.owner.closed(this);
  };

  describe(): string {
    const f = this.from;
    if (f !== undefined) return f.family === 6 ? `[${f.addr}]:${f.port}` : `${f.addr}:${f.port}`;
    const [addr, port] = (this.keys[0] ?? 'peer').split('|');
    return port === undefined ? addr! : `${addr} port ${port}`;
  }
}
