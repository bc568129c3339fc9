import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { TlsError } from './errors.js';
import { peerKey } from './address.js';
import type { InboundStage } from './pool-connection.js';
import type { PoolStats } from './stats.js';
import type { TlsPolicy } from './tls-options.js';

/** What the inbound TLS stage needs from its transport (declared here: no import circle). */
export interface TlsInboundOwner {
  readonly stats: PoolStats;
  /** Screen a new TCP connection (pool closed, dst restriction, per-source limit); false: it was destroyed. */
  admit(socket: net.Socket): boolean;
  /** A handshake completed and the client passed the policy: a connection of the pool from now on. */
  accept(socket: tls.TLSSocket): void;
  report(err: Error): void;
}

/**
 * Inbound TLS before the pool has a connection: the TCP sockets the listener accepted whose
 * handshake is not done. Each leaves exactly once: handshake done (the owner accepts it), or
 * destroyed when the handshake fails, times out (the server's handshakeTimeout, CONNECT_TIMEOUT)
 * or the peer goes first (RST, or FIN: see beforeTlsSocket). Node reports those as 'tlsClientError'
 * but leaves the socket open, holding a slot of the listener's maxConnections.
 */
export class TlsInbound implements InboundStage {
  /** Raw sockets by addr|port as Node reports it (the TLS socket reports the same handle's peer). */
  private readonly pending = new Map<string, net.Socket>();
  /** Failed handshakes already counted and reported: Node can report one twice. */
  private readonly failed = new WeakSet<tls.TLSSocket>();

  constructor(
    private readonly owner: TlsInboundOwner,
    private readonly server: net.Server,
    private readonly policy: TlsPolicy,
  ) {
    server.prependListener('connection', this.beforeTlsSocket);
    server.on('connection', this.onRawConnection);
    server.on('secureConnection', this.onSecureConnection);
    server.on('tlsClientError', this.onTlsClientError);
  }

  /** Pool closing: destroy every socket still in its handshake. */
  close(): void {
    for (const s of this.pending.values()) s.destroy();
  }

  /** The listener is closed: stop listening to it. */
  detach(): void {
    const s = this.server;
    s.off('connection', this.beforeTlsSocket);
    s.off('connection', this.onRawConnection);
    s.off('secureConnection', this.onSecureConnection);
    s.off('tlsClientError', this.onTlsClientError);
  }

  private done(key: string, socket: net.Socket | undefined): void {
    if (socket === undefined || this.pending.get(key) === socket) this.pending.delete(key);
    this.owner.stats.handshaking = this.pending.size;
  }

  /**
   * Before Node wraps the raw socket in its TLS socket, which copies allowHalfOpen from it: a peer
   * that sends FIN before the handshake is done (a scanner's connect+close) can never finish it, so
   * its socket closes then, not at the handshake timeout. Once secure it is half-open again (SIP).
   */
  private readonly beforeTlsSocket = (socket: net.Socket): void => {
    socket.allowHalfOpen = false;
  };

  /** The raw TCP socket, before the handshake: screened before a handshake is spent on it. */
  private readonly onRawConnection = (socket: net.Socket): void => {
    if (!this.owner.admit(socket)) return;
    const addr = socket.remoteAddress;
    if (addr === undefined) {
      socket.destroy();
      return;
    }
    const key = peerKey(addr, socket.remotePort ?? 0);
    this.pending.set(key, socket);
    this.owner.stats.handshaking = this.pending.size;
    socket.once('close', () => this.done(key, socket));
  };

  private readonly onSecureConnection = (socket: tls.TLSSocket): void => {
    this.done(peerKey(socket.remoteAddress ?? '', socket.remotePort ?? 0), undefined);
    // A peer may send its request and FIN and still read the response (Duplex: settable until 'end').
    socket.allowHalfOpen = true;
    if (!this.policy.acceptClient(socket)) {
      this.owner.stats.tlsFailures++;
      this.owner.report(new TlsError(`client certificate rejected: ${String(socket.authorizationError)}`));
      socket.destroy();
      return;
    }
    this.owner.accept(socket);
  };

  /** Failed, timed out, or abandoned by the peer: destroy the socket, count and report it once. */
  private readonly onTlsClientError = (err: Error, socket: tls.TLSSocket): void => {
    if (this.failed.has(socket)) return;
    this.failed.add(socket);
    socket.destroy();
    this.owner.stats.tlsFailures++;
    this.owner.report(new TlsError(`inbound TLS handshake failed: ${err.message}`, { cause: err }));
  };
}
