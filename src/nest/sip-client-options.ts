import type { SipClientAuth } from '../auth/client-challenge.js';
import type { SipDialog } from '../dialog/index.js';
import type { Body, HeadersInit, SipRequest, SipResponse } from '../message/index.js';
import type { TimerOptions } from '../transaction/index.js';
import type { PoolLimitsInit, PoolTlsOptions, PoolWsOptions } from '../transport/index.js';
import type { SipEndpointHost } from './sip-endpoint.js';
import type { SipDnsResolver, SipTransportName } from './sip-resolver.js';

export interface SipClientOptions {
  /** Transport for URIs that do not name one (`;transport=`, `sips:`). Default 'udp'. */
  transport?: SipTransportName;
  /** Local address to bind the client's sockets to. Default '0.0.0.0' (IPv4) and '::' (IPv6). */
  localHost?: string;
  localHost6?: string;
  /** Host written into Via and Contact. Default: the bound address, or this machine's first external IPv4/IPv6 address for a wildcard bind. */
  publicHost?: string;
  /** TLS credentials (client certificate) and CAs for verifying servers (TLS and WSS). */
  tls?: PoolTlsOptions;
  /** ws / wss legs of the client: the path its connections ask for (`connectPath`, default '/'). */
  ws?: PoolWsOptions;
  limits?: PoolLimitsInit;
  /** T1/T2/T4 (ms) and the other transaction timers. With `server`, the server's timers apply. */
  timers?: TimerOptions;
  /** From for requests that have none, e.g. '"Nest" <sip:nest@example.com>'. A tag is always added. */
  from?: string;
  /** User-Agent header added to requests that have none. */
  userAgent?: string;
  /** Deliver final non-2xx responses as the last value instead of a SipResponseError. Default false. */
  non2xxAsValue?: boolean;
  /** ACK 2xx responses to INVITE automatically (RFC 3261 §13.2.2.4). Default true; false hands the 2xx to you (see `ack()`). */
  autoAck?: boolean;
  /**
   * A forked INVITE answered 2xx by more than one branch: keep every extra dialog (each ACKed, told
   * as a `'fork'` event with the dialog and its 2xx) instead of ending them with BYE. Default false.
   */
  keepForks?: boolean;
  /**
   * Answer digest challenges (401/407) with these credentials, or with what the function gives for
   * the challenge's realm and the request (undefined: leave that realm unanswered). The strongest
   * algorithm offered wins (SHA-512-256, SHA-256, MD5); one retry per challenge (one more when the
   * nonce was stale), then the 401/407 is the result. Nonces are kept for the following requests
   * from the same From URI to the same proxy or domain.
   */
  auth?: SipClientAuth;
  /**
   * DNS look-ups for RFC 3263 resolution (NAPTR, SRV, A/AAAA), used as given (wrap it in a
   * `DnsCache` to cache its answers). Default: node:dns (the `dnsServers`) behind a DnsCache that
   * keeps each answer for its TTL.
   */
  dns?: SipDnsResolver;
  /** DNS servers for the default resolver, e.g. `['127.0.0.1:5353']`; default the system's. Ignored with `dns`. */
  dnsServers?: readonly string[];
  /**
   * Send from a SipServer's listening sockets (and its transaction layer) instead of sockets of the
   * client's own, so requests leave from the server's port and in-dialog requests reach its handlers.
   */
  server?: SipEndpointHost;
}

/** What `send(method, request)` takes: the Request-URI and what to add; everything RFC 3261 §8.1.1 requires is filled in. */
export interface SipClientRequest {
  uri: string;
  headers?: HeadersInit;
  body?: Body;
  /** Send to this host/port/transport instead of what the URI (or Route) resolves to. */
  host?: string;
  port?: number;
  transport?: SipTransportName;
  /**
   * Send through this connection (a received request's `ctx.getFrom().flow`): the way to reach a
   * WebSocket client, whose Contact (`…@x.invalid;transport=ws`) has no reachable address. Without
   * `host`, the connection alone decides (its leg, its peer); the send fails with
   * ConnectionClosedError when it is gone.
   */
  flow?: string;
}

export type SipClientStatus = 'connected' | 'disconnected' | 'closed';

export interface SipClientEvents {
  error: (err: unknown) => void;
  /** In a dialog of this client, the peer sent a request (answered already: 200, or see the README). */
  request: (request: SipRequest, dialog: SipDialog) => void;
  /** With `keepForks`: another branch of a forked INVITE answered 2xx; its dialog is confirmed and ACKed. */
  fork: (dialog: SipDialog, response: SipResponse) => void;
  [event: string]: Function;
}

export interface SipAckOptions {
  /** Body of the ACK (an SDP answer to an offer in the 2xx, or the offer of a late-offer INVITE). */
  body?: Body;
  contentType?: string;
}
