import type { Observable } from 'rxjs';
import type { Body, HeadersInit, SipRequest, SipResponse } from '../message/index.js';

/** RFC 3261 §12: early (a 1xx with a To tag), confirmed (a 2xx), terminated. */
export type DialogState = 'early' | 'confirmed' | 'terminated';

/** Which side of the dialog-creating request this end was. */
export type DialogRole = 'uac' | 'uas';

/**
 * Why a dialog ended:
 * - `bye`: a BYE was sent (`by: 'local'`) or received (`by: 'remote'`);
 * - `rejected`: the dialog-creating request got a non-2xx final response (an early dialog ends);
 * - `cancelled`: the INVITE was cancelled while the dialog was early;
 * - `no-ack`: our 2xx was never acknowledged within 64*T1 (RFC 3261 §13.3.1.4; a BYE was sent);
 * - `gone`: an in-dialog request got `481` or `408`, or timed out (§12.2.1.2);
 * - `fork`: another fork's 2xx answered the same INVITE (this one was ACKed, then ended with BYE);
 * - `closed`: the server or client holding it was closed.
 */
export type DialogEndReason = 'bye' | 'rejected' | 'cancelled' | 'no-ack' | 'gone' | 'fork' | 'closed';

/** When and why a dialog ended (`dialog.terminated` resolves with it). */
export interface DialogEnd {
  reason: DialogEndReason;
  /** Which end caused it. */
  by: 'local' | 'remote';
  /** The response status that ended it, when one did (481, 408, 486...). */
  status?: number;
  at: Date;
}

/** What an in-dialog request may add to what the dialog fills in (Request-URI, Route, From, To, Call-ID, CSeq). */
export interface DialogRequestOptions {
  headers?: HeadersInit;
  body?: Body;
  /** Shorthand for a Content-Type header. */
  contentType?: string;
}

/**
 * The connection a dialog was set up over (the `from` of its request: address, port, transport,
 * socket). For a TCP/TLS dialog without proxies in its path, our requests go back over it while it
 * is open (a peer behind NAT cannot take a connection of ours; RFC 5626 flows); else to the target.
 */
export interface DialogFlow {
  addr: string;
  port: number;
  proto: string;
  family?: 4 | 6;
  socket?: unknown;
  /** The socket pool's id of the connection (From.flow). */
  flow?: string;
}

/**
 * What a dialog needs from the user agent below it. The dialog builds every in-dialog request
 * (Request-URI, Route, From, To, Call-ID, CSeq, Contact); the sender adds Via and Max-Forwards,
 * resolves the destination (RFC 3263: the first Route, else the Request-URI; `transport` for URIs
 * that name none) and runs the client transaction.
 */
export interface DialogSender {
  /**
   * Send `req` now. Emits each provisional response, then the final one whatever its status, and
   * completes; errors only when no final response came (timeout, transport failure, closed).
   * 2xx to INVITE are not ACKed by the sender: the dialog does it. A sender that sends the
   * request again (answering a 401/407 challenge) takes the new CSeq number from `nextCSeq`, so
   * the dialog's local CSeq stays the last one sent.
   */
  sendInDialog(req: SipRequest, transport: string, flow?: DialogFlow, nextCSeq?: () => number): Observable<SipResponse>;
  /** Send an ACK for a 2xx (no transaction), repeated by the sender for retransmissions of that 2xx. */
  sendAck(ack: SipRequest, response: SipResponse, transport: string, flow?: DialogFlow): Promise<void>;
}
