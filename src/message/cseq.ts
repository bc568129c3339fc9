import { SipParseError } from './errors.js';
import { bytesStartWith, scratchBytesOf, TOKEN8 } from './chars.js';

export interface CSeq {
  seq: number;
  method: string;
}

/** `CSeq: 1*DIGIT LWS Method`, number at most 2^32-1 (RFC 3261 §8.1.1.5; never wrapped). */
export function parseCSeq(s: string, from = 0, to = s.length): CSeq {
  return cseqOf(s, scratchBytesOf(s), 0, from, to);
}

/**
 * parseCSeq reading bytes (b[o + i] stands for s[i], see bytesOf). When the method is `expect`
 * (the request's own), that string is reused instead of a new slice.
 */
export function cseqOf(s: string, b: Uint8Array, o: number, from: number, to: number, expect?: string): CSeq {
  const n = to;
  let i = from;
  while (i < n && (b[o + i] === 32 || b[o + i] === 9)) i++;
  const ds = i;
  // The digits are read and their value summed in one pass.
  let seq = 0;
  let c = 0;
  while (i < n && (c = b[o + i]! - 48) >= 0 && c <= 9) {
    seq = seq * 10 + c;
    i++;
  }
  if (i === ds) throw new SipParseError('Malformed CSeq');
  if (seq > 4294967295) throw new SipParseError('CSeq number out of range');
  let ms = i;
  while (ms < n && (b[o + ms] === 32 || b[o + ms] === 9)) ms++;
  if (ms === i) throw new SipParseError('Malformed CSeq');
  let me = n;
  while (me > ms && (b[o + me - 1] === 32 || b[o + me - 1] === 9)) me--;
  if (me === ms) throw new SipParseError('Malformed CSeq method');
  // The request's own method is a token already (checked on the Request-Line).
  if (expect !== undefined && me - ms === expect.length && bytesStartWith(b, o + ms, expect)) return { seq, method: expect };
  for (let k = o + ms; k < o + me; k++) if (TOKEN8[b[k]!] === 0) throw new SipParseError('Malformed CSeq method');
  return { seq, method: s.slice(ms, me) };
}
