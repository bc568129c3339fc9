import type { SipMessage } from '../message/index.js';
import type { TransportName } from '../transport/index.js';

export type SipTransportProto = TransportName;

/** Where a message goes. For responses this is the `from` of the request (socket included). */
export interface SipDestination {
  addr: string;
  port: number;
  family?: 4 | 6;
  proto: SipTransportProto;
  /** TLS: the name the server certificate must match (and the SNI), when not `addr` (RFC 5922). */
  servername?: string;
  /** The connection a request arrived on (stream transports); opaque to this layer. */
  socket?: unknown;
  /** The pool's id of that connection (From.flow): sends go through it (RFC 5626 flow; WebSocket clients). */
  flow?: string;
}

/** Where a message came from, as the socket pool reports it. */
export interface SipPeer extends SipDestination {
  family: 4 | 6;
}

/**
 * What the transaction layer needs from the transport below it (the socket pool, or a fake in
 * tests). The layer never opens sockets itself.
 */
export interface TransactionTransport {
  /**
   * Send one message (or its serialised bytes: a completed transaction's retransmitted response). Resolves when the bytes are handed to the kernel (datagram) or written
   * (stream); rejects with the reason otherwise. A rejection fails the transaction (§17.1.4, §17.2.4).
   */
  send(msg: SipMessage | Buffer, dst: SipDestination): Promise<void>;
  /** True for transports that retransmit themselves (TCP, TLS): no SIP retransmissions there. */
  reliable(proto: SipTransportProto): boolean;
}

export type ServerTransactionState = 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';
export type ClientTransactionState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';
