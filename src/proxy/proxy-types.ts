import type { SipRequest, SipResponse, SipUri } from '../message/index.js';
import type { SipDestination, SipPeer, SipTransportProto, TransactionLayer } from '../transaction/index.js';

/** One of the proxy's own legs, as written into Via sent-by and Record-Route. */
export interface ProxyLeg {
  proto: SipTransportProto;
  /** Host as peers reach it (the advertised or bound address; an IPv6 address unbracketed). */
  host: string;
  port: number;
}

/**
 * What the proxy needs from the endpoint it runs on (SipServer provides it): the transaction
 * layer, its own addresses, and RFC 3263 resolution of next hops.
 */
export interface ProxyHost {
  readonly layer: TransactionLayer;
  /** Our address on the leg a message to `dst` leaves from; undefined when no leg can reach it. */
  legFor(dst: SipDestination): ProxyLeg | undefined;
  /** Our address on the leg a request from `from` arrived on. */
  legOf(from: SipPeer): ProxyLeg | undefined;
  /** Whether `uri` names this proxy (one of its legs, or a configured alias). */
  isLocal(uri: SipUri): boolean;
  /** The destinations for a next-hop URI (RFC 3263), best first; rejects when there is none. */
  resolve(uri: SipUri): Promise<SipDestination[]>;
  /** Where an open connection (a pool's flow id) goes; undefined when it is gone. */
  flowDestination(flow: string): SipDestination | undefined;
}

/**
 * Where a branch goes: a Request-URI (its next hop resolved by RFC 3263), or a Request-URI with the
 * destination to send it to, e.g. the connection a WebSocket client registered from (its Contact,
 * `sip:x@abc.invalid;transport=ws`, is reachable no other way): `{ uri, destination: { proto, addr, port, flow } }`.
 */
export type ProxyTarget = string | { uri: string; destination?: SipDestination };

/** How `proxy()` forwards a request. */
export interface ProxyOptions {
  /**
   * Add Record-Route so the dialog's later requests pass through us (two of them when the request
   * changes transport or address family, RFC 5658). Default true for dialog-creating requests
   * (INVITE, SUBSCRIBE, REFER, NOTIFY), false for others.
   */
  recordRoute?: boolean;
  /** Several targets: all at once ('parallel', default) or one after another ('sequential'). */
  forking?: 'parallel' | 'sequential';
  /**
   * Give a branch this long (ms) to answer finally: then it is cancelled (or, with no provisional
   * response yet, counted as 408) and, in sequential forking, the next target is tried. Default
   * none (Timer C, 180 s after the last provisional response, still applies to INVITE).
   */
  branchTimeout?: number;
  /** Headers added to (or, with value null, removed from) every forwarded request. */
  headers?: Record<string, string | null>;
  /** Change a branch's request just before it leaves (after Via, Max-Forwards, Record-Route). */
  beforeSend?: (request: SipRequest, target: string) => void;
  /**
   * Every branch failed (Kamailio's failure_route): return more targets to try (voicemail, a
   * forwarding number), a status or response to send instead of `best` (e.g. 480 for a 408), or
   * nothing to send `best`. Not called after a 6xx, nor when the caller cancelled.
   */
  onFailure?: (best: SipResponse, branches: readonly ProxyBranchInfo[]) => readonly string[] | number | SipResponse | undefined | void;
  /** Told every response of every branch (100 Trying included), before it is relayed or kept. */
  onResponse?: (response: SipResponse, branch: ProxyBranchInfo) => void;
}

/** A branch as the application sees it. */
export interface ProxyBranchInfo {
  /** The target URI this branch forwards to (the Request-URI it sent). */
  readonly target: string;
  /** The request as it left (our Via on top). */
  readonly request: SipRequest;
  /** Where it was sent, once known. */
  readonly destination: SipDestination | undefined;
}

/** What a proxied request came to. */
export interface ProxyOutcome {
  /** The final response relayed upstream (the first 2xx, or the best of the branches' answers, §16.7). */
  response: SipResponse;
  /**
   * Every branch with its final answer (a synthetic 408/503 when there was none), as they stood when
   * the caller's answer went: after a 2xx, branches still being cancelled have none yet (their
   * answers still come on `run.responses`).
   */
  branches: readonly { target: string; response: SipResponse | undefined }[];
}
