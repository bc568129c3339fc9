import { SipParseError } from './errors.js';
import { linesIn } from './header-source.js';
import { CALL_ID, CONTENT_LENGTH, CSEQ, FROM, idOfKey, MAX_FORWARDS, OTHER, TO, VIA } from './known-headers.js';
import type { SipRequest } from './message.js';

/**
 * Checks a parsed request against what RFC 3261 §8.2 requires before a UAS may process it:
 * the mandatory headers (Max-Forwards is optional for RFC 2543 peers), single-valued headers
 * present once, one Content-Length value. Returns the error to answer with (400), or undefined.
 * parseMessage accepts these messages (RFC 4475 §3.3 says the parser must not fail on them).
 * Every new request is checked: the counts are the parser's while the lines are the received
 * ones, else one pass over the lines' keys.
 */
export function validateRequest(req: SipRequest): SipParseError | undefined {
  const h = req.headers;
  const counts = h.source?.counts ?? countLines(h.lineKeys());
  if (linesIn(counts, VIA) === 0) return new SipParseError('Missing Via header');
  if (linesIn(counts, FROM) === 0) return new SipParseError('Missing From header');
  if (linesIn(counts, TO) === 0) return new SipParseError('Missing To header');
  if (linesIn(counts, CALL_ID) === 0) return new SipParseError('Missing Call-ID header');
  if (linesIn(counts, CSEQ) === 0) return new SipParseError('Missing CSeq header');
  if (linesIn(counts, FROM) > 1) return new SipParseError('Multiple From values');
  if (linesIn(counts, TO) > 1) return new SipParseError('Multiple To values');
  if (linesIn(counts, CALL_ID) > 1) return new SipParseError('Multiple Call-ID values');
  if (linesIn(counts, CSEQ) > 1) return new SipParseError('Multiple CSeq values');
  if (linesIn(counts, MAX_FORWARDS) > 1) return new SipParseError('Multiple Max-Forwards values');
  if (linesIn(counts, CONTENT_LENGTH) > 1) {
    const cl = h.linesOf('content-length');
    for (let i = 1; i < cl.length; i++) if (cl[i] !== cl[0]) return new SipParseError('Conflicting Content-Length values');
  }
  // Not req.callId: that view throws on an empty value, and this function reports instead.
  const callId = typeof h.vCallId === 'string' ? h.vCallId : h.get('call-id')!;
  if (callId.length === 0) return new SipParseError('Empty Call-ID');
  return undefined;
}

/** The counts word (see HeaderSource.counts) of lines whose keys are `keys`: changed headers have no parser's counts. */
function countLines(keys: readonly string[]): number {
  let counts = 0;
  for (let i = 0; i < keys.length; i++) {
    const id = idOfKey(keys[i]!);
    if (id !== OTHER && linesIn(counts, id) < 3) counts += 1 << (2 * id);
  }
  return counts;
}
