import * as dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { SipMessage } from '../message/index.js';
import { familyOf, isPort, normalizeAddr, toFamily } from './address.js';
import { HandlerError, InvalidDestinationError, InvalidOptionsError } from './errors.js';
import { resolveLimits, type PoolLimits } from './limits.js';
import type { PoolCore } from './pool-core.js';
import { responseTarget } from './response-target.js';
import { createStats, type PoolStats } from './stats.js';
import { StreamTransport } from './stream-transport.js';
import { TlsPolicy } from './tls-options.js';
import { transactionKey } from './transaction-key.js';
import type { Family, From, LocalAddress, MessageHandler, Peer, Proto, SocketPoolOptions } from './types.js';
import { UdpTransport } from './udp-transport.js';

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
  private readonly udp: UdpTransport | undefined;
  private readonly stream: StreamTransport | undefined;
  private readonly localAddr: LocalAddress;
  private closing: Promise<void> | undefined;

  private constructor(
    proto: Proto,
    limits: PoolLimits,
    restriction: Peer | undefined,
    stats: PoolStats,
    build: (core: PoolCore) => { udp?: UdpTransport; stream?: StreamTransport; local: LocalAddress },
  ) {
    super();
    this.proto = proto;
    this.limits = limits;
    this.restriction = restriction;
    this.stats = stats;
    const b = build(this);
    this.udp = b.udp;
    this.stream = b.stream;
    this.localAddr = b.local;
  }

  /**
   * Create a pool and bind its master socket (port 0 picks a free port). Rejects with
   * InvalidOptionsError for bad options, or with the bind / listen error (EADDRINUSE...).
   */
  static async create(opts: SocketPoolOptions): Promise<SocketPool> {
    const proto = opts.proto;
    if (proto !== 'udp' && proto !== 'tcp' && proto !== 'tls') throw new InvalidOptionsError(`unknown proto ${String(proto)}`);
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
    const stats = createStats();
    if (proto === 'udp') {
      const socket = await bindUdp(opts, host, family);
      try {
        if (limits.UDP_RCVBUF > 0) socket.setRecvBufferSize(limits.UDP_RCVBUF);
        if (limits.UDP_SNDBUF > 0) socket.setSendBufferSize(limits.UDP_SNDBUF);
      } catch (err) {
        if (opts.socket === undefined) socket.close();
        throw new InvalidOptionsError(`cannot set the UDP socket buffer sizes: ${(err as Error).message}`, { cause: err });
      }
      const connected = opts.connected === true;
      if (connected) await connectUdp(socket, restriction!);
      const a = socket.address();
      const local: LocalAddress = { addr: normalizeAddr(a.address), port: a.port, family: toFamily(a.family, a.address), proto };
      return new SocketPool(proto, limits, restriction, stats, (core) => ({
        udp: new UdpTransport(core, socket, local.family, connected),
        local,
      }));
    }
    let policy: TlsPolicy | undefined;
    if (proto === 'tls') policy = new TlsPolicy(opts.tls ?? {});
    const server = await listen(opts, host, family, limits, policy);
    const a = server.address() as net.AddressInfo;
    const local: LocalAddress = { addr: normalizeAddr(a.address), port: a.port, family: toFamily(a.family, a.address), proto };
    return new SocketPool(proto, limits, restriction, stats, (core) => ({
      stream: new StreamTransport(core, server, policy, local),
      local,
    }));
  }

  /** The bound local address of the master socket. */
  get local(): LocalAddress {
    return this.localAddr;
  }

  /** The master socket: the dgram socket (udp) or the listening server (tcp, tls). */
  get master(): dgram.Socket | net.Server | tls.Server {
    return this.udp !== undefined ? this.udp.socket : this.stream!.server;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Connections open now (TCP/TLS, connecting ones included); 0 for UDP. */
  get connections(): number {
    return this.stream?.connectionCount ?? 0;
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
    if (this.udp !== undefined) {
      // A response without destination goes where its Via says (received / rport / sent-by).
      if (dst === undefined && msg !== undefined && msg.isResponse()) dst = responseTarget(msg, 'udp');
      return this.udp.send(buf, dst);
    }
    return this.stream!.send(msg, buf, dst);
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
    if (this.stream === undefined) return false;
    const tid = typeof ref === 'string' ? ref : transactionKey(ref);
    return tid !== undefined && this.stream.hold(tid);
  }

  /** Undo one hold(ref). */
  release(ref: SipMessage | string): void {
    if (this.stream === undefined) return;
    const tid = typeof ref === 'string' ? ref : transactionKey(ref);
    if (tid !== undefined) this.stream.release(tid);
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
      this.closing = (this.udp !== undefined ? this.udp.close() : this.stream!.close()).then(() => {
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

function bindUdp(opts: SocketPoolOptions, host: string | undefined, family: Family): Promise<dgram.Socket> {
  const given = opts.socket as dgram.Socket | undefined;
  if (given !== undefined && !(given instanceof dgram.Socket)) throw new InvalidOptionsError('socket must be a dgram.Socket for udp');
  const socket = given ?? dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
  try {
    socket.address();
    return Promise.resolve(socket); // already bound
  } catch {
    // not bound yet
  }
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port: opts.port, address: host ?? (family === 6 ? '::' : '0.0.0.0'), exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function connectUdp(socket: dgram.Socket, dst: Peer): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.connect(dst.port, dst.addr, (err?: Error) => {
      if (err) {
        socket.close();
        reject(err);
      } else resolve();
    });
  });
}

function listen(opts: SocketPoolOptions, host: string | undefined, family: Family, limits: PoolLimits, policy: TlsPolicy | undefined): Promise<net.Server> {
  let server: net.Server;
  const given = opts.socket;
  if (given !== undefined) {
    if (policy !== undefined ? !(given instanceof tls.Server) : !(given instanceof net.Server) || given instanceof tls.Server) {
      throw new InvalidOptionsError(`socket must be a ${policy !== undefined ? 'tls.Server' : 'net.Server'} for ${opts.proto}`);
    }
    server = given as net.Server;
    if (server.listening) return Promise.resolve(server);
  } else if (policy !== undefined) {
    server = tls.createServer(policy.serverOptions(limits.CONNECT_TIMEOUT * 1000, limits.TCP_READSIZE));
  } else {
    server = net.createServer({ allowHalfOpen: true, noDelay: true, highWaterMark: limits.TCP_READSIZE } as net.ServerOpts);
  }
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.close();
      reject(err);
    };
    server.once('error', onError);
    // A backlog as deep as the connection cap (the kernel clips it to somaxconn): a burst of
    // connects is queued rather than dropped into SYN retransmissions.
    const backlog = Math.max(511, Math.min(limits.MAX_CONNECTIONS, 65535));
    server.listen({ port: opts.port, host: host ?? (family === 6 ? '::' : '0.0.0.0'), backlog }, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}
