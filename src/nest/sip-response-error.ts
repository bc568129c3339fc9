import type { SipRequest, SipResponse } from '../message/index.js';

/**
 * A final non-2xx response to a request sent with SipClient: the error of its Observable (unless
 * the client has `non2xxAsValue: true`). `status` and `response` are the response, `request` the
 * request as sent.
 */
export class SipResponseError extends Error {
  override readonly name = 'SipResponseError';
  readonly code = 'ERR_SIP_RESPONSE';
  readonly status: number;

  constructor(
    readonly response: SipResponse,
    readonly request?: SipRequest,
  ) {
    super(`${response.status} ${response.reason}${request !== undefined ? ` (${request.method} ${request.uri})` : ''}`);
    this.status = response.status;
  }
}

/** The client was closed (or is closing) before the request finished. */
export class SipClientClosedError extends Error {
  override readonly name = 'SipClientClosedError';
  readonly code = 'ERR_SIP_CLIENT_CLOSED';
  constructor() {
    super('SipClient closed');
  }
}
