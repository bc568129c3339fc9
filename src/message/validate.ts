import { SipParseError } from './errors.js';
import type { SipRequest } from './message.js';

const MANDATORY = [['via', 'Via'], ['from', 'From'], ['to', 'To'], ['call-id', 'Call-ID'], ['cseq', 'CSeq']] as const;
const SINGLE = [['from', 'From'], ['to', 'To'], ['call-id', 'Call-ID'], ['cseq', 'CSeq'], ['max-forwards', 'Max-Forwards']] as const;

/**
 * Checks a parsed request against what RFC 3261 §8.2 requires before a UAS may process it:
 * the mandatory headers (Max-Forwards is optional for RFC 2543 peers), single-valued headers
 * present once, one Content-Length value. Returns the error to answer with (400), or undefined.
 * parseMessage accepts these messages (RFC 4475 §3.3 says the parser must not fail on them).
 */
export function validateRequest(req: SipRequest): SipParseError | undefined {
  const h = req.headers;
  for (const [key, name] of MANDATORY) if (!h.has(key)) return new SipParseError(`Missing ${name} header`);
  for (const [key, name] of SINGLE) if (h.countOf(key) > 1) return new SipParseError(`Multiple ${name} values`);
  const cl = h.linesOf('content-length');
  for (let i = 1; i < cl.length; i++) if (cl[i] !== cl[0]) return new SipParseError('Conflicting Content-Length values');
  // Not req.callId: that view throws on an empty value, and this function reports instead.
  if (h.get('call-id')!.length === 0) return new SipParseError('Empty Call-ID');
  return undefined;
}
