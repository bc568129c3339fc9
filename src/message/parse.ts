import { bytesOf, parseUint, parseUintB, TOKEN8, trimLws } from './chars.js';
import { cseqOf, parseCSeq, type CSeq } from './cseq.js';
import { SipParseError, tooLarge } from './errors.js';
import { SipHeaders, valueEnd, valueStart, type HeaderSource } from './headers.js';
import { SipRequest, SipResponse } from './message.js';
import { contactElement, nameAddrElement, parseNameAddr, type Contact, type NameAddr } from './name-addr.js';
import { CAP } from './params.js';
import { viaElement, type Via } from './via.js';

export interface ParseLimits {
  /** Largest header section in bytes (default 16384, Net::SIP's MAX_SIP_HEADER). */
  maxHeader?: number;
  /** Largest body in bytes (default 65536, MAX_SIP_BODY). */
  maxBody?: number;
}

export const DEFAULT_MAX_HEADER = 16384;
export const DEFAULT_MAX_BODY = 65536;

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * buf.toString('utf8', from, to) without its argument checks and encoding lookup (about 3% of a
 * parse): Buffer's own utf8Slice, which every Node release has had and toString itself calls.
 */
const utf8: (buf: Buffer, from: number, to: number) => string =
  typeof (Buffer.prototype as { utf8Slice?: unknown }).utf8Slice === 'function'
    ? (buf, from, to) => (buf as Buffer & { utf8Slice(from: number, to: number): string }).utf8Slice(from, to)
    : (buf, from, to) => buf.toString('utf8', from, to);
/** Datagrams up to this size are decoded whole (see parseMessage). */
const WHOLE_DECODE_MAX = 4096;
const MAX_CONTENT_LENGTH = 0x7fffffff;
const KNOWN_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE']);

/**
 * Parse one SIP message. A Buffer (or any Uint8Array, read in place) is treated as one UDP datagram (RFC 3261 §18.3): a present
 * Content-Length bounds the body (extra octets are ignored; a short body is an error), an absent one
 * means "the rest of the datagram". Stream framing is StreamFramer's job; its frames parse here too.
 *
 * Validates what every later layer relies on: the start line, the header-line syntax, Via, CSeq
 * (and its method), From, To, Contact, Max-Forwards and Content-Length. Those views are cached on the
 * message; other headers are parsed only when asked for.
 */
export function parseMessage(data: Buffer | Uint8Array | string, limits?: ParseLimits): SipRequest | SipResponse {
  const buf =
    typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  try {
    return parseBuffer(buf, limits);
  } catch (err) {
    if (err instanceof SipParseError && err.status === 513 && err.headers === undefined) oversizeHeaders(err, buf);
    throw err;
  }
}

/**
 * A header section over the limit was refused before its lines were read: read them now, without
 * the limit (a datagram is at most 64 KiB), so that a server can still answer 513 with the request's
 * Via, From, To, Call-ID and CSeq (RFC 3261 §21.5.14) instead of dropping it silently.
 */
function oversizeHeaders(err: SipParseError, buf: Buffer): void {
  try {
    const m = parseBuffer(buf, { maxHeader: Infinity, maxBody: Infinity });
    err.isRequest = m.isRequest();
    err.headers = m.headers;
  } catch (e) {
    if (e instanceof SipParseError && e.headers !== undefined) {
      err.isRequest = e.isRequest;
      err.headers = e.headers;
    }
  }
}

function parseBuffer(buf: Buffer, limits: ParseLimits | undefined): SipRequest | SipResponse {
  const maxHeader = limits?.maxHeader ?? DEFAULT_MAX_HEADER;
  const maxBody = limits?.maxBody ?? DEFAULT_MAX_BODY;
  const len = buf.length;
  let start = 0;
  // Leading CRLFs (keep-alives glued to a message) are not part of it.
  while (start + 1 < len && buf[start] === 13 && buf[start + 1] === 10) start += 2;
  // The header section, decoded: text[hs..he) (start line included). A small datagram is decoded
  // whole, and when that gives one char per byte (the usual all-ASCII message) the end of the
  // header is found by the line loop below (he = -1 until then): one call into the Buffer code
  // and one pass over the lines. Otherwise the header end is searched in the bytes first.
  let text = '';
  let hs = 0;
  let he = -1;
  let headEnd = -1; // in bytes
  let bodyStart = -1; // in bytes
  let bytes: Buffer | undefined; // the received bytes, when text offsets map 1:1 onto them
  let byteStart = 0; // byte offset of text[0]
  if (len <= WHOLE_DECODE_MAX) {
    const all = utf8(buf, 0, len);
    if (all.length === len) {
      text = all;
      bytes = buf;
      hs = start;
    }
  }
  if (bytes === undefined) {
    headEnd = buf.indexOf(CRLFCRLF, start);
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
    text = utf8(buf, start, headEnd);
    he = text.length;
    if (he === headEnd - start) {
      bytes = buf;
      byteStart = start;
    }
  }

  // What the scanners read (see bytesOf): the received bytes when the text maps onto them one
  // char per byte (b[o + i] is text[i]), else a byte copy of the text.
  const b = bytes ?? bytesOf(text);
  const o = bytes !== undefined ? byteStart : 0;

  // The first CRLF ('\n' is the cheaper search).
  let lineEnd = text.indexOf('\n', hs);
  while (lineEnd !== -1 && text.charCodeAt(lineEnd - 1) !== 13) lineEnd = text.indexOf('\n', lineEnd + 1);
  if (lineEnd !== -1) lineEnd--;
  if (he >= 0) {
    if (lineEnd === -1 || lineEnd > he) lineEnd = he;
  } else if (lineEnd === -1) throw new SipParseError('Incomplete message');
  else if (lineEnd - hs > maxHeader) throw tooLarge('Header');
  // The start line is text[hs..lineEnd), read in place.
  const le = lineEnd;
  // "SIP/" is case-insensitive like the rest of the version (RFC 3261 §7.1); no method has a '/'.
  const isResponse =
    le - hs >= 4 && (b[o + hs]! | 32) === 115 && (b[o + hs + 1]! | 32) === 105 && (b[o + hs + 2]! | 32) === 112 && b[o + hs + 3] === 47;
  // A bad start line is reported after the header lines are read, so that the error carries them
  // and responseForParseError can still answer a request (400, or 505 for an unknown version).
  let startErr: SipParseError | undefined;
  let method = '';
  let uri = '';
  let status = 0;
  let reason = '';
  try {
    if (isResponse) {
      const sp = spaceAt(text, hs, le);
      if (sp === -1) throw new SipParseError('Malformed Status-Line');
      if (!isVersion20(b, o, hs, sp)) throw new SipParseError('Version Not Supported', 505);
      const codeEnd = sp + 4;
      status = codeEnd > le ? -1 : parseUintB(b, o, 699, sp + 1, codeEnd);
      if (status < 100 || (codeEnd < le && b[o + codeEnd] !== 32)) throw new SipParseError('Malformed status code');
      reason = codeEnd < le ? text.slice(codeEnd + 1, le) : '';
    } else {
      // Method SP Request-URI SP SIP-Version, each SP single (RFC 4475 lwsstart, trws).
      let sp1 = hs;
      while (sp1 < le && TOKEN8[b[o + sp1]!] === 1) sp1++;
      if (sp1 >= le || b[o + sp1] !== 32) {
        throw new SipParseError(spaceAt(text, hs, le) === -1 ? 'Malformed Request-Line' : 'Malformed method');
      }
      if (sp1 === hs) throw new SipParseError('Malformed Request-Line');
      // One pass finds the SP after the Request-URI and checks the URI on the way (its verdict is
      // given after the line's own errors).
      const sp2 = requestUriEnd(b, o, sp1 + 1, le);
      if (sp2 === -1) throw new SipParseError('Malformed Request-Line');
      // "SIP/2.0" holds no SP: the search for a third one is only needed when the version is not it.
      const v20 = isVersion20(b, o, sp2 + 1, le);
      if (sp2 === sp1 + 1 || (!v20 && spaceAt(text, sp2 + 1, le) !== -1)) throw new SipParseError('Malformed Request-Line: extra whitespace');
      method = text.slice(hs, sp1);
      if (URI_VERDICT !== undefined) throw new SipParseError(URI_VERDICT);
      uri = text.slice(sp1 + 1, sp2);
      if (!v20) {
        throw le - sp2 > 4 && text.startsWith('SIP/', sp2 + 1) ? new SipParseError('Version Not Supported', 505) : new SipParseError('Malformed SIP-Version');
      }
    }
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    startErr = err;
  }

  // Header lines: offsets only (SipHeaders splits them on first use). Continuation lines (leading
  // SP/HT) fold into the previous value with one SP. The lines of the headers validated below are
  // noted by name, compared in place.
  let k = 0; // next free slot in SPANS
  let folded: Map<number, string> | undefined;
  let viaAt = -1;
  let viaLines = 0;
  let cseqAt = -1;
  let fromAt = -1;
  let toAt = -1;
  let mfAt = -1;
  let callIdAt = -1;
  let contactAt = -1;
  let contactLines = 0;
  let clAt = -1;
  let clLines = 0;
  const n = text.length;
  const source: HeaderSource = {
    text,
    spans: NO_SPANS,
    folded: undefined,
    keys: undefined,
    clLine: -1,
    clLines: 0,
    bytes,
    byteStart,
    wholeStart: -1,
    bodyStart: 0,
    startA: '',
    startB: '',
    status: 0,
  };
  try {
    let pos = lineEnd === he ? he : lineEnd + 2;
    let line = -1;
    for (;;) {
      if (he >= 0 ? pos >= he : pos >= n) {
        // Header text used up; or, for a whole datagram, it ended right after a header's CRLF.
        if (he < 0) {
          he = n - 2;
          headEnd = he;
          bodyStart = n;
        }
        break;
      }
      // Lines end at CRLF; a bare LF or CR inside a header line is refused (see lineEndAt).
      const e = lineEndAt(text, pos, he);
      if (he < 0) {
        if (e === pos) {
          // The empty line: end of the header section.
          he = pos - 2;
          headEnd = he;
          bodyStart = pos + 2;
          break;
        }
        if (e - hs > maxHeader) throw tooLarge('Header');
      }
      const c = b[o + pos];
      if (c === 32 || c === 9) {
        if (line < 0) throw new SipParseError('Continuation line before the first header');
        const more = trimLws(text, pos, e);
        folded ??= new Map();
        const v = folded.get(line) ?? lineValue(text, SPANS, line);
        // "Route:" CRLF SP "<sip:...>": the value starts on the continuation line.
        folded.set(line, more.length === 0 ? v : v.length === 0 ? more : v + ' ' + more);
        pos = e + 2;
        continue;
      }
      // name, LWS, ':', LWS, value, LWS. The names parseMessage validates are recognised in place
      // (their letters are compared anyway); any other name is read as a token.
      const known = knownName(b, o + pos);
      let ne = pos + (known >> 4);
      if (known === 0) {
        let j = pos + o;
        const je = e + o;
        while (j < je && TOKEN8[b[j]!] === 1) j++;
        ne = j - o;
      }
      let colon = ne;
      while (colon < e && (b[o + colon] === 32 || b[o + colon] === 9)) colon++;
      if (ne === pos || colon >= e || b[o + colon] !== 58) {
        const anyColon = text.indexOf(':', pos);
        throw new SipParseError(anyColon === -1 || anyColon >= e ? 'Header line without a colon' : 'Malformed header name');
      }
      line++;
      if (k + 3 > SPANS.length) SPANS.length *= 2;
      SPANS[k++] = pos;
      SPANS[k++] = ne;
      SPANS[k++] = e;
      switch (known & 15) {
        case VIA:
          if (viaLines++ === 0) viaAt = line;
          break;
        case CSEQ:
          if (cseqAt === -1) cseqAt = line;
          break;
        case FROM:
          if (fromAt === -1) fromAt = line;
          break;
        case TO:
          if (toAt === -1) toAt = line;
          break;
        case MAX_FORWARDS:
          if (mfAt === -1) mfAt = line;
          break;
        case CALL_ID:
          if (callIdAt === -1) callIdAt = line;
          break;
        case CONTACT:
          if (contactLines++ === 0) contactAt = line;
          break;
        case CONTENT_LENGTH:
          if (clLines++ === 0) clAt = line;
          break;
      }
      pos = e + 2;
    }
    const spans = SPANS.slice(0, k);
    source.spans = spans;
    source.folded = folded;
    source.clLine = clAt;
    source.clLines = clLines;
    if (startErr !== undefined) throw startErr;

    // Framing.
    let bodyEnd = len;
    if (clLines > 0) {
      let cl = parseValueUint(text, b, o, spans, folded, clAt, MAX_CONTENT_LENGTH);
      if (cl < 0) throw new SipParseError('Malformed Content-Length');
      let conflict = false;
      for (let i = clAt + 1; clLines > 1 && i < spans.length / 3; i++) {
        if (nameId(b, o, spans[i * 3]!, spans[i * 3 + 1]!) !== CONTENT_LENGTH) continue;
        const x = parseValueUint(text, b, o, spans, folded, i, MAX_CONTENT_LENGTH);
        if (x < 0) throw new SipParseError('Malformed Content-Length');
        if (x !== cl) conflict = true;
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

    // For toBuffer's one-copy path (an empty line after the header is required): the start line
    // is canonical when written exactly as "METHOD SP uri SP SIP/2.0" or "SIP/2.0 SP ddd SP reason"
    // (the version in upper case), which is how startLine() writes it.
    if (bytes !== undefined && bodyStart === headEnd + 4) {
      const sl = o + hs;
      const canonical = isResponse
        ? b[sl] === 83 && b[sl + 1] === 73 && b[sl + 2] === 80 && le - hs >= 12 && b[sl + 7] === 32 && b[sl + 11] === 32
        : b[o + le - 7] === 83 && b[o + le - 6] === 73 && b[o + le - 5] === 80;
      if (canonical) {
        source.wholeStart = hs;
        source.bodyStart = bodyStart;
        source.startA = isResponse ? reason : method;
        source.startB = uri;
        source.status = status;
      }
    }

    // Eager validation of the headers every layer needs; the parsed values are kept as views.
    const headers = SipHeaders.fromSource(source);
    AT.via = viaAt;
    AT.viaLines = viaLines;
    AT.cseq = cseqAt;
    AT.from = fromAt;
    AT.to = toAt;
    AT.mf = mfAt;
    AT.callId = callIdAt;
    AT.contact = contactAt;
    AT.contactLines = contactLines;
    primeViews(headers, text, b, o, spans, folded, method, isResponse);

    return isResponse
      ? new SipResponse({ status, reason, headers, body })
      : new SipRequest({ method, uri, headers, body });
  } catch (e) {
    // The start line's error wins over one in the header lines, but not over a size limit.
    const err = startErr !== undefined && !(e instanceof SipParseError && e.status === 513) ? startErr : e;
    if (err instanceof SipParseError) {
      err.isRequest = !isResponse;
      if (k > 0) {
        source.spans = SPANS.slice(0, k);
        source.folded = folded;
        source.clLine = clAt;
        source.clLines = clLines;
        err.headers = SipHeaders.fromSource(source);
      }
    }
    throw err;
  }
}

/**
 * Where parseMessage found the first line of each header it validates (-1: none) and how many
 * lines the list headers have. Module state, like SPANS: parseMessage runs to completion.
 */
const AT = { via: -1, viaLines: 0, cseq: -1, from: -1, to: -1, mf: -1, callId: -1, contact: -1, contactLines: 0 };

/**
 * Validate the headers every layer needs (lines in AT) and keep their parsed values as views
 * (stored in their slots directly).
 * A function of its own (not part of parseMessage) so that the JIT inlines the element parsers
 * into it: parseMessage alone uses up the inlining budget.
 */
function primeViews(
  headers: SipHeaders,
  text: string,
  b: Uint8Array,
  o: number,
  spans: number[],
  folded: Map<number, string> | undefined,
  method: string,
  isResponse: boolean,
): void {
  if (AT.viaLines > 0) {
    headers.vVia = listOf(text, b, o, spans, folded, AT.via, AT.viaLines, VIA);
  }
  if (AT.cseq !== -1) {
    const f = folded?.get(AT.cseq);
    let cseq: CSeq;
    if (f !== undefined) cseq = parseCSeq(f);
    else {
      const vs = vStart(b, o, spans[AT.cseq * 3 + 1]!, spans[AT.cseq * 3 + 2]!);
      cseq = cseqOf(text, b, o, vs, vEnd(b, o, vs, spans[AT.cseq * 3 + 2]!), method);
    }
    headers.vCSeq = cseq;
    if (!isResponse && cseq.method !== method) {
      throw KNOWN_METHODS.has(method)
        ? new SipParseError('CSeq method does not match the Request-Line')
        : new SipParseError('CSeq method does not match the Request-Line', 501);
    }
  }
  if (AT.from !== -1) headers.vFrom = nameAddrAt(text, b, o, spans, folded, AT.from, 'From');
  if (AT.to !== -1) headers.vTo = nameAddrAt(text, b, o, spans, folded, AT.to, 'To');
  if (AT.mf !== -1) {
    const v = parseValueUint(text, b, o, spans, folded, AT.mf, 255);
    if (v < 0) throw new SipParseError('Max-Forwards out of range');
    headers.vMaxForwards = v;
  }
  if (AT.callId !== -1) {
    const f = folded?.get(AT.callId);
    let v: string;
    if (f !== undefined) v = f;
    else {
      const vs = vStart(b, o, spans[AT.callId * 3 + 1]!, spans[AT.callId * 3 + 2]!);
      v = text.slice(vs, vEnd(b, o, vs, spans[AT.callId * 3 + 2]!));
    }
    headers.vCallId = v;
  }
  // Contact: reading it costs what checking it does, so the view is made here (handlers of the
  // requests that carry one, INVITE, REGISTER, SUBSCRIBE, their 2xx, read it).
  if (AT.contactLines > 0) headers.primeView('contact', listOf(text, b, o, spans, folded, AT.contact, AT.contactLines, CONTACT));
}

const EMPTY = Buffer.alloc(0);

// Names of the headers parseMessage validates, recognised where they stand (any letter case,
// compact forms included) without slicing.
const OTHER = 0;
const VIA = 1 as const;
const CSEQ = 2;
const FROM = 3;
const TO = 4;
const MAX_FORWARDS = 5;
const CALL_ID = 6;
const CONTACT = 7 as const;
const CONTENT_LENGTH = 8;

/** Which validated header b[o+from..o+to) names (any case, compact forms included), or OTHER. */
function nameId(b: Uint8Array, o: number, from: number, to: number): number {
  // A stored name is followed by ':' or LWS, as knownName requires.
  const known = knownName(b, o + from);
  return known >> 4 === to - from ? known & 15 : OTHER;
}

/** A name ends at ':' or LWS (the other bytes that may follow a token start no header line). */
const nameEnds = (c: number | undefined): boolean => c === 58 || c === 32 || c === 9;

/**
 * The validated header whose name starts at b[k], when the name is one of theirs in any case or
 * compact form and is followed by ':' or LWS: (name length << 4) | id. 0 for any other name (read
 * as a token by the caller; its id is OTHER).
 *
 * The length and first letter rule out almost every other name before a full comparison, which
 * is written out letter by letter: x | 32 folds the case of a letter, and only a letter folds
 * onto a letter ('-' is compared exactly), so a match is exact and made of token characters.
 * No comparison matches CR or LF, so reads stop at the line's end. (A call to a comparison
 * helper per header line costs more than the comparison itself.)
 */
function knownName(b: Uint8Array, k: number): number {
  switch (b[k]! | 32) {
    case 118: // v, via
      if (nameEnds(b[k + 1])) return (1 << 4) | VIA;
      return (b[k + 1]! | 32) === 105 && (b[k + 2]! | 32) === 97 && nameEnds(b[k + 3]) ? (3 << 4) | VIA : 0;
    case 102: // f, from
      if (nameEnds(b[k + 1])) return (1 << 4) | FROM;
      return (b[k + 1]! | 32) === 114 && (b[k + 2]! | 32) === 111 && (b[k + 3]! | 32) === 109 && nameEnds(b[k + 4]) ? (4 << 4) | FROM : 0;
    case 116: // t, to
      if (nameEnds(b[k + 1])) return (1 << 4) | TO;
      return (b[k + 1]! | 32) === 111 && nameEnds(b[k + 2]) ? (2 << 4) | TO : 0;
    case 105: // i
      return nameEnds(b[k + 1]) ? (1 << 4) | CALL_ID : 0;
    case 108: // l
      return nameEnds(b[k + 1]) ? (1 << 4) | CONTENT_LENGTH : 0;
    case 109: // m, max-forwards
      if (nameEnds(b[k + 1])) return (1 << 4) | CONTACT;
      return nameEnds(b[k + 12]) &&
        (b[k + 1]! | 32) === 97 && (b[k + 2]! | 32) === 120 && b[k + 3] === 45 && (b[k + 4]! | 32) === 102 &&
        (b[k + 5]! | 32) === 111 && (b[k + 6]! | 32) === 114 && (b[k + 7]! | 32) === 119 && (b[k + 8]! | 32) === 97 &&
        (b[k + 9]! | 32) === 114 && (b[k + 10]! | 32) === 100 && (b[k + 11]! | 32) === 115
        ? (12 << 4) | MAX_FORWARDS
        : 0;
    case 99: // cseq, call-id, contact, content-length ('c' alone is Content-Type)
      if (nameEnds(b[k + 4])) {
        return (b[k + 1]! | 32) === 115 && (b[k + 2]! | 32) === 101 && (b[k + 3]! | 32) === 113 ? (4 << 4) | CSEQ : 0;
      }
      if (nameEnds(b[k + 7])) {
        if ((b[k + 1]! | 32) === 97) {
          return (b[k + 2]! | 32) === 108 && (b[k + 3]! | 32) === 108 && b[k + 4] === 45 && (b[k + 5]! | 32) === 105 && (b[k + 6]! | 32) === 100
            ? (7 << 4) | CALL_ID
            : 0;
        }
        return (b[k + 1]! | 32) === 111 && (b[k + 2]! | 32) === 110 && (b[k + 3]! | 32) === 116 && (b[k + 4]! | 32) === 97 &&
          (b[k + 5]! | 32) === 99 && (b[k + 6]! | 32) === 116
          ? (7 << 4) | CONTACT
          : 0;
      }
      return nameEnds(b[k + 14]) &&
        (b[k + 1]! | 32) === 111 && (b[k + 2]! | 32) === 110 && (b[k + 3]! | 32) === 116 && (b[k + 4]! | 32) === 101 &&
        (b[k + 5]! | 32) === 110 && (b[k + 6]! | 32) === 116 && b[k + 7] === 45 && (b[k + 8]! | 32) === 108 &&
        (b[k + 9]! | 32) === 101 && (b[k + 10]! | 32) === 110 && (b[k + 11]! | 32) === 103 && (b[k + 12]! | 32) === 116 &&
        (b[k + 13]! | 32) === 104
        ? (14 << 4) | CONTENT_LENGTH
        : 0;
  }
  return 0;
}

/** valueStart over bytes: past LWS, ':' and LWS after the name ending at `ne`. */
function vStart(b: Uint8Array, o: number, ne: number, end: number): number {
  let i = ne;
  while (i < end && (b[o + i] === 32 || b[o + i] === 9)) i++;
  i++; // ':'
  while (i < end && (b[o + i] === 32 || b[o + i] === 9)) i++;
  return i;
}

/** valueEnd over bytes: trailing LWS dropped. */
function vEnd(b: Uint8Array, o: number, vs: number, end: number): number {
  while (end > vs && (b[o + end - 1] === 32 || b[o + end - 1] === 9)) end--;
  return end;
}

/** Unsigned decimal value of header line `line` (see parseUint), or -1. */
function parseValueUint(
  head: string,
  b: Uint8Array,
  o: number,
  spans: number[],
  folded: Map<number, string> | undefined,
  line: number,
  max: number,
): number {
  const f = folded?.get(line);
  if (f !== undefined) return parseUint(f, max);
  const vs = vStart(b, o, spans[line * 3 + 1]!, spans[line * 3 + 2]!);
  return parseUintB(b, o, max, vs, vEnd(b, o, vs, spans[line * 3 + 2]!));
}

function nameAddrAt(
  head: string,
  b: Uint8Array,
  o: number,
  spans: number[],
  folded: Map<number, string> | undefined,
  line: number,
  what: string,
): NameAddr {
  const f = folded?.get(line);
  if (f !== undefined) return parseNameAddr(f, what);
  const vs = vStart(b, o, spans[line * 3 + 1]!, spans[line * 3 + 2]!);
  return nameAddrElement(head, b, o, what, vs, vEnd(b, o, vs, spans[line * 3 + 2]!), false);
}

/** The value of unfolded header line `line`. */
function lineValue(head: string, spans: number[], line: number): string {
  const vs = valueStart(head, spans[line * 3 + 1]!, spans[line * 3 + 2]!);
  return head.slice(vs, valueEnd(head, vs, spans[line * 3 + 2]!));
}

/** Reused buffer for the line offsets of the message being parsed (copied out at the end). */
const SPANS: number[] = new Array<number>(3 * 64).fill(0);
const NO_SPANS: number[] = [];
/** What listOf returns for no element (not reached: a list line holds at least one). */
const NO_ELEMENTS: (Via | Contact)[] = [];

/**
 * Read every element of a list header (Via, Contact) whose first line is `at` and that has
 * `lines` lines: each value is read up to the ',' that ends it (commas in quoted strings and <>
 * do not count), which splits the line as splitList does, without slicing. Every element is
 * parsed and returned.
 */
function listOf(
  head: string,
  b: Uint8Array,
  o: number,
  spans: number[],
  folded: Map<number, string> | undefined,
  at: number,
  lines: number,
  id: typeof VIA | typeof CONTACT,
): (Via | Contact)[] {
  // Starts as [first] (a [] grows to 17 slots on its first push).
  let out: (Via | Contact)[] | undefined;
  const count = spans.length / 3;
  for (let line = at; line < count && lines > 0; line++) {
    const k = line * 3;
    if (line !== at && nameId(b, o, spans[k]!, spans[k + 1]!) !== id) continue;
    lines--;
    const f = folded === undefined ? undefined : folded.get(line);
    const s = f ?? head;
    const sb = f !== undefined ? bytesOf(f) : b;
    const so = f !== undefined ? 0 : o;
    let i = f !== undefined ? 0 : vStart(b, o, spans[k + 1]!, spans[k + 2]!);
    const to = f !== undefined ? f.length : vEnd(b, o, i, spans[k + 2]!);
    for (;;) {
      const v = id === VIA ? viaElement(s, sb, so, i, to, true) : contactElement(s, sb, so, i, to, true);
      if (out === undefined) out = [v];
      else out.push(v);
      i = CAP.end;
      if (i >= to) break;
      i++; // the ',' before the next value
    }
  }
  return out ?? NO_ELEMENTS;
}

/**
 * Where the header line starting at `pos` ends (its CR; `he` when the header text ends first), by
 * two native searches (faster than one scan of the bytes in JS). A bare LF or CR in the line is refused
 * (copied into a response, Call-ID, To..., it would end the line early for a peer that splits on
 * either one, and what follows would read as headers of our own: response splitting).
 */
function lineEndAt(text: string, pos: number, he: number): number {
  let e = text.indexOf('\n', pos);
  if (e !== -1 && text.charCodeAt(e - 1) !== 13 && (he < 0 || e < he)) throw new SipParseError('Bare LF in a header line');
  if (he >= 0) e = e === -1 || e - 1 > he ? he : e - 1;
  else if (e === -1) throw new SipParseError('Incomplete message');
  else e--;
  const cr = text.indexOf('\r', pos);
  if (cr !== -1 && cr < e) throw new SipParseError('Bare CR in a header line');
  return e;
}

/** "SIP/2.0" in b[o+from..o+to), case-insensitive on the letters (RFC 3261 §7.1). */
function isVersion20(b: Uint8Array, o: number, from: number, to: number): boolean {
  if (to - from !== 7) return false;
  const k = o + from;
  return (
    (b[k]! | 32) === 115 && (b[k + 1]! | 32) === 105 && (b[k + 2]! | 32) === 112 &&
    b[k + 3] === 47 && b[k + 4] === 50 && b[k + 5] === 46 && b[k + 6] === 48
  );
}

/** Index of the first SP in s[from..to), or -1. */
function spaceAt(s: string, from: number, to: number): number {
  const i = s.indexOf(' ', from);
  return i === -1 || i >= to ? -1 : i;
}

/** What requestUriEnd found wrong with the last Request-URI it read (undefined: nothing). */
let URI_VERDICT: string | undefined;

/**
 * The SP ending the Request-URI that starts at `from` (-1 if none before `to`), with cheap checks
 * of b[o+from..SP) left in URI_VERDICT (the full parse is lazy): a scheme, no <>, controls or
 * whitespace, no URI headers on sip/sips (RFC 4475 escruri). A '?' before the '@' belongs to the
 * user part, which may hold it (intmeth).
 */
function requestUriEnd(b: Uint8Array, o: number, from: number, to: number): number {
  URI_VERDICT = undefined;
  let colon = -1;
  let at = -1;
  let lastQ = -1;
  let bad = false;
  const u = URI_CHAR8;
  let j = o + from;
  const je = o + to;
  for (; j < je; j++) {
    // Four plain bytes a step; the bytes that need a look (and SP) stop it.
    while (j + 3 < je && (u[b[j]!]! & u[b[j + 1]!]! & u[b[j + 2]!]! & u[b[j + 3]!]!) === 1) j += 4;
    if (j >= je) break;
    const c = b[j]!;
    if (u[c] === 1) continue;
    if (c === 32) break;
    if (c < 33 || c === 127 || c === 60 || c === 62) bad = true;
    else if (c === 58) {
      if (colon === -1) colon = j - o;
    } else if (c === 64) {
      if (at === -1) at = j - o;
    } else if (c === 63) lastQ = j - o;
  }
  if (j >= je) return -1;
  const c0 = b[o + from]! | 32;
  if (bad || j === o + from || !(c0 >= 97 && c0 <= 122) || colon <= from) URI_VERDICT = 'Malformed Request-URI';
  else if (lastQ > at && (colon - from === 3 || colon - from === 4)) {
    const k = o + from;
    const sip = (b[k]! | 32) === 115 && (b[k + 1]! | 32) === 105 && (b[k + 2]! | 32) === 112;
    if (sip && (colon - from === 3 || (b[k + 3]! | 32) === 115)) URI_VERDICT = 'Request-URI must not contain headers';
  }
  return j - o;
}

/** Request-URI bytes needing no further look: all printable ASCII but < > : @ ? (and bytes >= 128). */
const URI_CHAR8 = new Uint8Array(256).fill(1);
for (let c = 0; c < 33; c++) URI_CHAR8[c] = 0;
for (const c of [127, 60, 62, 58, 64, 63]) URI_CHAR8[c] = 0;
