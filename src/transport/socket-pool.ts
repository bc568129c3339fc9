import type * as dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { SipMessage } from '../message/index.js';
import { familyOf, isPort, normalizeAddr } from './address.js';
import { HandlerError, InvalidDestinationError, InvalidOptionsError } from './errors.js';
import { resolveLimits, type PoolLimits } from './limits.js';
import { bindMaster, type BuildTransport } from './master-socket.js';
import type { PoolCore } from './pool-core.js';
import type { PoolTransport } from './pool-transport.js';
import { createStats, type PoolStats } from './stats.js';
import { transactionKey } from './transaction-key.js';
import type { Family, From, LocalAddress, MessageHandler, Peer, Proto, SocketPoolOptions } from './types.js';

const PROTOS: ReadonlySet<string> = new Set(['udp', 'tcp', 'tls', 'ws', 'wss']);

export interface SocketPoolEvents {
  /** A non-fatal error: socket or listener error, failed inbound TLS handshake, a handler that threw. */
  error: [err: Error];
  /**
   * A TCP/TLS connection closed, or was half-closed by the peer, while transactions were held on
   * it (see hold()): `tids` are their ids (tidOf), `err` why (the TLS failure, reset, peer close...).
   * Their responses can no longer arrive on it: a client transaction should fail now (RFC 3261
   * §17.1.4). May come twice for the same ids (half-close, then close).
   */
  connectionLost: [tids: string[], err: Error];
  /** UDP: a keep-alive datagram (CRLF, RFC 5626) came from `addr`:`port` (also how a queue-delay probe comes back). */
  keepAlive: [addr: string, port: number];
}

/**
 * The sockets of one leg (the seed's Net::SIP::SocketPool): one master socket (a UDP socket, or a
 * TCP/TLS listener) and, for TCP/TLS, the connections, inbound and outgoing.
 *
 * - `sendto()` sends a message or raw bytes; a response goes back through the connection its request
 *   came in on when that is still open. Every call settles.
 * - `attach()` sets the one handler of received messages.
 * - `hold()` / `release()` keep a connection with open transactions from expiring.
 * - `close()` releases every socket and timer.
 *
 * Errors that are no caller's (a handler that throws, an inbound TLS handshake that fails, an error
 * of the master socket) are emitted as 'error' when there is a listener, and never thrown.
 */
export class SocketPool extends EventEmitter<SocketPoolEvents> implements PoolCore {
  readonly proto: Proto;
  readonly limits: PoolLimits;
  readonly stats: PoolStats;
  readonly restriction: Peer | undefined;
  private handler: MessageHandler | undefined;
  /** The leg's transport: datagrams, or connections (TCP, TLS, WebSocket). */
  private readonly transport: PoolTransport;
  private readonly localOf: () => LocalAddress;
  private closing: Promise<void> | undefined;

  private constructor(proto: Proto, limits: PoolLimits, restriction: Peer | undefined, stats: PoolStats, build: BuildTransport) {
    super();
    this.proto = proto;
    this.limits = limits;
    this.restriction = restriction;
    this.stats = stats;
    const b = build(this);
    this.transport = b.transport;
    this.localOf = b.local;
  }

  /**
   * Create a pool and bind its master socket (port 0 picks a free port). Rejects with
   * InvalidOptionsError for bad options, or with the bind / listen error (EADDRINUSE...).
   */
  static async create(opts: SocketPoolOptions): Promise<SocketPool> {
    const proto = opts.proto;
    if (!PROTOS.has(proto)) throw new InvalidOptionsError(`unknown proto ${String(proto)}`);
    const limits = resolveLimits(opts.limits);
    const host = opts.host === undefined || opts.host === '' ? undefined : opts.host;
    const family: Family = opts.family ?? (host !== undefined ? familyOf(normalizeAddr(host)) : undefined) ?? 4;
    let restriction: Peer | undefined;
    if (opts.dst !== undefined) {
      const d = opts.dst;
      if (!isPort(d.port)) throw new InvalidOptionsError(`bad dst port ${d.port}`);
      let addr = normalizeAddr(d.addr);
      let servername = d.servername;
      if (familyOf(addr) === undefined) {
        // A host name is resolved once, here: traffic from the peer is matched by its address
        // (a name never equals one), and TLS still verifies the certificate against the name.
        const want = d.family ?? (family === 4 ? 4 : 0);
        const found = await lookup(addr, { family: want }).catch((err: unknown) => {
          throw new InvalidOptionsError(`cannot resolve dst ${d.addr}: ${(err as Error).message}`, { cause: err });
        });
        servername ??= addr;
        addr = normalizeAddr(found.address);
      }
      restriction = { addr, port: d.port, family: d.family ?? familyOf(addr) ?? family };
      if (servername !== undefined) restriction.servername = servername;
    }
    if (opts.connected && restriction === undefined) throw new InvalidOptionsError('connected needs dst');
    const build = await bindMaster(opts, host, family, limits, restriction);
    return new SocketPool(proto, limits, restriction, createStats(), build);
  }

  /** The bound local address of the master socket. */
  get local(): LocalAddress {
    return this.localOf();
  }

  /** The master socket: the dgram socket (udp) or the listening server (tcp, tls; ws, wss: the HTTP(S) server). */
  get master(): dgram.Socket | net.Server | tls.Server {
    return this.transport.server as dgram.Socket | net.Server;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Connections open now (TCP/TLS/WebSocket, connecting ones included); 0 for UDP. */
  get connections(): number {
    return this.transport.connectionCount;
  }

  /**
   * Send a message (serialised with toBuffer()) or raw bytes to `dst`. Resolves when UDP handed the
   * datagram to the kernel or TCP/TLS wrote every byte; rejects with a SipTransportError otherwise
   * (ConnectRefusedError, ConnectTimeoutError, ConnectFailedError, TlsError, ConnectionClosedError,
   * ConnectionExpiredError, PoolClosedError, QueueFullError, TooManyConnectionsError,
   * SendFailedError, InvalidDestinationError). Every call settles.
   *
   * TCP/TLS: an existing connection to `dst` (inbound or outgoing) is reused, else one is opened
   * (concurrent sends share it). A SipResponse goes through the connection its request came in on
   * when that is still open; when it is gone, to `dst`'s address (the request's source) and the
   * Via's sent-by port (RFC 3261 §18.2.2), not to `dst`'s port (the dead connection's ephemeral
   * one); without `dst`, to the Via's received / sent-by host.
   * UDP sends to `dst`; a response without `dst` goes to its Via's received / rport / sent-by.
   * With the pool's `dst` restriction every send goes there, whatever `dst` says.
   */
  sendto(message: SipMessage | Buffer, dst?: Peer): Promise<void> {
    let buf: Buffer;
    let msg: SipMessage | undefined;
    if (message instanceof SipMessage) {
      msg = message;
      try {
        buf = message.toBuffer();
      } catch (err) {
        return Promise.reject(new InvalidDestinationError(`cannot serialise the message: ${(err as Error).message}`, { cause: err }));
      }
    } else buf = message;
    return this.transport.send(msg, buf, dst);
  }

  /**
   * The peer of this pool's open connection `flow` (a received message's From.flow): how a request
   * reaches a client that has no reachable address (WebSocket). Undefined when it is gone or unknown.
   */
  peerOf(flow: string): From | undefined {
    return this.transport.peerOf(flow);
  }

  /** Set the handler of every received message (replaces the previous one). */
  attach(handler: MessageHandler): void {
    this.handler = handler;
  }

  /** Remove the handler: messages received meanwhile are dropped and counted. */
  detach(): void {
    this.handler = undefined;
  }

  /**
   * Mark the connection carrying a transaction busy, so that expiry keeps it while the transaction is
   * open. `ref` is the request (received, or sent with sendto), one of its responses, or its id from
   * tidOf(). Returns false when no open TCP/TLS connection carries it (UDP, unknown, closed): nothing
   * to keep then. Every hold() that returned true needs one release().
   */
  hold(ref: SipMessage | string): boolean {
    if (this.proto === 'udp') return false;
    const tid = typeof ref === 'string' ? ref : transactionKey(ref);
    return tid !== undefined && this.transport.hold(tid);
  }

  /** Undo one hold(ref). */
  release(ref: SipMessage | string): void {
    if (this.proto === 'udp') return;
    const tid = typeof ref === 'string' ? ref : transactionKey(ref);
    if (tid !== undefined) this.transport.release(tid);
  }

  /**
   * hold() for the connection `flow` (a received message's From.flow) rather than a transaction id:
   * what a server transaction holds, the connection its request came on. No id is filed, so
   * nothing is found by id either (connectionLost reports held ids only). Every holdFlow() that
   * returned true needs one releaseFlow().
   */
  holdFlow(flow: string): boolean {
    return this.transport.holdFlow(flow);
  }

  /** Undo one holdFlow(flow); nothing when that connection is closed. */
  releaseFlow(flow: string): void {
    this.transport.releaseFlow(flow);
  }

  /**
   * The id the pool files a transaction under: top Via branch + sent-by for RFC 3261 branches, else
   * Call-ID + CSeq number. Undefined when the message lacks Via, Call-ID or CSeq.
   */
  tidOf(message: SipMessage): string | undefined {
    return transactionKey(message);
  }

  /** Close the master socket and every connection; settles every pending send; clears the timer. Idempotent. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.handler = undefined;
      this.closing = this.transport.close().then(() => {
        this.removeAllListeners();
      });
    }
    return this.closing;
  }

  // PoolCore

  /** @internal */
  deliver(msg: SipMessage, from: From): void {
    const h = this.handler;
    if (h === undefined) {
      if (from.proto === 'udp') this.stats.datagramsDropped++;
      else this.stats.unhandled++;
      return;
    }
    this.stats.messagesIn++;
    try {
      h(msg, from);
    } catch (err) {
      this.stats.handlerErrors++;
      this.report(new HandlerError(`message handler threw: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
    }
  }

  /** @internal */
  keptAlive(addr: string, port: number): void {
    if (this.listenerCount('keepAlive') === 0) return;
    try {
      this.emit('keepAlive', addr, port);
    } catch (e) {
      this.report(e as Error);
    }
  }

  /** @internal */
  lost(tids: string[], err: Error): void {
    try {
      this.emit('connectionLost', tids, err);
    } catch (e) {
      this.report(e as Error);
    }
  }

  /** @internal */
  report(err: Error): void {
    if (this.listenerCount('error') > 0) {
      try {
        this.emit('error', err);
      } catch {
        // A listener that throws must not break a socket callback.
      }
    }
  }
}

