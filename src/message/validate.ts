import { SipParseError } from './errors.js';
import type { SipRequest } from './message.js';

/**
 * Checks a parsed request against what RFC 3261 §8.2 requires before a UAS may process it:
 * the mandatory headers (Max-Forwards is optional for RFC 2543 peers), single-valued headers
 * present once, one Content-Length value. Returns the error to answer with (400), or undefined.
 * parseMessage accepts these messages (RFC 4475 §3.3 says the parser must not fail on them).
 * One pass over the lines' keys (every request is checked: no lookup per header).
 */
export function validateRequest(req: SipRequest): SipParseError | undefined {
  const h = req.headers;
  const keys = h.lineKeys();
  let via = 0;
  let from = 0;
  let to = 0;
  let callId = 0;
  let cseq = 0;
  let maxForwards = 0;
  let contentLength = 0;
  for (let i = 0; i < keys.length; i++) {
    switch (keys[i]) {
      case 'via': via++; break;
      case 'from': from++; break;
      case 'to': to++; break;
      case 'call-id': callId++; break;
      case 'cseq': cseq++; break;
      case 'max-forwards': maxForwards++; break;
      case 'content-length': contentLength++; break;
    }
  }
  if (via === 0) return new SipParseError('Missing Via header');
  if (from === 0) return new SipParseError('Missing From header');
  if (to === 0) return new SipParseError('Missing To header');
  if (callId === 0) return new SipParseError('Missing Call-ID header');
  if (cseq === 0) return new SipParseError('Missing CSeq header');
  if (from > 1) return new SipParseError('Multiple From values');
  if (to > 1) return new SipParseError('Multiple To values');
  if (callId > 1) return new SipParseError('Multiple Call-ID values');
  if (cseq > 1) return new SipParseError('Multiple CSeq values');
  if (maxForwards > 1) return new SipParseError('Multiple Max-Forwards values');
  if (contentLength > 1) {
    const cl = h.linesOf('content-length');
    for (let i = 1; i < cl.length; i++) if (cl[i] !== cl[0]) return new SipParseError('Conflicting Content-Length values');
  }
  // Not req.callId: that view throws on an empty value, and this function reports instead.
  if (h.get('call-id')!.length === 0) return new SipParseError('Empty Call-ID');
  return undefined;
}
