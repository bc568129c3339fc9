import * as net from 'node:net';
import * as tls from 'node:tls';
import { Connection } from './connection.js';
import type { ConnectionOwner, Dialer, DialTarget, InboundStage, PoolConnection } from './pool-connection.js';
import type { TlsPolicy } from './tls-options.js';

/** Outgoing TCP and TLS connections: a net / tls socket under a Connection. */
export class SocketDialer implements Dialer {
  constructor(
    /** TLS: the policy (credentials, server verification); undefined for TCP. */
    private readonly tlsPolicy: TlsPolicy | undefined,
    private readonly highWaterMark: number,
  ) {}

  dial(owner: ConnectionOwner, t: DialTarget): PoolConnection {
    const hwm = this.highWaterMark;
    let socket: net.Socket;
    if (this.tlsPolicy !== undefined) {
      socket = tls.connect(this.tlsPolicy.clientOptions(t.addr, t.port, t.isIp, t.localAddress, hwm, t.servername));
    } else {
      const o: net.TcpNetConnectOpts = { host: t.addr, port: t.port, allowHalfOpen: true, noDelay: true, highWaterMark: hwm } as net.TcpNetConnectOpts;
      if (t.localAddress !== undefined) o.localAddress = t.localAddress;
      if (!t.isIp) o.family = t.family;
      socket = net.connect(o);
    }
    return new Connection(owner, socket, false, t.key);
  }
}

/** What inbound TCP needs from its transport (StreamTransport). */
export interface TcpInboundOwner {
  /** Screen a new connection (closing, dst restriction, per-source limit); false: it was destroyed. */
  admit(socket: net.Socket): boolean;
  /** Take it (MAX_CONNECTIONS checked there). */
  accept(socket: net.Socket): void;
}

/** Inbound TCP: each connection the listener accepts, screened, then taken by the transport. */
export class TcpInbound implements InboundStage {
  constructor(
    private readonly owner: TcpInboundOwner,
    private readonly server: net.Server,
  ) {
    server.on('connection', this.onConnection);
  }

  private readonly onConnection = (socket: net.Socket): void => {
    if (this.owner.admit(socket)) this.owner.accept(socket);
  };

  close(): void {}

  detach(): void {
    this.server.off('connection', this.onConnection);
  }
}
