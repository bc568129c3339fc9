import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { normalizeAddr, toFamily } from './address.js';
import { CheckedLookup } from './checked-lookup.js';
import { InvalidOptionsError } from './errors.js';
import type { PoolLimits } from './limits.js';
import type { PoolCore } from './pool-core.js';
import type { PoolTransport } from './pool-transport.js';
import { SocketDialer, TcpInbound } from './socket-dialer.js';
import { StreamTransport, type StreamKind } from './stream-transport.js';
import { TlsInbound } from './tls-inbound.js';
import { TlsPolicy } from './tls-options.js';
import type { Family, LocalAddress, Peer, SocketPoolOptions } from './types.js';
import { UdpTransport } from './udp-transport.js';
import { WsDialer } from './ws-dialer.js';
import { WsInbound } from './ws-inbound.js';

/** Makes a pool's transport on its bound master socket, once the pool (its core) exists. */
export type BuildTransport = (core: PoolCore) => { transport: PoolTransport; local: () => LocalAddress };

/**
 * Bind (or adopt) the master socket of a leg: a UDP socket, a TCP / TLS listener, or for ws / wss
 * an HTTP(S) server of our own or a shared one. Rejects with InvalidOptionsError or the bind error.
 */
export async function bindMaster(
  opts: SocketPoolOptions,
  host: string | undefined,
  family: Family,
  limits: PoolLimits,
  restriction: Peer | undefined,
): Promise<BuildTransport> {
  const proto = opts.proto;
  if (proto === 'udp') {
    const { socket, checked } = await bindUdp(opts, host, family);
    try {
      if (limits.UDP_RCVBUF > 0) socket.setRecvBufferSize(limits.UDP_RCVBUF);
      if (limits.UDP_SNDBUF > 0) socket.setSendBufferSize(limits.UDP_SNDBUF);
    } catch (err) {
      if (opts.socket === undefined) socket.close();
      throw new InvalidOptionsError(`cannot set the UDP socket buffer sizes: ${(err as Error).message}`, { cause: err });
    }
    const connected = opts.connected === true;
    if (connected) await connectUdp(socket, restriction!);
    const local = localOf(socket.address(), proto);
    return (core) => ({ transport: new UdpTransport(core, socket, local.family, connected, checked), local: () => local });
  }
  if (proto === 'ws' || proto === 'wss') return bindWs(opts, host, family, limits);
  const policy = proto === 'tls' ? new TlsPolicy(opts.tls ?? {}) : undefined;
  const server = await listen(opts, host, family, limits, policy);
  const local = localOf(server.address() as net.AddressInfo, proto);
  const kind: StreamKind = {
    dialer: new SocketDialer(policy, limits.TCP_READSIZE),
    inbound: policy !== undefined ? (t, s) => new TlsInbound(t, s, policy) : (t, s) => new TcpInbound(t, s),
    ownsServer: true,
  };
  return (core) => ({ transport: new StreamTransport(core, server, kind, local), local: () => local });
}

/** ws / wss: an HTTP(S) server of the pool's own on host:port, or the one given (`ws.server`). */
async function bindWs(opts: SocketPoolOptions, host: string | undefined, family: Family, limits: PoolLimits): Promise<BuildTransport> {
  const proto = opts.proto as 'ws' | 'wss';
  const w = opts.ws ?? {};
  const path = w.path ?? '/';
  const connectPath = w.connectPath ?? '/';
  if (!path.startsWith('/') || !connectPath.startsWith('/')) throw new InvalidOptionsError('ws.path and ws.connectPath must start with /');
  const shared = w.server;
  if (shared !== undefined && (typeof shared !== 'object' || typeof shared.on !== 'function' || typeof shared.listen !== 'function')) {
    throw new InvalidOptionsError('ws.server must be an http.Server or https.Server');
  }
  // wss: TLS credentials for our own port and for outgoing connections (a shared server has its own).
  // Without cert/key (a client's leg) it still listens, as a 'tls' leg does; inbound handshakes fail.
  const needCert = proto === 'wss' && shared === undefined;
  const policy = proto === 'wss' ? new TlsPolicy(opts.tls ?? {}) : undefined;
  let server: http.Server;
  if (shared !== undefined) server = shared;
  else {
    const timeout = limits.CONNECT_TIMEOUT * 1000;
    server = needCert
      ? // Not half-open (as TLS legs are): a client that aborts its handshake with FIN is gone then, not at the timeout.
        (https.createServer({ ...policy!.serverOptions(timeout, limits.TCP_READSIZE), allowHalfOpen: false }) as unknown as http.Server)
      : http.createServer({ noDelay: true, highWaterMark: limits.TCP_READSIZE });
    // A client that never completes its handshake request holds a socket only this long.
    server.headersTimeout = timeout;
    server.requestTimeout = timeout;
    await listenOn(server, opts.port, host, family, limits, opts.reusePort === true);
  }
  const maxPayload = limits.MAX_SIP_HEADER + limits.MAX_SIP_BODY;
  const origins = w.origins !== undefined ? new Set(w.origins) : undefined;
  const kind: StreamKind = {
    dialer: new WsDialer(proto === 'wss', policy, connectPath, maxPayload, limits.CONNECT_TIMEOUT * 1000),
    inbound: (t, s) => new WsInbound(t, s as http.Server, { path, origins, ownsServer: shared === undefined, policy: needCert ? policy : undefined, maxPayload }),
    ownsServer: shared === undefined,
  };
  // A shared server may listen only later (Nest starts microservices before app.listen()).
  const unbound: LocalAddress = { addr: host ?? (family === 6 ? '::' : '0.0.0.0'), port: 0, family, proto };
  let bound: LocalAddress | undefined;
  const local = (): LocalAddress => {
    if (bound !== undefined) return bound;
    const a = server.address();
    if (a === null || typeof a === 'string') return unbound;
    return (bound = localOf(a, proto));
  };
  return (core) => ({ transport: new StreamTransport(core, server as net.Server, kind, local()), local });
}

function localOf(a: net.AddressInfo, proto: LocalAddress['proto']): LocalAddress {
  return { addr: normalizeAddr(a.address), port: a.port, family: toFamily(a.family, a.address), proto };
}

/** The master UDP socket, and the lookup that answers its sends at once (not on a socket given to us). */
function bindUdp(opts: SocketPoolOptions, host: string | undefined, family: Family): Promise<{ socket: dgram.Socket; checked: CheckedLookup | undefined }> {
  const given = opts.socket as dgram.Socket | undefined;
  if (given !== undefined && !(given instanceof dgram.Socket)) throw new InvalidOptionsError('socket must be a dgram.Socket for udp');
  const checked = given === undefined ? new CheckedLookup() : undefined;
  const socket =
    given ??
    dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup: checked!.lookup, ...(opts.reusePort === true ? { reusePort: true } : {}) } as dgram.SocketOptions);
  try {
    socket.address();
    return Promise.resolve({ socket, checked }); // already bound
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
      resolve({ socket, checked });
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
  return listenOn(server, opts.port, host, family, limits, opts.reusePort === true);
}

function listenOn(server: net.Server, port: number, host: string | undefined, family: Family, limits: PoolLimits, reusePort = false): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.close();
      reject(err);
    };
    server.once('error', onError);
    // A backlog as deep as the connection cap (the kernel clips it to somaxconn): a burst of
    // connects is queued rather than dropped into SYN retransmissions.
    const backlog = Math.max(511, Math.min(limits.MAX_CONNECTIONS, 65535));
    server.listen({ port, host: host ?? (family === 6 ? '::' : '0.0.0.0'), backlog, ...(reusePort ? { reusePort: true } : {}) } as net.ListenOptions, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}
