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
  const via = topViaOf(msg);
  if (via === undefined) return undefined;
  const branch = via.branch;
  if (branch !== undefined && branch.startsWith(BRANCH_COOKIE)) return branch + ' ' + via.sentBy;
  const callId = msg.headers.get('call-id');
  if (callId === undefined || callId.length === 0) return undefined;
  let seq: number;
  try {
    seq = msg.cseq.seq;
  } catch {
    return undefined;
  }
  return callId + ' #' + seq;
}

/** The top Via, or undefined when there is none or it cannot be parsed (never throws). */
export function topViaOf(msg: SipMessage): Via | undefined {
  try {
    return msg.topVia;
  } catch {
    return undefined;
  }
}
