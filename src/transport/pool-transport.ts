import type { SipMessage } from '../message/index.js';
import type { From, Peer } from './types.js';

/**
 * What SocketPool needs from the transport of its leg (internal): UdpTransport for datagrams,
 * StreamTransport for TCP, TLS and WebSocket connections. The pool never switches on the protocol.
 */
export interface PoolTransport {
  /** The master socket: the dgram socket, or the listening (HTTP) server. */
  readonly server: object;
  /** Connections open now (connecting ones included); 0 for datagrams. */
  readonly connectionCount: number;
  /** Send `buf` (the bytes of `msg` when it is a message) to `dst`; see SocketPool.sendto. */
  send(msg: SipMessage | undefined, buf: Buffer, dst: Peer | undefined): Promise<void>;
  /** The peer of the open connection with id `flow` (From.flow); undefined when gone, or for datagrams. */
  peerOf(flow: string): From | undefined;
  /** Keep the connection carrying transaction `tid` (see SocketPool.hold); false when there is none. */
  hold(tid: string): boolean;
  release(tid: string): void;
  /** Keep the open connection `flow` (see SocketPool.holdFlow); false when it is gone, or for datagrams. */
  holdFlow(flow: string): boolean;
  releaseFlow(flow: string): void;
  /** Release every socket and timer; resolves when they are closed. */
  close(): Promise<void>;
}
