import { SipParseError } from './errors.js';
import { isToken, parseUint } from './chars.js';

export interface CSeq {
  seq: number;
  method: string;
}

/** `CSeq: 1*DIGIT LWS Method`, number at most 2^32-1 (RFC 3261 §8.1.1.5; never wrapped). */
export function parseCSeq(s: string, from = 0, to = s.length): CSeq {
  const n = to;
  let i = from;
  while (i < n && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 9)) i++;
  const ds = i;
  while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  const seq = parseUint(s, 4294967295, ds, i);
  if (seq < 0) throw new SipParseError(i === ds ? 'Malformed CSeq' : 'CSeq number out of range');
  let ms = i;
  while (ms < n && (s.charCodeAt(ms) === 32 || s.charCodeAt(ms) === 9)) ms++;
  if (ms === i) throw new SipParseError('Malformed CSeq');
  let me = n;
  while (me > ms && (s.charCodeAt(me - 1) === 32 || s.charCodeAt(me - 1) === 9)) me--;
  if (!isToken(s, ms, me)) throw new SipParseError('Malformed CSeq method');
  return { seq, method: s.slice(ms, me) };
}
