import type { SipRequest, SipResponse } from '../message/index.js';

/**
 * A final non-2xx response to a request sent with SipClient or a SipDialog: the error of its
 * Observable (unless the client has `non2xxAsValue: true`). `status` and `response` are the
 * response, `request` the request as sent.
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

/** A dialog request that cannot be sent: the dialog ended, or RFC 3261 §14.1 forbids it now. */
export class SipDialogError extends Error {
  override readonly name = 'SipDialogError';
  constructor(
    readonly code: 'ERR_SIP_DIALOG_TERMINATED' | 'ERR_SIP_DIALOG_BUSY' | 'ERR_SIP_DIALOG_NO_SENDER',
    message: string,
  ) {
    super(message);
  }
}
