/**
 * Typed errors of the socket pool. Every rejected `sendto` rejects with one of these; test the
 * class with `instanceof` or the string `code`. The underlying system / TLS error, if any, is `cause`.
 */

export type SipTransportErrorCode =
  | 'ERR_SIP_CONNECT_REFUSED'
  | 'ERR_SIP_CONNECT_TIMEOUT'
  | 'ERR_SIP_CONNECT_FAILED'
  | 'ERR_SIP_TLS'
  | 'ERR_SIP_CONNECTION_CLOSED'
  | 'ERR_SIP_CONNECTION_EXPIRED'
  | 'ERR_SIP_POOL_CLOSED'
  | 'ERR_SIP_QUEUE_FULL'
  | 'ERR_SIP_TOO_MANY_CONNECTIONS'
  | 'ERR_SIP_SEND_FAILED'
  | 'ERR_SIP_INVALID_DESTINATION'
  | 'ERR_SIP_INVALID_OPTIONS'
  | 'ERR_SIP_HANDLER';

export abstract class SipTransportError extends Error {
  abstract readonly code: SipTransportErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The peer refused the TCP connection (ECONNREFUSED). */
export class ConnectRefusedError extends SipTransportError {
  readonly code = 'ERR_SIP_CONNECT_REFUSED';
}

/** No connection (TLS handshake included) within CONNECT_TIMEOUT. */
export class ConnectTimeoutError extends SipTransportError {
  readonly code = 'ERR_SIP_CONNECT_TIMEOUT';
}

/** Any other failure to connect: unreachable network, name not resolved, bad local address... */
export class ConnectFailedError extends SipTransportError {
  readonly code = 'ERR_SIP_CONNECT_FAILED';
}

/** TLS handshake or certificate verification failed. */
export class TlsError extends SipTransportError {
  readonly code = 'ERR_SIP_TLS';
}

/** The connection closed (reset, peer gone, error) before the bytes were written. */
export class ConnectionClosedError extends SipTransportError {
  readonly code = 'ERR_SIP_CONNECTION_CLOSED';
}

/** The connection was closed by the pool's idle expiry. */
export class ConnectionExpiredError extends SipTransportError {
  readonly code = 'ERR_SIP_CONNECTION_EXPIRED';
}

/** The pool is closed (or was closed while the send was pending). */
export class PoolClosedError extends SipTransportError {
  readonly code = 'ERR_SIP_POOL_CLOSED';
}

/** The connection already has MAX_QUEUED_BYTES waiting to be written (a peer that does not read). */
export class QueueFullError extends SipTransportError {
  readonly code = 'ERR_SIP_QUEUE_FULL';
}

/** MAX_CONNECTIONS reached: no new outgoing connection. */
export class TooManyConnectionsError extends SipTransportError {
  readonly code = 'ERR_SIP_TOO_MANY_CONNECTIONS';
}

/** A datagram could not be sent (EMSGSIZE, ENETUNREACH...). */
export class SendFailedError extends SipTransportError {
  readonly code = 'ERR_SIP_SEND_FAILED';
}

/** No usable destination: none given, bad port, or an address of the wrong family. */
export class InvalidDestinationError extends SipTransportError {
  readonly code = 'ERR_SIP_INVALID_DESTINATION';
}

/** Bad pool options or limits (thrown by SocketPool.create). */
export class InvalidOptionsError extends SipTransportError {
  readonly code = 'ERR_SIP_INVALID_OPTIONS';
}

/** The attached handler threw; reported through the pool's 'error' event, never thrown. */
export class HandlerError extends SipTransportError {
  readonly code = 'ERR_SIP_HANDLER';
}
