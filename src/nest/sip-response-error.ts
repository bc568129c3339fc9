export { SipResponseError } from '../dialog/index.js';

/** The client was closed (or is closing) before the request finished. */
export class SipClientClosedError extends Error {
  override readonly name = 'SipClientClosedError';
  readonly code = 'ERR_SIP_CLIENT_CLOSED';
  constructor() {
    super('SipClient closed');
  }
}
