/**
 * Counters of one pool, live (the same object is updated in place). Plain numeric fields, so that
 * counting costs one increment on the hot path.
 */
export interface PoolStats {
  /** Messages handed to the attached handler. */
  messagesIn: number;
  /** Messages / buffers fully sent (datagram handed to the kernel, or every byte written). */
  messagesOut: number;
  /** Datagrams dropped: malformed, unanswerable, or arriving while no handler is attached. */
  datagramsDropped: number;
  /** Datagrams and connections from peers other than `dst`, dropped. */
  foreignDropped: number;
  /** Messages (datagram or stream) that failed to parse or frame. */
  parseErrors: number;
  /** 400 / 505 / 513 responses sent for unparsable requests. */
  errorResponses: number;
  /** CRLF keep-alives seen (RFC 5626): pings answered, pongs, tiny keep-alive datagrams. */
  keepAlives: number;
  /** Connections open right now (TCP/TLS; connecting ones included). */
  connectionsOpen: number;
  /** Inbound connections accepted (TLS: handshake completed). */
  connectionsAccepted: number;
  /** Outgoing connections established. */
  connectionsConnected: number;
  /** Outgoing connection attempts that failed (refused, timeout, TLS, other). */
  connectFailures: number;
  /** Connections closed by idle expiry. */
  connectionsExpired: number;
  /** Connections refused because MAX_CONNECTIONS was reached. */
  connectionsRejected: number;
  /** Inbound connections closed at once because their source already had MAX_CONNECTIONS_PER_SOURCE. */
  connectionsRejectedPerSource: number;
  /** Connections closed after a framing or parse error. */
  connectionsFailed: number;
  /** WebSocket handshakes refused: no `sip` subprotocol (400) or an Origin not allowed (403). */
  handshakesRefused: number;
  /** TLS handshakes / client verifications that failed (inbound and outgoing). */
  tlsFailures: number;
  /** Inbound TLS connections accepted by TCP whose handshake is not done yet (right now). */
  handshaking: number;
  /** Sends refused because the connection's write queue was full. */
  queueFull: number;
  /** Stream messages received while no handler was attached (dropped). */
  unhandled: number;
  /** Exceptions thrown by the attached handler (caught). */
  handlerErrors: number;
}

export function createStats(): PoolStats {
  return {
    messagesIn: 0,
    messagesOut: 0,
    datagramsDropped: 0,
    foreignDropped: 0,
    parseErrors: 0,
    errorResponses: 0,
    keepAlives: 0,
    connectionsOpen: 0,
    connectionsAccepted: 0,
    connectionsConnected: 0,
    connectFailures: 0,
    connectionsExpired: 0,
    connectionsRejected: 0,
    connectionsRejectedPerSource: 0,
    connectionsFailed: 0,
    handshakesRefused: 0,
    tlsFailures: 0,
    handshaking: 0,
    queueFull: 0,
    unhandled: 0,
    handlerErrors: 0,
  };
}
