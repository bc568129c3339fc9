import type { Socket as DgramSocket } from 'node:dgram';
import type { Server as NetServer, Socket as NetSocket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Server as HttpServer } from 'node:http';
import type { SipMessage } from '../message/index.js';
import type { PoolLimitsInit } from './limits.js';

/**
 * The transports, by their lower-case Via / `;transport=` names: the one definition (the transaction
 * layer's SipTransportProto and the Nest side's SipTransportName are this type).
 */
export type TransportName = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/** Transport protocol of a pool (the seed's PROTO). */
export type Proto = TransportName;

/** Connection-oriented transports: every one but UDP. */
export type StreamProto = Exclude<TransportName, 'udp'>;

/** IP family, as a number (the seed's AF_INET / AF_INET6). */
export type Family = 4 | 6;

/**
 * A peer address. `addr` is an IP literal (IPv6 without brackets; brackets are tolerated), or for
 * TCP/TLS also a host name, which is then resolved by the connect (and used for TLS SNI and
 * certificate checks unless `servername` says otherwise).
 */
export interface Peer {
  addr: string;
  port: number;
  family?: Family;
  /**
   * TLS: the name the server's certificate must match, also sent as SNI (default: `addr` when it
   * is a host name). RFC 5922 §4: the SIP domain of the request's URI, not the host an SRV record
   * led to. A connection opened for a servername is reused only for that name (not for requests to
   * its bare address, which were never checked against it).
   */
  servername?: string;
  /**
   * Send through this connection (a `From.flow` the pool gave a received message): a request fails
   * with ConnectionClosedError when it is gone (RFC 5626: the flow failed), a response falls back
   * to RFC 3261 §18.2.2. The only way to reach a WebSocket client, which has no reachable address.
   */
  flow?: string;
}

/** The local end of a pool's master socket. */
export interface LocalAddress {
  addr: string;
  port: number;
  family: Family;
  proto: Proto;
}

/** The socket a message was received on: the UDP master socket, or the TCP / TLS connection (a WebSocket's too). */
export type PoolSocket = DgramSocket | NetSocket | TLSSocket;

/**
 * Where a received message came from (the seed's FROM hash). For TCP/TLS the object is made once per
 * connection and shared by every message of it; treat it as read-only. `socket` is for passive use
 * only, e.g. `(from.socket as TLSSocket).getPeerCertificate()`.
 */
export interface From {
  readonly addr: string;
  readonly port: number;
  readonly family: Family;
  readonly proto: Proto;
  readonly socket: PoolSocket;
  /**
   * Stream transports: the connection's id, unique in the process. Store it (a registrar's binding
   * of a WebSocket client, RFC 5626 flow) and pass it back as `Peer.flow` to reach that connection.
   */
  readonly flow?: string;
}

/** Called for every message received by the pool. Must not throw (errors are caught and reported). */
export type MessageHandler = (message: SipMessage, from: From) => void;

/**
 * TLS credentials and policy. `cert`/`key` (and `ca`) serve both roles: as the server certificate
 * for inbound connections and as the client certificate for outgoing ones (the seed's behaviour).
 */
export interface PoolTlsOptions {
  cert?: string | Buffer | Array<string | Buffer>;
  key?: string | Buffer | Array<string | Buffer>;
  /** Trusted CAs for verifying peers (default: Node's bundled roots). */
  ca?: string | Buffer | Array<string | Buffer>;
  passphrase?: string;
  /** Inbound client certificates: 0 none asked (default), -1 optional but verified if sent, 1 required. */
  verifyClient?: 0 | -1 | 1;
  /** Outgoing connections verify the server certificate and host name (default true). */
  rejectUnauthorized?: boolean;
  /** Custom host-name check for outgoing connections (default: tls.checkServerIdentity). */
  checkServerIdentity?: (hostname: string, cert: import('node:tls').PeerCertificate) => Error | undefined;
  minVersion?: import('node:tls').SecureVersion;
  ciphers?: string;
}

/** WebSocket legs (RFC 7118): where the handshake is taken, and who may make it. */
export interface PoolWsOptions {
  /**
   * Take the handshakes of this HTTP(S) server (a Nest app's `app.getHttpServer()`) instead of
   * listening on a port of the pool's own: REST and SIP share the port. The pool never closes it;
   * `host`/`port` are then ignored, and `pool.local` reads the server's address once it listens.
   */
  server?: HttpServer;
  /** URL path of the SIP endpoint (default '/'); handshakes on other paths are left to others (own port: 404). */
  path?: string;
  /**
   * Origins (`https://app.example.com`) allowed to connect; a handshake from another Origin is
   * refused with 403. Handshakes without Origin (not a browser) are allowed. Default: any origin.
   */
  origins?: string[];
  /** Path of the URL outgoing connections ask for (default '/'). */
  connectPath?: string;
}

export interface SocketPoolOptions {
  proto: Proto;
  /** Address to bind the master socket to ('0.0.0.0', '::', '127.0.0.1', '::1', or a name). */
  host: string;
  /** Port to bind; 0 picks a free one (read it back from `pool.local.port`). */
  port: number;
  /** Family when `host` is a name or empty (default: from `host`, else 4). */
  family?: Family;
  /**
   * An existing master socket to own instead of creating one: a dgram socket (udp), a net.Server
   * (tcp) or a tls.Server (tls). Bound / listening ones are used as they are, others are bound to
   * host:port. The pool owns it from now on: `close()` closes it.
   */
  socket?: DgramSocket | NetServer | TlsServer;
  /**
   * Without `connected`: a restriction. Every send goes to `dst` whatever the caller passed, and
   * traffic from other peers is dropped and counted (inbound TCP/TLS compares the address only).
   * With `connected` (UDP): the peer of the connected master socket. A host name is resolved once,
   * when the pool is created (TLS verifies the peer's certificate against the name).
   */
  dst?: Peer;
  /**
   * UDP: connect the master socket to `dst` (the kernel then filters other senders).
   * TCP/TLS: there is no connected master; it means the same as `dst` alone.
   */
  connected?: boolean;
  /** TLS credentials; required for proto 'tls' and 'wss' on a port of their own (at least cert and key to accept connections). */
  tls?: PoolTlsOptions;
  /** ws / wss: path, Origin allow-list, or an HTTP(S) server to share. */
  ws?: PoolWsOptions;
  limits?: PoolLimitsInit;
}
