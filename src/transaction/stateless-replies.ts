import { createResponse, SipParseError, type SipRequest, type SipResponse } from '../message/index.js';

/**
 * Answers the transaction layer sends without keeping a transaction: undefined when no response
 * can be built from the request (then nothing is sent).
 */

/** 503 with Retry-After (RFC 3261 §21.5.4): the cheap answer of an overloaded server. */
export function rejectResponse(req: SipRequest, retryAfter: number, server: string | undefined): SipResponse | undefined {
  try {
    return createResponse(req, 503, undefined, { headers: server === undefined ? { 'Retry-After': retryAfter } : { 'Retry-After': retryAfter, Server: server } });
  } catch {
    return undefined;
  }
}

/** The 4xx for a request that cannot get a transaction (no Via, bad CSeq...): the parse error's status, else 400. */
export function errorResponse(req: SipRequest, err: unknown, server: string | undefined): SipResponse | undefined {
  const status = err instanceof SipParseError ? err.status : 400;
  const reason = err instanceof SipParseError ? err.reason : 'Bad Request';
  try {
    // Via and CSeq are what the sender needs to match an answer; the other headers are copied when present.
    if (!req.headers.has('via') || !req.headers.has('cseq')) return undefined;
    return createResponse(req, status, reason, server === undefined ? undefined : { headers: { Server: server } });
  } catch {
    return undefined;
  }
}
