import { bytesOf, parseUintB, TOKEN8, trimLws } from './chars.js';
import { SipParseError, tooLarge } from './errors.js';
import { lineValue, type HeaderSource } from './header-source.js';
import { SipHeaders } from './headers.js';
import { CONTENT_LENGTH, CONTENT_TYPE, ID_USED, KNOWN_FIRST8, knownName, nameId, RECORD_ROUTE, ROUTE } from './known-headers.js';
import { SipRequest, SipResponse } from './message.js';
import { COUNT, FIRST, parseValueUint, primeViews } from './parsed-views.js';
import { lineEndAt } from './line-end.js';
import { isVersion20, requestUriEnd, spaceAt, URI_CHECK } from './start-line.js';

export interface ParseLimits {
  /** Largest header section in bytes (default 16384, Net::SIP's MAX_SIP_HEADER). */
  maxHeader?: number;
  /** Largest body in bytes (default 65536, MAX_SIP_BODY). */
  maxBody?: number;
}

export const DEFAULT_MAX_HEADER = 16384;
export const DEFAULT_MAX_BODY = 65536;

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** Buffer.isBuffer, taken once (see message.ts). */
const isBuffer = Buffer.isBuffer;

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
    typeof data === 'string' ? Buffer.from(data, 'utf8') : isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
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
      if (URI_CHECK.verdict !== undefined) throw new SipParseError(URI_CHECK.verdict);
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
  // First line and line count of each known header (see knownName), by id.
  for (let i = 0; i < ID_USED; i++) {
    FIRST[i] = -1;
    COUNT[i] = 0;
  }
  const n = text.length;
  const source: HeaderSource = {
    text,
    spans: NO_SPANS,
    folded: undefined,
    keys: undefined,
    clLine: -1,
    counts: 0,
    routeAt: -1,
    rrAt: -1,
    ctAt: -1,
    bytes,
    byteStart,
    wholeStart: -1,
    bodyStart: 0,
    body: undefined,
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
      const known = KNOWN_FIRST8[c!] === 1 ? knownName(b, o + pos) : 0;
      let ne = pos + (known >> 4);
      if (known === 0) {
        let j = pos + o;
        const je = e + o;
        // Four bytes a step while all four are token characters, then one at a time.
        while (j + 3 < je && (TOKEN8[b[j]!]! & TOKEN8[b[j + 1]!]! & TOKEN8[b[j + 2]!]! & TOKEN8[b[j + 3]!]!) === 1) j += 4;
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
      if (k + 3 > SPANS.length) growSpans();
      SPANS[k++] = pos;
      SPANS[k++] = ne;
      SPANS[k++] = e;
      const id = known & 15;
      if (COUNT[id]++ === 0) FIRST[id] = line;
      pos = e + 2;
    }
    const spans = SPANS.slice(0, k);
    source.spans = spans;
    source.folded = folded;
    noteLines(source);
    const clAt = source.clLine;
    const clLines = COUNT[CONTENT_LENGTH]!;
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
        source.body = body;
        source.startA = isResponse ? reason : method;
        source.startB = uri;
        source.status = status;
      }
    }

    // Eager validation of the headers every layer needs; the parsed values are kept as views.
    const headers = SipHeaders.fromSource(source);
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
        noteLines(source);
        err.headers = SipHeaders.fromSource(source);
      }
    }
    throw err;
  }
}

const EMPTY = Buffer.alloc(0);

/** The lines of the headers a HeaderSource's readers go to directly (see FIRST). */
function noteLines(source: HeaderSource): void {
  source.clLine = FIRST[CONTENT_LENGTH]!;
  let counts = 0;
  for (let id = 1; id < ID_USED; id++) counts |= Math.min(COUNT[id]!, 3) << (2 * id);
  source.counts = counts;
  source.routeAt = FIRST[ROUTE]!;
  source.rrAt = FIRST[RECORD_ROUTE]!;
  source.ctAt = FIRST[CONTENT_TYPE]!;
}

/** Reused buffer for the line offsets of the message being parsed (copied out at the end). */
// Packed (no holes, small integers): its slice is a plain copy.
const SPANS: number[] = Array.from({ length: 3 * 64 }, () => 0);
/** Twice the room, by push (setting `length` would leave holes). */
function growSpans(): void {
  for (let i = SPANS.length; i > 0; i--) SPANS.push(0);
}
const NO_SPANS: number[] = [];

