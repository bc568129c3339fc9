import { isToken, parseUint, trimLws } from './chars.js';
import { parseCSeq } from './cseq.js';
import { SipParseError, tooLarge } from './errors.js';
import { headerKey } from './header-names.js';
import { SipHeaders } from './headers.js';
import { SipRequest, SipResponse } from './message.js';
import { parseContact, parseNameAddr } from './name-addr.js';
import { parseVia } from './via.js';

export interface ParseLimits {
  /** Largest header section in bytes (default 16384, Net::SIP's MAX_SIP_HEADER). */
  maxHeader?: number;
  /** Largest body in bytes (default 65536, MAX_SIP_BODY). */
  maxBody?: number;
}

export const DEFAULT_MAX_HEADER = 16384;
export const DEFAULT_MAX_BODY = 65536;

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_CONTENT_LENGTH = 0x7fffffff;
const KNOWN_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE']);

/**
 * Parse one SIP message. A Buffer is treated as one UDP datagram (RFC 3261 §18.3): a present
 * Content-Length bounds the body (extra octets are ignored; a short body is an error), an absent one
 * means "the rest of the datagram". Stream framing is StreamFramer's job; its frames parse here too.
 *
 * Validates what every later layer relies on: the start line, the header-line syntax, Via, CSeq
 * (and its method), From, To, Contact, Max-Forwards and Content-Length. Those views are cached on the
 * message; other headers are parsed only when asked for.
 */
export function parseMessage(data: Buffer | string, limits?: ParseLimits): SipRequest | SipResponse {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const maxHeader = limits?.maxHeader ?? DEFAULT_MAX_HEADER;
  const maxBody = limits?.maxBody ?? DEFAULT_MAX_BODY;
  const len = buf.length;
  let start = 0;
  // Leading CRLFs (keep-alives glued to a message) are not part of it.
  while (start + 1 < len && buf[start] === 13 && buf[start + 1] === 10) start += 2;
  let headEnd = buf.indexOf(CRLFCRLF, start);
  let bodyStart: number;
  if (headEnd === -1) {
    // Some senders end a body-less datagram after the last header's CRLF.
    if (len - start > maxHeader) throw tooLarge('Header');
    if (len >= 2 && buf[len - 2] === 13 && buf[len - 1] === 10) {
      headEnd = len - 2;
      bodyStart = len;
    } else throw new SipParseError('Incomplete message');
  } else bodyStart = headEnd + 4;
  if (headEnd - start > maxHeader) throw tooLarge('Header');
  if (headEnd <= start) throw new SipParseError('Empty message');

  const head = buf.toString('utf8', start, headEnd);
  const lineEnd = head.indexOf('\r\n');
  const first = lineEnd === -1 ? head : head.slice(0, lineEnd);
  // "SIP/" is case-insensitive like the rest of the version (RFC 3261 §7.1); no method has a '/'.
  const isResponse = first.length >= 4 && (first.charCodeAt(0) | 32) === 115 && (first.charCodeAt(1) | 32) === 105 && (first.charCodeAt(2) | 32) === 112 && first.charCodeAt(3) === 47;
  const headers = new SipHeaders();
  // A bad start line is reported after the header lines are read, so that the error carries them
  // and responseForParseError can still answer a request (400, or 505 for an unknown version).
  let startErr: SipParseError | undefined;
  let method = '';
  let uri = '';
  let status = 0;
  let reason = '';
  try {
    if (isResponse) {
      const sp = first.indexOf(' ');
      if (sp === -1) throw new SipParseError('Malformed Status-Line');
      if (!isVersion20(first, 0, sp)) throw new SipParseError('Version Not Supported', 505);
      const codeEnd = sp + 4;
      status = parseUint(first, 699, sp + 1, codeEnd);
      if (status < 100 || (codeEnd < first.length && first.charCodeAt(codeEnd) !== 32)) throw new SipParseError('Malformed status code');
      reason = codeEnd < first.length ? first.slice(codeEnd + 1) : '';
    } else {
      const sp1 = first.indexOf(' ');
      const sp2 = sp1 === -1 ? -1 : first.indexOf(' ', sp1 + 1);
      if (sp1 <= 0 || sp2 === -1 || first.indexOf(' ', sp2 + 1) !== -1) {
        throw new SipParseError(sp2 === -1 ? 'Malformed Request-Line' : 'Malformed Request-Line: extra whitespace');
      }
      if (!isToken(first, 0, sp1)) throw new SipParseError('Malformed method');
      method = first.slice(0, sp1);
      uri = first.slice(sp1 + 1, sp2);
      checkRequestUri(uri);
      if (!isVersion20(first, sp2 + 1, first.length)) {
        throw first.startsWith('SIP/', sp2 + 1) ? new SipParseError('Version Not Supported', 505) : new SipParseError('Malformed SIP-Version');
      }
    }
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    startErr = err;
  }
  try {

    // Header lines. Continuation lines (leading SP/HT) fold into the previous value with one SP.
    let pos = lineEnd === -1 ? head.length : lineEnd + 2;
    const n = head.length;
    while (pos < n) {
      let e = head.indexOf('\r\n', pos);
      if (e === -1) e = n;
      const c = head.charCodeAt(pos);
      if (c === 32 || c === 9) {
        if (headers.size === 0) throw new SipParseError('Continuation line before the first header');
        const more = trimLws(head, pos, e);
        if (more.length > 0) headers.extendLast(more);
      } else {
        const colon = head.indexOf(':', pos);
        if (colon === -1 || colon >= e) throw new SipParseError('Header line without a colon');
        let ne = colon;
        while (ne > pos && (head.charCodeAt(ne - 1) === 32 || head.charCodeAt(ne - 1) === 9)) ne--;
        if (!isToken(head, pos, ne)) throw new SipParseError('Malformed header name');
        const name = head.slice(pos, ne);
        const value = trimLws(head, colon + 1, e);
        // Keep the line as received unless it is exactly "name: value" (see SipHeaders.serialize).
        const normal = ne === colon && head.charCodeAt(colon + 1) === 32 && value.length === e - colon - 2;
        headers.pushRaw(name, headerKey(name), value, normal ? undefined : head.slice(pos, e));
      }
      pos = e + 2;
    }
    if (startErr !== undefined) throw startErr;

    // Framing.
    const clLines = headers.linesOf('content-length');
    let bodyEnd = len;
    if (clLines.length > 0) {
      let cl = -1;
      let conflict = false;
      for (const v of clLines) {
        const x = parseUint(v, MAX_CONTENT_LENGTH);
        if (x < 0) throw new SipParseError('Malformed Content-Length');
        if (cl !== -1 && x !== cl) conflict = true;
        cl = x;
      }
      // Conflicting values (RFC 4475 mcl01) cannot frame anything: take the datagram and let
      // validateRequest() answer 400. A stream never gets here (StreamFramer rejects it).
      if (!conflict) {
        if (cl > maxBody) throw tooLarge('Body');
        if (bodyStart + cl > len) throw new SipParseError('Content-Length larger than the message');
        bodyEnd = bodyStart + cl;
      }
    }
    if (bodyEnd - bodyStart > maxBody) throw tooLarge('Body');
    const body = bodyStart >= bodyEnd ? EMPTY : buf.subarray(bodyStart, bodyEnd);

    // Eager validation of the headers every layer needs; the parsed values are kept as views.
    const vias = headers.valuesOf('via');
    if (vias.length > 0) headers.primeView('via', vias.map(parseVia));
    const cseqLine = headers.linesOf('cseq');
    if (cseqLine.length > 0) {
      const cseq = parseCSeq(cseqLine[0]!);
      headers.primeView('cseq', cseq);
      if (!isResponse && cseq.method !== method) {
        throw KNOWN_METHODS.has(method)
          ? new SipParseError('CSeq method does not match the Request-Line')
          : new SipParseError('CSeq method does not match the Request-Line', 501);
      }
    }
    const from = headers.linesOf('from');
    if (from.length > 0) headers.primeView('from', parseNameAddr(from[0]!, 'From'));
    const to = headers.linesOf('to');
    if (to.length > 0) headers.primeView('to', parseNameAddr(to[0]!, 'To'));
    const mf = headers.linesOf('max-forwards');
    if (mf.length > 0) {
      const v = parseUint(mf[0]!, 255);
      if (v < 0) throw new SipParseError('Max-Forwards out of range');
      headers.primeView('max-forwards', v);
    }
    if (headers.has('contact')) headers.primeView('contact', headers.valuesOf('contact').map(parseContact));

    return isResponse
      ? new SipResponse({ status, reason, headers, body })
      : new SipRequest({ method, uri, headers, body });
  } catch (e) {
    // The start line's error wins over one in the header lines.
    const err = startErr ?? e;
    if (err instanceof SipParseError) {
      err.isRequest = !isResponse;
      if (headers.size > 0) err.headers = headers;
    }
    throw err;
  }
}

const EMPTY = Buffer.alloc(0);

/** "SIP/2.0", case-insensitive on the letters (RFC 3261 §7.1). */
function isVersion20(s: string, from: number, to: number): boolean {
  if (to - from !== 7) return false;
  return (
    (s.charCodeAt(from) | 32) === 115 && (s.charCodeAt(from + 1) | 32) === 105 && (s.charCodeAt(from + 2) | 32) === 112 &&
    s.charCodeAt(from + 3) === 47 && s.charCodeAt(from + 4) === 50 && s.charCodeAt(from + 5) === 46 && s.charCodeAt(from + 6) === 48
  );
}

/**
 * Cheap Request-URI checks (the full parse is lazy): a scheme, no <>, no URI headers on sip/sips
 * (RFC 4475 escruri). A '?' before the '@' belongs to the user part, which may hold it (intmeth).
 */
function checkRequestUri(uri: string): void {
  const colon = uri.indexOf(':');
  if (colon <= 0) throw new SipParseError('Malformed Request-URI');
  const c0 = uri.charCodeAt(0) | 32;
  if (c0 < 97 || c0 > 122) throw new SipParseError('Malformed Request-URI');
  for (let i = 0; i < uri.length; i++) {
    const c = uri.charCodeAt(i);
    if (c < 33 || c === 127 || c === 60 || c === 62) throw new SipParseError('Malformed Request-URI');
  }
  if ((colon === 3 || colon === 4) && uri.indexOf('?', uri.indexOf('@') + 1) !== -1) {
    const scheme = uri.slice(0, colon).toLowerCase();
    if (scheme === 'sip' || scheme === 'sips') throw new SipParseError('Request-URI must not contain headers');
  }
}
