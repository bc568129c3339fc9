import { WebSocket, type ClientOptions } from 'ws';
import type { ConnectionOwner, Dialer, DialTarget, PoolConnection } from './pool-connection.js';
import type { TlsPolicy } from './tls-options.js';
import { WsConnection } from './ws-connection.js';

/** Outgoing SIP-over-WebSocket connections (RFC 7118): `ws(s)://addr:port/path`, subprotocol `sip`. */
export class WsDialer implements Dialer {
  constructor(
    private readonly secure: boolean,
    /** wss: credentials and server verification, as for TLS legs. */
    private readonly tlsPolicy: TlsPolicy | undefined,
    private readonly path: string,
    private readonly maxPayload: number,
    private readonly handshakeTimeoutMs: number,
  ) {}

  dial(owner: ConnectionOwner, t: DialTarget): PoolConnection {
    const host = t.addr.includes(':') ? `[${t.addr}]` : t.addr;
    const url = `${this.secure ? 'wss' : 'ws'}://${host}:${t.port}${this.path}`;
    let o: ClientOptions = {
      perMessageDeflate: false,
      maxPayload: this.maxPayload,
      handshakeTimeout: this.handshakeTimeoutMs,
      followRedirects: false,
    };
    if (this.tlsPolicy !== undefined) {
      // The TLS leg's options (secure context, SNI for names, the identity check): tls.connect takes them through ws.
      const c = this.tlsPolicy.clientOptions(t.addr, t.port, t.isIp, t.localAddress, 65536, t.servername);
      delete c.host;
      delete c.port;
      o = { ...(c as ClientOptions), ...o };
    } else if (t.localAddress !== undefined) o.localAddress = t.localAddress;
    if (!t.isIp) o.family = t.family;
    return new WsConnection(owner, new WebSocket(url, 'sip', o), false, t.key, undefined);
  }
}
