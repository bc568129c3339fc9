import type { SipMessage } from '../message/index.js';
import type { PoolLimits } from './limits.js';
import type { PoolStats } from './stats.js';
import type { From, Peer, Proto } from './types.js';

/** What a pool's UDP or stream transport needs from the pool (internal). */
export interface PoolCore {
  readonly proto: Proto;
  readonly limits: PoolLimits;
  readonly stats: PoolStats;
  /** `dst` restriction, address normalised; undefined when the pool talks to anyone. */
  readonly restriction: Peer | undefined;
  /** Hand a received message to the attached handler (never throws). */
  deliver(msg: SipMessage, from: From): void;
  /** UDP: a keep-alive datagram arrived (see SocketPool 'keepAlive'). */
  keptAlive(addr: string, port: number): void;
  /** A connection closed while transactions were held on it (see SocketPool 'connectionLost'). */
  lost(tids: string[], err: Error): void;
  /** Report a non-fatal error ('error' event when someone listens). */
  report(err: Error): void;
}
