import type * as net from 'node:net';
import { validateRequest, type ParseLimits, type SipMessage } from '../message/index.js';
import { familyOf, isPort, isWildcard, normalizeAddr, peerKey } from './address.js';
import { Connection } from './connection.js';
import { now, type ConnectionOwner, type Dialer, type InboundStage, type PoolConnection } from './pool-connection.js';
import { ConnectionClosedError, InvalidDestinationError, PoolClosedError, TlsError, TooManyConnectionsError, type SipTransportError } from './errors.js';
import { expireAfterMs, type PoolLimits } from './limits.js';
import type { PoolStats } from './stats.js';
import { sweepConnections, SweepTimer } from './expiry-sweep.js';
import type { PoolCore } from './pool-core.js';
import { responseTarget } from './response-target.js';
import { FlowTable } from './flow-table.js';
import { TidRegistry } from './tid-registry.js';
import type { Family, From, Peer, StreamProto } from './types.js';
import { SourceConnections } from './source-connections.js';
import type { TlsInboundOwner } from './tls-inbound.js';

/** A half-closed or failed connection gets at most this long to flush before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

/** How a StreamTransport connects out and takes connections in (TCP, TLS, WebSocket). */
export interface StreamKind {
  dialer: Dialer;
  /** Start taking inbound connections of `server` (called once, by the constructor). */
  inbound(t: StreamTransport, server: net.Server): InboundStage;
  /** The pool owns `server`: it closes it (false: a shared HTTP server, only our listeners go). */
  ownsServer: boolean;
}

/**
 * The connection-oriented side of a pool (TCP, TLS, WebSocket): the listener, the connections (in
 * and out), the one sweep timer that expires idle ones and times out connects. How connections
 * are made is the StreamKind's; the rules here hold for all of them.
 */
export class StreamTransport implements ConnectionOwner, TlsInboundOwner {
  readonly proto: StreamProto;
  readonly registry: TidRegistry<PoolConnection>;
  readonly parseLimits: ParseLimits;
  readonly limits: PoolLimits;
  readonly stats: PoolStats;
  /** Every connection, connecting ones included. */
  private readonly conns = new Set<PoolConnection>();
  /** Connection per peer address (addr|port): the one new sends to that peer reuse. */
  private readonly byPeer = new Map<string, PoolConnection>();
  /** Connection by id (From.flow), for sends that name one (Peer.flow). */
  private readonly flows = new FlowTable<PoolConnection>();
  /** Takes the inbound connections (a listener's, TLS handshakes, WebSocket upgrades). */
  private readonly inbound: InboundStage;
  private readonly dialer: Dialer;
  private readonly ownsServer: boolean;
  /** Inbound connections per source address (MAX_CONNECTIONS_PER_SOURCE). */
  private readonly perSource: SourceConnections;
  private readonly timer: SweepTimer;
  private readonly sweepEvery: number;
  /** The pool is closing: take nothing new. */
  closing = false;
  private onDrained: (() => void) | undefined;
  private readonly localFamily: Family;
  /** Source address for outgoing connections: the listener's, unless it is a wildcard. */
  private readonly bindAddr: string | undefined;

  constructor(
    private readonly core: PoolCore,
    readonly server: net.Server,
    kind: StreamKind,
    local: { addr: string; family: Family },
  ) {
    this.proto = core.proto as StreamProto;
    this.dialer = kind.dialer;
    this.ownsServer = kind.ownsServer;
    const l = (this.limits = core.limits);
    this.stats = core.stats;
    this.registry = new TidRegistry(l.MAX_TIDLIST);
    this.parseLimits = { maxHeader: l.MAX_SIP_HEADER, maxBody: l.MAX_SIP_BODY };
    this.sweepEvery = Math.min(2000, Math.max(10, (l.MIN_EXPIRE * 1000) / 8));
    // The pool's one timer: see sweepConnections.
    this.timer = new SweepTimer(() => {
      const next = sweepConnections(this.conns, this.limits, this.stats, CLOSE_GRACE_MS, now() + this.sweepEvery);
      if (this.conns.size > 0) this.schedule(next);
    });
    this.localFamily = local.family;
    this.bindAddr = isWildcard(local.addr) ? undefined : local.addr;
    this.perSource = new SourceConnections(l.MAX_CONNECTIONS_PER_SOURCE, core.stats);
    if (this.ownsServer) {
      server.maxConnections = l.MAX_CONNECTIONS;
      server.on('error', this.onServerError);
      server.on('drop', this.onDrop);
    }
    this.inbound = kind.inbound(this, server);
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Send through the right connection (see SocketPool.sendto). */
  send(msg: SipMessage | undefined, buf: Buffer, dst: Peer | undefined): Promise<void> {
    if (this.closing) return Promise.reject(new PoolClosedError('socket pool closed'));
    const forced = this.core.restriction;
    if (forced !== undefined) dst = forced;
    let conn: PoolConnection | undefined;
    const flow = dst?.flow;
    if (msg !== undefined && msg.isResponse()) {
      // The connection the request came in on, if it is still there (RFC 3261 §18.2.2): the one
      // the response names (a server transaction's `from`), else the one filed under its id.
      if (flow !== undefined) conn = this.flowConn(flow);
      if (conn === undefined) {
        conn = this.registry.lookupMessage(msg);
      }
      if (conn === undefined && dst !== undefined) conn = this.reusable(dst);
      if (conn === undefined && (this.proto === 'ws' || this.proto === 'wss')) {
        // A WebSocket client cannot be connected to (RFC 7118 §5: its Via host is made up).
        return Promise.reject(new ConnectionClosedError('the WebSocket connection of the request is gone'));
      }
      if (conn === undefined && forced === undefined) {
        // Gone: the request's source address (`dst`, else the Via's received / sent-by host) and
        // the sent-by port, never the dead connection's ephemeral port.
        const t = responseTarget(msg, this.proto, dst?.addr);
        if (t !== undefined) {
          dst = t;
          conn = this.reusable(t);
        }
      }
    } else if (flow !== undefined && forced === undefined) {
      // A named connection (RFC 5626 flow): that one or none; a WebSocket client has no other address.
      conn = this.flowConn(flow);
      if (conn === undefined) return Promise.reject(new ConnectionClosedError(`connection ${flow} is gone`));
    } else if (dst !== undefined) conn = this.reusable(dst);
    if (conn === undefined) {
      if (dst === undefined) return Promise.reject(new InvalidDestinationError('no destination for this message'));
      const c = this.connect(dst);
      if (c instanceof Error) return Promise.reject(c);
      conn = c;
    }
    // An outgoing request's id marks its connection too, so that hold(request) can find it.
    if (msg !== undefined && msg.isRequest()) this.registry.addMessage(msg, conn);
    return conn.write(buf);
  }

  /** The byPeer key of a destination: TLS to a named identity is its own peer (see Peer.servername). */
  private keyOf(addr: string, dst: Peer): string {
    const key = peerKey(addr, dst.port);
    return (this.proto === 'tls' || this.proto === 'wss') && dst.servername !== undefined ? key + '|' + dst.servername.toLowerCase() : key;
  }

  /** The open connection with id `flow`. */
  private flowConn(flow: string): PoolConnection | undefined {
    const c = this.flows.get(flow);
    return c !== undefined && c.usable ? c : undefined;
  }
  peerOf(flow: string): From | undefined {
    return this.flowConn(flow)?.from;
  }

  /** A connection to `dst` that new messages may use (open or being connected). */
  private reusable(dst: Peer): PoolConnection | undefined {
    const c = this.byPeer.get(this.keyOf(normalizeAddr(dst.addr), dst));
    return c !== undefined && c.reusable ? c : undefined;
  }

  /** Start one connect to `dst`; concurrent sends find it in byPeer and share it. */
  private connect(dst: Peer): PoolConnection | SipTransportError {
    const port = dst.port;
    if (!isPort(port)) return new InvalidDestinationError(`bad port ${port}`);
    if (typeof dst.addr !== 'string' || dst.addr.length === 0) return new InvalidDestinationError('no destination address');
    if (this.conns.size >= this.limits.MAX_CONNECTIONS) {
      this.stats.connectionsRejected++;
      return new TooManyConnectionsError(`MAX_CONNECTIONS (${this.limits.MAX_CONNECTIONS}) reached`);
    }
    const addr = normalizeAddr(dst.addr);
    const fam = familyOf(addr);
    const localAddress = this.bindAddr !== undefined && fam === this.localFamily ? this.bindAddr : undefined;
    const key = this.keyOf(addr, dst);
    let conn: PoolConnection;
    try {
      conn = this.dialer.dial(this, { addr, port, isIp: fam !== undefined, family: dst.family ?? this.localFamily, localAddress, servername: dst.servername, key });
    } catch (err) {
      return new InvalidDestinationError(`cannot connect to ${addr} port ${port}: ${(err as Error).message}`, { cause: err });
    }
    conn.connectDeadline = now() + this.limits.CONNECT_TIMEOUT * 1000;
    this.add(conn);
    this.byPeer.set(key, conn);
    this.schedule(conn.connectDeadline);
    return conn;
  }

  private add(conn: PoolConnection): void {
    this.conns.add(conn);
    this.flows.add(conn);
    this.stats.connectionsOpen = this.conns.size;
    if (!this.timer.armed) this.schedule(now() + this.sweepEvery);
  }

  /** Outgoing connection established (called by the connection). */
  connected(conn: PoolConnection): void {
    this.stats.connectionsConnected++;
    // Reachable under its real address too (the requested one may have been a name); but not a
    // TLS connection verified for a servername, which serves only that name (see keyOf).
    const f = conn.from!;
    const real = peerKey(f.addr, f.port);
    const named = this.proto !== 'tcp' && conn.keys[0]!.split('|').length > 2;
    if (real !== conn.keys[0] && !named) {
      conn.keys.push(real);
      const other = this.byPeer.get(real);
      if (other === undefined || !other.reusable) this.byPeer.set(real, conn);
    }
  }

  /** A complete message from `conn`. */
  receive(msg: SipMessage, conn: PoolConnection): void {
    if (msg.isRequest()) {
      if (!this.registry.addMessage(msg, conn)) {
        // No Via / Call-ID / CSeq: nothing can be routed back; answer 400 if possible and close.
        const err = validateRequest(msg);
        if (err !== undefined) {
          err.isRequest = true;
          err.headers = msg.headers;
        }
        conn.rejectInput(err);
        return;
      }
    }
    this.core.deliver(msg, conn.from!);
  }

  /** Take `conn` out of the peer map: no new message will pick it. */
  unlink(conn: PoolConnection): void {
    for (const k of conn.keys) if (this.byPeer.get(k) === conn) this.byPeer.delete(k);
  }

  /** The peer of `conn` half-closed (with transactions held on it): sweep again when its grace is over. */
  peerEnded(conn: PoolConnection): void {
    this.schedule(conn.lastActivity + this.closeGrace() + 1);
    // Nothing more will arrive on it: transactions waiting for a response there must learn it now.
    const held = this.registry.heldBy(conn);
    if (held.length > 0) this.core.lost(held, new ConnectionClosedError(`connection to ${conn.describe()} closed by the peer`));
  }

  /** `conn` is closing: sweep again to destroy it if the peer does not close in time. */
  graceFor(conn: PoolConnection): void {
    this.schedule(conn.closingSince + this.closeGrace() + 1);
  }

  /** Grace for half-closed and closing connections: CLOSE_GRACE_MS, or the expiry time if shorter. */
  private closeGrace(): number {
    return Math.min(CLOSE_GRACE_MS, expireAfterMs(this.limits, this.conns.size + 1));
  }

  /** The socket of `conn` closed (called once per connection). */
  closed(conn: PoolConnection): void {
    this.unlink(conn);
    this.flows.remove(conn);
    const held = this.registry.heldBy(conn);
    this.registry.removeOwner(conn);
    this.conns.delete(conn);
    this.stats.connectionsOpen = this.conns.size;
    if (!conn.inbound && conn.from === undefined) {
      // Never got ready: a failed connect.
      this.stats.connectFailures++;
      if (conn.failure instanceof TlsError) this.stats.tlsFailures++;
    }
    if (this.conns.size === 0) {
      this.timer.cancel();
      this.checkDrained();
    }
    if (held.length > 0) this.core.lost(held, conn.failure ?? new ConnectionClosedError(`connection to ${conn.describe()} closed`));
  }

  // --- inbound ---

  /** A new inbound TCP/TLS connection (TLS: handshake done and client accepted). */
  accept(socket: net.Socket): void {
    if (this.closing || socket.remoteAddress === undefined || this.full()) {
      socket.destroy();
      return;
    }
    this.adopt(new Connection(this, socket, true, undefined));
  }

  /** No room for another connection (MAX_CONNECTIONS; counted as a rejection when true). */
  full(): boolean {
    if (this.conns.size < this.limits.MAX_CONNECTIONS) return false;
    this.stats.connectionsRejected++;
    return true;
  }

  /** Close every connection now, `why` their failure (a shared HTTP server closing under them). */
  dropAll(why: string): void {
    const err = new ConnectionClosedError(why);
    for (const c of this.conns) c.fail(err);
  }

  /** Take a new inbound connection into the pool (screened already: admit(), full()). */
  adopt(conn: PoolConnection): void {
    conn.open();
    const f = conn.from!;
    const key = peerKey(f.addr, f.port);
    conn.keys.push(key);
    this.add(conn);
    const other = this.byPeer.get(key);
    if (other === undefined || !other.reusable) this.byPeer.set(key, conn);
    this.stats.connectionsAccepted++;
  }

  /**
   * A new TCP connection (TLS: before its handshake; WebSocket: its upgrade request): false when refused
   * and destroyed. The dst restriction compares the address only (ephemeral ports); then the per-source limit.
   */
  admit(socket: net.Socket): boolean {
    const r = this.core.restriction;
    if (this.closing || (r !== undefined && normalizeAddr(socket.remoteAddress ?? '') !== r.addr)) {
      if (!this.closing) this.stats.foreignDropped++;
      socket.destroy();
      return false;
    }
    return this.perSource.admit(socket);
  }

  report(err: Error): void {
    this.core.report(err);
  }

  /** net.Server refused a connection itself (maxConnections). */
  private readonly onDrop = (): void => {
    this.stats.connectionsRejected++;
  };

  private readonly onServerError = (err: Error): void => {
    this.core.report(err);
  };

  /** Expiry: sweep at `at` (or sooner, as already set). */
  private schedule(at: number): void {
    if (!this.closing) this.timer.schedule(at);
  }

  // --- shutdown ---

  /** Close the listener and every connection; resolves when all sockets are closed. */
  close(): Promise<void> {
    this.closing = true;
    this.timer.cancel();
    const err = new PoolClosedError('socket pool closed');
    const serverClosed = new Promise<void>((resolve) => {
      if (!this.ownsServer || !this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    this.inbound.close();
    for (const c of this.conns) c.fail(err);
    const drained = new Promise<void>((resolve) => {
      this.onDrained = resolve;
      this.checkDrained();
    });
    return Promise.all([serverClosed, drained]).then(() => {
      const s = this.server;
      s.off('error', this.onServerError);
      s.off('drop', this.onDrop);
      this.inbound.detach();
      this.registry.clear();
      this.flows.clear();
    });
  }

  private checkDrained(): void {
    if (this.onDrained !== undefined && this.conns.size === 0) {
      const done = this.onDrained;
      this.onDrained = undefined;
      done();
    }
  }

  /** Hold / release by id (SocketPool.hold) or by connection (holdFlow: a connection is in `flows` from open to close only, so a release finds it exactly when its hold did, or it is closed). */
  hold(tid: string): boolean {
    return this.registry.hold(tid);
  }
  release(tid: string): void {
    idled(this.registry.release(tid));
  }
  holdFlow(flow: string): boolean {
    const c = this.flows.get(flow);
    if (c !== undefined) c.busy++;
    return c !== undefined;
  }
  releaseFlow(flow: string): void {
    const c = this.flows.get(flow);
    if (c !== undefined && c.busy > 0 && --c.busy === 0) idled(c);
  }
}

/** The last transaction on `c` ended: when the peer already half-closed, nothing more to say. */
function idled(c: PoolConnection | undefined): void {
  if (c !== undefined && c.peerEnded && !c.owed) c.finish();
}
