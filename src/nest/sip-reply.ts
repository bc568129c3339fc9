import {
  createResponse,
  SipResponse,
  type Body,
  type HeadersInit,
  type SipRequest,
} from '../message/index.js';

/** A response described by its parts; the server fills in Via, From, To (+tag), Call-ID and CSeq. */
export interface SipResponseDescription {
  status: number;
  reason?: string;
  headers?: HeadersInit;
  body?: Body;
  /** Shorthand for a Content-Type header. */
  contentType?: string;
}

/** What a @MessagePattern handler may return (or emit from an Observable, or resolve a Promise to). */
export type SipReply = number | SipResponseDescription | SipResponse;

const COPIED = ['via', 'from', 'to', 'call-id', 'cseq'] as const;

/**
 * Turn a handler's result into a response to `req`, with the transaction's To tag.
 * A SipResponse the handler built is sent as it is, except that the headers RFC 3261 §8.2.6 says
 * come from the request are filled in when the handler left them out.
 */
export function toSipResponse(req: SipRequest, reply: SipReply, toTag: string): SipResponse {
  if (typeof reply === 'number') return createResponse(req, checkStatus(reply), undefined, { toTag });
  if (reply instanceof SipResponse) {
    checkStatus(reply.status);
    let missing = false;
    for (const key of COPIED) if (!reply.headers.has(key)) missing = true;
    if (!missing) return reply;
    const base = createResponse(req, reply.status, reply.reason, { toTag, body: reply.body });
    for (const key of COPIED) if (reply.headers.has(key)) base.headers.delete(key);
    for (const [name, value] of reply.headers) base.headers.append(name, value);
    return base;
  }
  if (typeof reply === 'object' && reply !== null && typeof reply.status === 'number') {
    const res = createResponse(req, checkStatus(reply.status), reply.reason, { toTag, headers: reply.headers, body: reply.body });
    if (reply.contentType !== undefined) res.headers.set('Content-Type', reply.contentType);
    return res;
  }
  throw new TypeError(`A SIP handler must return a status code, a response description or a SipResponse; got ${describe(reply)}`);
}

function checkStatus(status: number): number {
  if (!Number.isInteger(status) || status < 100 || status > 699) throw new RangeError(`Invalid SIP status code ${status}`);
  return status;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return v.constructor?.name ?? 'object';
}
