import type { SipResponse } from '../message/index.js';

/** A final non-2xx response to a request sent with SipClient (unless `failOnNon2xx: false`). */
export class SipResponseError extends Error {
  override readonly name = 'SipResponseError';
  readonly code = 'ERR_SIP_RESPONSE';
  readonly status: number;

  constructor(readonly response: SipResponse) {
    super(`${response.status} ${response.reason}`);
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
