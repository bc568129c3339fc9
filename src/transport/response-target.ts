import type { SipMessage } from '../message/index.js';
import { topViaOf } from './transaction-key.js';
import { normalizeAddr } from './address.js';
import type { Peer, Proto } from './types.js';

/**
 * Where a response goes when the connection its request came in on is gone (RFC 3261 §18.2.2): the
 * `received` address (else the sent-by host) and the sent-by port (else 5060, 5061 for TLS). When
 * the request's observed `source` address is known it is that `received` (§18.2.1), and it is used
 * rather than a Via parameter the sender may have written itself (a forged `received` would make
 * us connect to a third party). For UDP an `rport` value (RFC 3581) replaces the port; for TCP/TLS
 * it would be the dead connection's ephemeral port, so it is not used. Undefined without a usable top Via.
 */
export function responseTarget(msg: SipMessage, proto: Proto, source?: string): Peer | undefined {
  const via = topViaOf(msg);
  if (via === undefined) return undefined;
  const addr = normalizeAddr(source ?? via.received ?? via.host);
  let port = via.port ?? (proto === 'tls' || via.transport === 'TLS' ? 5061 : 5060);
  if (proto === 'udp' && typeof via.rport === 'number' && via.rport > 0) port = via.rport;
  return { addr, port };
}
