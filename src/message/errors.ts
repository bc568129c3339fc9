import type { SipHeaders } from './headers.js';

/**
 * A message that cannot be parsed. `status` is what a server should answer a request with:
 * 400 (malformed), 505 (unknown SIP version), 513 (over a size limit), 501 (unknown method with a CSeq mismatch).
 */
export class SipParseError extends Error {
  override readonly name = 'SipParseError';
  /** The start line said "request" (so a response may be owed) or "response" (drop it). */
  isRequest?: boolean;
  /** Headers read before the failure, when the header section could be split into lines. */
  headers?: SipHeaders;

  constructor(
    readonly reason: string,
    readonly status: number = 400,
  ) {
    super(`${status} ${reason}`);
  }
}

export const tooLarge = (what: string): SipParseError => new SipParseError(`${what} too large`, 513);
