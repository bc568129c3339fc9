import { BRANCH_COOKIE, type SipMessage, type Via } from '../message/index.js';

/**
 * The id under which the pool remembers which connection a request came in on, computed the same way
 * from the request and from its responses (which copy Via, Call-ID and CSeq):
 * - RFC 3261 branch (`z9hG4bK...`): top Via branch + sent-by (§17.2.3; the method is left out so that
 *   ACK and CANCEL map to the INVITE's connection too);
 * - otherwise (RFC 2543 peers), the seed's Call-ID + CSeq number.
 * Undefined when the message has no top Via, Call-ID or CSeq. Never throws (parseMessage already
 * validated and cached the views a received message has).
 */
export function transactionKey(msg: SipMessage): string | undefined {
  const p = scratch;
  if (!transactionIdParts(msg, p)) return undefined;
  const key = p.first + ' ' + p.second;
  p.first = p.second = '';
  return key;
}

/** An id in two parts: transactionKey is `first + ' ' + second`. */
export interface IdParts {
  first: string;
  second: string;
}
const scratch: IdParts = { first: '', second: '' };

/**
 * transactionKey's two parts, written into `out` (no string made: TidRegistry hashes them as
 * they are): branch and sent-by, or Call-ID and '#' + CSeq number. False when there is no id.
 */
export function transactionIdParts(msg: SipMessage, out: IdParts): boolean {
  const via = topViaOf(msg);
  if (via === undefined) return false;
  const branch = via.branch;
  if (branch !== undefined && branch.startsWith(BRANCH_COOKIE)) {
    out.first = branch;
    out.second = via.sentBy;
    return true;
  }
  const callId = msg.headers.get('call-id');
  if (callId === undefined || callId.length === 0) return false;
  let seq: number;
  try {
    seq = msg.cseq.seq;
  } catch {
    return false;
  }
  out.first = callId;
  out.second = '#' + seq;
  return true;
}

/** The top Via, or undefined when there is none or it cannot be parsed (never throws). */
export function topViaOf(msg: SipMessage): Via | undefined {
  try {
    return msg.topVia;
  } catch {
    return undefined;
  }
}
