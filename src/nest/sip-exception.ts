import { RpcException } from '@nestjs/microservices';
import type { Body, HeadersInit } from '../message/index.js';
import { reasonPhrase } from '../message/index.js';

/** What a SipException carries through Nest's exception filters to the transport. */
export interface SipErrorPayload {
  /** Marks the payload as ours (Nest's filters pass RpcException payloads through as they are). */
  readonly sipException: true;
  status: number;
  reason: string;
  headers?: HeadersInit;
  body?: Body;
}

/**
 * Throw it from a handler to answer with a final error response: `throw new SipException(486, 'Busy Here')`.
 * Any other error a handler throws becomes `500 Server Internal Error` (and is logged by Nest).
 */
export class SipException extends RpcException {
  readonly status: number;
  readonly reason: string;

  constructor(status: number, reason?: string, options?: { headers?: HeadersInit; body?: Body }) {
    if (!Number.isInteger(status) || status < 300 || status > 699) {
      throw new RangeError(`SipException status must be a final non-2xx code (300..699), got ${status}`);
    }
    const r = reason ?? reasonPhrase(status);
    const payload: SipErrorPayload = { sipException: true, status, reason: r, headers: options?.headers, body: options?.body };
    super(payload);
    this.status = status;
    this.reason = r;
  }
}

export function isSipErrorPayload(e: unknown): e is SipErrorPayload {
  return typeof e === 'object' && e !== null && (e as SipErrorPayload).sipException === true;
}

/** What a SipDropException carries: the request gets no response at all. */
export interface SipDropPayload {
  readonly sipDrop: true;
}

/**
 * Throw it (from a handler or a guard) to answer nothing: the transaction ends silently, as
 * for a flooding or throttled source that should learn nothing. A retransmission is judged again.
 */
export class SipDropException extends RpcException {
  constructor() {
    const payload: SipDropPayload = { sipDrop: true };
    super(payload);
  }
}

export function isSipDropPayload(e: unknown): e is SipDropPayload {
  return typeof e === 'object' && e !== null && (e as SipDropPayload).sipDrop === true;
}
