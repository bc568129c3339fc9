export { SocketPool, type SocketPoolEvents } from './socket-pool.js';
export { DEFAULT_LIMITS, resolveLimits, expireAfterMs, type PoolLimits, type PoolLimitsInit } from './limits.js';
export {
  SipTransportError,
  ConnectRefusedError,
  ConnectTimeoutError,
  ConnectFailedError,
  TlsError,
  ConnectionClosedError,
  ConnectionExpiredError,
  PoolClosedError,
  QueueFullError,
  TooManyConnectionsError,
  SendFailedError,
  InvalidDestinationError,
  InvalidOptionsError,
  HandlerError,
  type SipTransportErrorCode,
} from './errors.js';
export type { PoolStats } from './stats.js';
export type { TransportName, StreamProto, PoolWsOptions, Proto, Family, Peer, From, LocalAddress, PoolSocket, MessageHandler, PoolTlsOptions, SocketPoolOptions } from './types.js';
export { transactionKey } from './transaction-key.js';
export { responseTarget } from './response-target.js';
export { sourceKey } from './address.js';
