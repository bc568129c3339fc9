import type { DialogLayerOptions, SipDialog } from '../dialog/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import type { HepOptions, SipTracingOptions, TransactionLogEntry } from '../observe/index.js';
import type { AdmissionOptions, TimerOptions } from '../transaction/index.js';
import type { PoolLimitsInit } from '../transport/index.js';
import type { SipProxyOptions } from './proxy-host.js';
import type { SipLeg } from './sip-endpoint.js';

export interface SipServerOptions {
  /** Where to listen. Default: UDP and TCP on 127.0.0.1:5060. */
  listen?: SipLeg[];
  /** Socket pool limits (MAX_SIP_HEADER, MAX_EXPIRE, MAX_CONNECTIONS...), per leg. */
  limits?: PoolLimitsInit;
  /** RFC 3261 timers (T1, T2, T4) and the server's own timeouts (trying100, serverInviteTimeout...). */
  timers?: TimerOptions;
  /** Option tags this server supports: a request that Requires anything else gets 420 (RFC 3261 §8.2.2.3). */
  supported?: string[];
  /** Request-URI schemes accepted; others get 416 (RFC 3261 §8.2.2.1). Default sip, sips, tel. */
  schemes?: string[];
  /** How long close() lets running transactions finish, ms. Default 5000. */
  closeTimeout?: number;
  /**
   * Added to every response as the Server header (e.g. 'my-app/1.0'), the transaction layer's own
   * (100 Trying, 487, 408...) included; none by default. (Not on the 400/505/513 the socket pool
   * answers to what the codec cannot parse.)
   */
  serverHeader?: string;
  /**
   * Dialogs (RFC 3261 §12): `maxDialogs` (default 100,000; dialog-creating requests over it get
   * 503 with Retry-After) and `store` (default in memory).
   */
  dialogs?: DialogLayerOptions;
  /**
   * Overload control (on by default): new requests get 503 with Retry-After (or are dropped) when
   * the event loop lags past `maxLag` (200 ms), when `maxTransactions` (50,000) live, or (opt-in)
   * when the loop is busier than `maxLoad`; a source over `perSource.limit` requests per second
   * (1,000) is blocked for a while; exempt a front proxy with `perSource.exempt`. `false`: all off.
   */
  overload?: AdmissionOptions | false;
  /**
   * Proxying (`ctx.proxy()`, and in-dialog requests whose Route names this server, which are
   * forwarded without a handler): other names this server goes by, and the DNS resolver for next hops.
   */
  proxy?: SipProxyOptions;
  /**
   * Count requests, responses, latency and drops for `server.metrics` (Prometheus text, or
   * `nestjs-sip/prometheus` for a prom-client registry). Default true; the cost is a few array
   * increments per message.
   */
  metrics?: boolean;
  /** Mirror every message received and sent to a HEP v3 collector (Homer) over UDP. Off unless given. */
  hep?: HepOptions;
  /**
   * OpenTelemetry spans per server and client transaction through `@opentelemetry/api` (an
   * optional peer dependency, loaded at listen()); `propagate` carries W3C `traceparent` across
   * hops. Off unless given.
   */
  tracing?: boolean | SipTracingOptions;
  /**
   * One log entry per server transaction at its final response (method, Request-URI, sender,
   * Call-ID, CSeq, status, time): `'text'` through the Nest logger (context SIP), `'json'` as one
   * JSON object per line on stdout, or your function. Off by default.
   */
  transactionLog?: 'text' | 'json' | ((entry: TransactionLogEntry) => void);
}

/** The server's states, as `status` emits them. */
export type SipServerStatus = 'listening' | 'error' | 'closing' | 'closed';

export interface SipServerEvents {
  /** A socket, TLS or transaction error nobody else could be told about. */
  error: (err: unknown) => void;
  /** A dialog was created by a response of this server (1xx with a To tag or 2xx to INVITE; 2xx to SUBSCRIBE/REFER), or by a SipClient sending from it. */
  dialog: (dialog: SipDialog, request: SipRequest) => void;
  /** A 2xx to an INVITE was never acknowledged within 64*T1. */
  unacked: (request: SipRequest, response: SipResponse) => void;
  [event: string]: Function;
}
