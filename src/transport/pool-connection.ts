import { responseForParseError, SipParseError, type ParseLimits, type SipMessage } from '../message/index.js';
import type { SipTransportError } from './errors.js';
import type { PoolLimits } from './limits.js';
import type { PoolStats } from './stats.js';
import type { TidOwner } from './tid-registry.js';
import type { Family, From, StreamProto } from './types.js';

/**
 * What a connection does with a whole message it cannot use (TCP/TLS frame or WebSocket message):
 * `'close'` for a size limit (513: the peer is not to be trusted with more input) or input that is
 * no SIP at all (HTTP, junk: no Via, Call-ID and CSeq); `'drop'` for SIP that is never answered (an
 * ACK, a response), as a datagram would be, since the connection may carry other transactions;
 * else the response's bytes to send (400, 505...), and reading goes on.
 */
export function unusableMessage(err: unknown): Buffer | 'drop' | 'close' {
  if (!(err instanceof SipParseError) || err.status === 513) return 'close';
  const res = responseForParseError(err);
  if (res !== undefined) return res;
  const h = err.headers;
  return h === undefined || !h.has('via') || !h.has('call-id') || !h.has('cseq') ? 'close' : 'drop';
}

/** Connection states, in order. */
export const CONNECTING = 0;
export const OPEN = 1;
/** Closing: no more input taken; an error response or a final flush may still be going out. */
export const CLOSING = 2;
export const CLOSED = 3;

export const now = (): number => performance.now();

let lastFlow = 0;
/** A connection id unique in the process (From.flow): a counter, so ids are never reused. */
export function nextFlowId(): string {
  return 'f' + (++lastFlow).toString(36);
}

/**
 * One connection of a connection-oriented transport (TCP, TLS, WebSocket) as the transport that
 * owns it sees it: routing state, expiry bookkeeping, the write queue and closing. Connection
 * (TCP/TLS: a net.Socket and the stream framer) and WsConnection (a WebSocket: one SIP message
 * per WebSocket message) implement it.
 */
export interface PoolConnection extends TidOwner {
  state: number;
  readonly inbound: boolean;
  /** Peer as seen by the handler; made once (open()), shared by every message of the connection. */
  from: From | undefined;
  /** Its id (From.flow). */
  readonly flow: string;
  /** Keys of this connection in the transport's peer map (requested address, real address). */
  keys: string[];
  /** Why the connection failed or was closed by us; what pending and later sends reject with. */
  failure: SipTransportError | undefined;
  /** The peer will send nothing more; responses may still go out. */
  peerEnded: boolean;
  /** performance.now() of the last activity: connect, complete message in, write out, keep-alive. */
  lastActivity: number;
  /** Outgoing: when the connect (handshakes included) times out. */
  connectDeadline: number;
  /** Pending-write progress, for the stall check of the sweep. */
  stallBytes: number;
  stallSince: number;
  closingSince: number;
  /** A request came in after our last write: the peer may still be owed an answer. */
  owed: boolean;
  /** Usable for new requests too: the peer can still answer. */
  readonly reusable: boolean;
  /** Bytes accepted by write() and not yet handed to the kernel. */
  readonly pendingBytes: number;
  /** Bytes handed to the kernel so far (progress of the pending ones). */
  readonly bytesOut: number;
  /** Start taking input (inbound: right away; outgoing: once connected). */
  open(): void;
  /** Queue `buf` for writing; settles when every byte is handed to the kernel, or fails. */
  write(buf: Buffer): Promise<void>;
  /** Close with `err` as the reason every pending and later send rejects with. */
  fail(err: SipTransportError): void;
  /** Input that cannot be used: answer it (400 / 513) when possible, then close. */
  rejectInput(err: unknown): void;
  /** Closing after the peer ended: flush what is queued, then close. */
  finish(): void;
  /** Close now, whatever is queued (a closing connection whose grace is over). */
  destroy(): void;
  /**
   * A held (busy) connection idle for the expiry time: check that the peer is still there, if the
   * protocol can (WebSocket: a ping; no pong within another expiry time closes it). Optional.
   */
  probe?(t: number, expireMs: number): void;
  describe(): string;
}

/**
 * What a connection needs from the transport that owns it (StreamTransport implements it; the
 * connection classes import only this file, so nothing imports in a circle).
 */
export interface ConnectionOwner {
  readonly proto: StreamProto;
  readonly parseLimits: ParseLimits;
  readonly limits: PoolLimits;
  readonly stats: PoolStats;
  /** The connection is up (outgoing: connected, TLS verified, WebSocket handshake done). */
  connected(conn: PoolConnection): void;
  /** A whole message came in. */
  receive(msg: SipMessage, conn: PoolConnection): void;
  /** Stop routing to it (it is closing). */
  unlink(conn: PoolConnection): void;
  /** The peer half-closed. */
  peerEnded(conn: PoolConnection): void;
  /** Give a closing connection its grace period before it is destroyed. */
  graceFor(conn: PoolConnection): void;
  /** It is gone. */
  closed(conn: PoolConnection): void;
}

/** Where an outgoing connection goes. */
export interface DialTarget {
  /** Normalised address, or a host name (resolved by the connect). */
  addr: string;
  port: number;
  /** `addr` is an IP literal. */
  isIp: boolean;
  /** Family to resolve a host name in. */
  family: Family;
  /** Local address to connect from, if any. */
  localAddress: string | undefined;
  /** TLS: the name the certificate must match (Peer.servername). */
  servername: string | undefined;
  /** The transport's peer-map key of the connection. */
  key: string;
}

/** How a transport opens outgoing connections (TCP, TLS, WebSocket): the pluggable connect step. */
export interface Dialer {
  /**
   * Start connecting; the connection reports to `owner` (connected, closed...). Throws for a
   * destination it cannot even try.
   */
  dial(owner: ConnectionOwner, t: DialTarget): PoolConnection;
}

/** How a transport takes inbound connections (a listener's events, TLS handshakes, WebSocket upgrades). */
export interface InboundStage {
  /** Pool closing: drop what is not a connection yet (handshakes in progress). */
  close(): void;
  /** Stop listening to the server's events. */
  detach(): void;
}
