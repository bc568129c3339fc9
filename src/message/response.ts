import type { SipParseError } from './errors.js';
import type { HeadersInit, SipHeaders } from './headers.js';
import { generateTag } from './ids.js';
import { SipResponse, type Body, type SipRequest } from './message.js';
import { reasonPhrase } from './status.js';

export interface ResponseOptions {
  /** To tag to add when the request's To has none (default: a fresh random tag). */
  toTag?: string;
  /** Extra headers, appended after the copied ones. */
  headers?: HeadersInit;
  body?: Body;
}

const COPIED = ['via', 'from', 'to', 'call-id', 'cseq'] as const;

/**
 * A response to `req` as RFC 3261 §8.2.6 says: Via (every value, in order), From, To, Call-ID and
 * CSeq copied; a To tag added to every response but 100 when the request had none; Record-Route
 * copied into 1xx/2xx responses to dialog-creating requests (§12.1.1).
 */
export function createResponse(req: SipRequest, status: number, reason?: string, opts?: ResponseOptions): SipResponse {
  const res = new SipResponse({ status, reason: reason ?? reasonPhrase(status), body: opts?.body });
  copyHeaders(req.headers, res.headers, status, opts?.toTag);
  if (status > 100 && status < 300 && (req.method === 'INVITE' || req.method === 'SUBSCRIBE' || req.method === 'REFER')) {
    req.headers.copyTo(res.headers, 'record-route');
  }
  if (opts?.headers !== undefined) {
    const extra = opts.headers;
    const pairs: Iterable<readonly [string, unknown]> =
      typeof (extra as Iterable<unknown>)[Symbol.iterator] === 'function'
        ? (extra as Iterable<readonly [string, string]>)
        : Object.entries(extra as Record<string, unknown>);
    for (const [n, v] of pairs) {
      if (Array.isArray(v)) for (const one of v) res.headers.append(n, String(one));
      else res.headers.append(n, String(v));
    }
  }
  return res;
}

function copyHeaders(from: SipHeaders, to: SipHeaders, status: number, toTag: string | undefined): void {
  for (const key of COPIED) {
    if (key === 'to' && status > 100) {
      const first = from.get('to'); // To is no list: its first line whole
      if (first !== undefined && !hasTag(first)) {
        to.pushRaw('To', 'to', first + ';tag=' + (toTag ?? generateTag()));
        continue;
      }
    }
    from.copyTo(to, key);
  }
}

/** A CSeq value whose method is ACK (`1 ACK`, trailing LWS allowed; methods are case-sensitive). */
function isAckCSeq(v: string): boolean {
  let e = v.length;
  while (e > 0 && (v.charCodeAt(e - 1) === 32 || v.charCodeAt(e - 1) === 9)) e--;
  if (e < 4 || v.charCodeAt(e - 3) !== 65 || v.charCodeAt(e - 2) !== 67 || v.charCodeAt(e - 1) !== 75) return false;
  const before = v.charCodeAt(e - 4);
  return before === 32 || before === 9;
}

/**
 * Whether a From/To value carries a tag parameter (params start after '>', or at ';' in addr-spec
 * form): a scan of each parameter's name, trimmed, compared without case; no strings made.
 */
export function hasTag(value: string): boolean {
  const gt = value.lastIndexOf('>');
  let i = gt === -1 ? value.indexOf(';') : gt + 1;
  if (i === -1) return false;
  const n = value.length;
  while (i < n) {
    // i is at the start of a parameter (or of the text before the first ';').
    let s = i;
    let e = value.indexOf(';', i);
    if (e === -1) e = n;
    const eq = value.indexOf('=', s);
    let end = eq === -1 || eq > e ? e : eq;
    while (s < end && isWsp(value.charCodeAt(s))) s++;
    while (end > s && isWsp(value.charCodeAt(end - 1))) end--;
    if (end - s === 3 && (value.charCodeAt(s) | 32) === 116 && (value.charCodeAt(s + 1) | 32) === 97 && (value.charCodeAt(s + 2) | 32) === 103) return true;
    i = e + 1;
  }
  return false;
}

/** White space around a parameter name (CR and LF too: what String#trim took off a folded line). */
function isWsp(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

/**
 * Bytes of the response a server owes a request that failed to parse (400, 505 or 513), or
 * undefined when it was a response, an ACK, or when Via, From, To, Call-ID or CSeq could not be
 * read (then there is nobody to answer, and the message is dropped).
 */
export function responseForParseError(err: SipParseError): Buffer | undefined {
  const h = err.headers;
  if (!err.isRequest || h === undefined) return undefined;
  for (const key of COPIED) if (!h.has(key)) return undefined;
  // An ACK is never answered (RFC 3261 §17.2.3): a malformed one is dropped.
  if (isAckCSeq(h.get('cseq')!)) return undefined;
  const res = new SipResponse({ status: err.status, reason: reasonPhrase(err.status) });
  copyHeaders(h, res.headers, err.status, undefined);
  res.headers.append('Warning', `399 - "${err.reason.replace(/["\\]/g, '')}"`);
  return res.toBuffer();
}

