import { STATUS_CODES, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { ConnectionOwner, InboundStage, PoolConnection } from './pool-connection.js';
import type { TlsPolicy } from './tls-options.js';
import { WsConnection } from './ws-connection.js';

/** What the WebSocket handshake stage needs from its transport (StreamTransport). */
export interface WsInboundOwner extends ConnectionOwner {
  /** The pool is closing: refuse. */
  readonly closing: boolean;
  /** Screen a new TCP connection (dst restriction, per-source limit); false: it was destroyed. */
  admit(socket: Socket): boolean;
  /** MAX_CONNECTIONS reached (counted). */
  full(): boolean;
  /** Take a new connection into the pool. */
  adopt(conn: PoolConnection): void;
  /** Close every connection now (the shared server they came through is closing). */
  dropAll(why: string): void;
  report(err: Error): void;
}

export interface WsInboundOptions {
  /** URL path of the SIP endpoint. */
  path: string;
  /** Origins allowed (undefined: any). */
  origins: ReadonlySet<string> | undefined;
  /** The pool owns the server: requests on other paths, and plain HTTP, are answered here. */
  ownsServer: boolean;
  /** wss on a port of our own: the client-certificate policy (verifyClient -1 is checked here). */
  policy: TlsPolicy | undefined;
  /** Largest WebSocket message: the SIP size limits (over it: close 1009). */
  maxPayload: number;
}

/**
 * The WebSocket handshakes of a ws / wss leg (RFC 7118 §4, RFC 6455 §4.2): the `sip` subprotocol
 * is required (400 without it), the Origin must be allowed when a list is set (403), and the pool's
 * connection limits apply (per source, MAX_CONNECTIONS: 503), all checked before `ws` takes the
 * socket, so a refused handshake allocates nothing. On a shared HTTP server only upgrades to our
 * path are ours; the others are left to the server's other listeners.
 */
export class WsInbound implements InboundStage {
  private readonly wss: WebSocketServer;
  /** Shared server: its close(), wrapped (see hookClose), and whether close was its own property. */
  private readonly closeHook: { wrapped: HttpServer['close']; prev: HttpServer['close']; own: boolean } | undefined;

  constructor(
    private readonly owner: WsInboundOwner,
    private readonly server: HttpServer,
    private readonly opts: WsInboundOptions,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: opts.maxPayload,
      handleProtocols: () => 'sip',
    });
    server.on('upgrade', this.onUpgrade);
    if (opts.ownsServer) {
      server.on('request', this.onRequest);
      server.on('tlsClientError', this.onTlsClientError);
    } else this.closeHook = this.hookClose(server);
  }

  /**
   * A shared server's close() waits for every socket it accepted, our upgraded ones included, and
   * Nest closes its HTTP server before its microservices: app.close() would wait forever. So when
   * the server closes, our connections close first (their transactions learn it as a closed
   * connection); the pool itself closes when its owner closes it.
   */
  private hookClose(server: HttpServer): { wrapped: HttpServer['close']; prev: HttpServer['close']; own: boolean } {
    const own = Object.prototype.hasOwnProperty.call(server, 'close');
    const prev = server.close;
    const owner = this.owner;
    const wrapped = function (this: HttpServer, ...args: Parameters<HttpServer['close']>) {
      owner.dropAll('the HTTP server is closing');
      return prev.apply(this, args);
    } as HttpServer['close'];
    server.close = wrapped;
    return { wrapped, prev, own };
  }

  /** Pool closing: idle HTTP connections (keep-alive, handshakes not sent yet) of our own server go too. */
  close(): void {
    if (this.opts.ownsServer) this.server.closeAllConnections();
  }

  detach(): void {
    const s = this.server;
    s.off('upgrade', this.onUpgrade);
    s.off('request', this.onRequest);
    s.off('tlsClientError', this.onTlsClientError);
    const h = this.closeHook;
    if (h !== undefined && s.close === h.wrapped) {
      if (h.own) s.close = h.prev;
      else delete (s as Partial<HttpServer>).close;
    }
    this.wss.close();
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    const o = this.opts;
    if (pathOf(req.url) !== o.path) {
      // Not ours. On a shared server another 'upgrade' listener may take it; with none, Node would
      // leave the socket open forever (it closes unhandled upgrades only when nobody listens).
      if (o.ownsServer || this.server.listenerCount('upgrade') <= 1) refuse(socket, 404);
      return;
    }
    const owner = this.owner;
    const stats = owner.stats;
    if (owner.closing) return refuse(socket, 503);
    if (!offersSip(req.headers['sec-websocket-protocol'])) {
      stats.handshakesRefused++;
      return refuse(socket, 400, 'the sip subprotocol is required (RFC 7118)');
    }
    const origin = req.headers.origin;
    if (o.origins !== undefined && origin !== undefined && !o.origins.has(origin)) {
      stats.handshakesRefused++;
      return refuse(socket, 403, 'origin not allowed');
    }
    if (o.policy !== undefined && !o.policy.acceptClient(socket as TLSSocket)) {
      stats.tlsFailures++;
      return refuse(socket, 403, 'client certificate rejected');
    }
    if (!owner.admit(socket)) return; // foreign, or its source is at MAX_CONNECTIONS_PER_SOURCE: destroyed
    if (owner.full()) return refuse(socket, 503);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (owner.closing) {
        ws.terminate();
        return;
      }
      owner.adopt(new WsConnection(owner, ws, true, undefined, socket));
    });
  };

  /** Plain HTTP on a port of our own: this port speaks WebSocket only. */
  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(pathOf(req.url) === this.opts.path ? 426 : 404, { Connection: 'close', Upgrade: 'websocket', 'Content-Length': 0 });
    res.end();
  };

  private readonly onTlsClientError = (_err: Error, socket: TLSSocket): void => {
    this.owner.stats.tlsFailures++;
    socket.destroy();
  };
}

/** The path of a request target, without the query. */
function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Sec-WebSocket-Protocol lists `sip` (a comma-separated token list, RFC 6455 §11.3.4). */
function offersSip(header: string | undefined): boolean {
  if (header === undefined) return false;
  for (const p of header.split(',')) if (p.trim() === 'sip') return true;
  return false;
}

/** Answer a handshake with an HTTP error and drop the socket. */
function refuse(socket: Socket, status: number, why?: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = why ?? '';
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.destroySoon();
}
