import { SipParseError } from './errors.js';
import { linesIn, sourceValue, type HeaderSource } from './header-source.js';
import { CONTENT_LENGTH } from './known-headers.js';
import { NONE, SipHeaders, type HeadersInit } from './headers.js';
import { parseCSeq, type CSeq } from './cseq.js';
import { parseContact, parseNameAddr, type Contact, type NameAddr } from './name-addr.js';
import { parseUint } from './chars.js';
import { parseSipUriAt, parseUri, type SipUri } from './uri.js';
import { parseVia, type Via } from './via.js';
import { reasonPhrase } from './status.js';
import { contactsOfSource, nameAddrsOfSource } from './source-contacts.js';

const EMPTY = Buffer.alloc(0);
/**
 * Buffer.isBuffer, taken once: Node's global `Buffer` is read through a global-load inline cache
 * even in optimised code (seen on every parsed message's construction).
 */
const isBuffer = Buffer.isBuffer;

const missing = (name: string): SipParseError => new SipParseError(`Missing ${name} header`);

// View parsers: module-level functions, so no closure is made per access.
const viaView = (h: SipHeaders): Via[] => h.valuesOf('via').map((v) => parseVia(v));
const cseqView = (h: SipHeaders): CSeq => {
  const v = h.valuesOf('cseq');
  if (v.length === 0) throw missing('CSeq');
  return parseCSeq(v[0]!);
};
const fromView = (h: SipHeaders): NameAddr => {
  const v = h.linesOf('from');
  if (v.length === 0) throw missing('From');
  return parseNameAddr(v[0]!, 'From');
};
const toView = (h: SipHeaders): NameAddr => {
  const v = h.linesOf('to');
  if (v.length === 0) throw missing('To');
  return parseNameAddr(v[0]!, 'To');
};
const callIdView = (h: SipHeaders): string | undefined => h.get('call-id');
// parseMessage checks Contact lines but leaves this view to first access.
const contactView = (h: SipHeaders): Contact[] => {
  const src = h.source;
  return src !== undefined ? contactsOfSource(src) : h.valuesOf('contact').map((v) => parseContact(v));
};
const routeView = (h: SipHeaders): NameAddr[] => {
  const src = h.source;
  return src !== undefined ? nameAddrsOfSource(src, 'route', 'Route') : h.valuesOf('route').map((v) => parseNameAddr(v, 'Route'));
};
const recordRouteView = (h: SipHeaders): NameAddr[] => {
  const src = h.source;
  return src !== undefined ? nameAddrsOfSource(src, 'record-route', 'Record-Route') : h.valuesOf('record-route').map((v) => parseNameAddr(v, 'Record-Route'));
};
// Read where parseMessage found the line (Content-Type is not a list header: the whole value).
const contentTypeView = (h: SipHeaders): string | undefined => {
  const src = h.source;
  return src !== undefined ? (src.ctAt < 0 ? undefined : sourceValue(src, src.ctAt)) : h.get('content-type');
};
const maxForwardsView = (h: SipHeaders): number | undefined => {
  const v = h.linesOf('max-forwards');
  if (v.length === 0) return undefined;
  const n = parseUint(v[0]!.trim(), 255);
  if (n < 0) throw new SipParseError('Max-Forwards out of range');
  return n;
};

export type Body = Buffer | string | Uint8Array;

const toBody = (b: Body | undefined): Buffer =>
  b === undefined ? EMPTY : isBuffer(b) ? b : typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** What both requests and responses have: headers, body, and lazily parsed views of the common headers. */
export abstract class SipMessage {
  headers: SipHeaders;
  body: Buffer;

  constructor(headers?: HeadersInit, body?: Body) {
    this.headers = headers instanceof SipHeaders ? headers : new SipHeaders(headers);
    this.body = toBody(body);
  }

  abstract isRequest(): this is SipRequest;
  abstract isResponse(): this is SipResponse;
  /** The first line, without CRLF. */
  abstract startLine(): string;

  // The views every layer reads are taken from their slots directly when parsed already (the
  // usual case: parseMessage fills them), which keeps these getters a field load.
  /** Every Via value, top first. */
  get via(): Via[] {
    const v = this.headers.vVia;
    return v !== NONE ? (v as Via[]) : this.headers.view('via', viaView);
  }
  get topVia(): Via | undefined {
    return this.via[0];
  }
  get cseq(): CSeq {
    const v = this.headers.vCSeq;
    return v !== NONE ? (v as CSeq) : this.headers.view('cseq', cseqView);
  }
  get from(): NameAddr {
    const v = this.headers.vFrom;
    return v !== NONE ? (v as NameAddr) : this.headers.view('from', fromView);
  }
  get to(): NameAddr {
    const v = this.headers.vTo;
    return v !== NONE ? (v as NameAddr) : this.headers.view('to', toView);
  }
  get callId(): string {
    const c = this.headers.vCallId;
    const v = c !== NONE ? (c as string | undefined) : this.headers.view('call-id', callIdView);
    if (v === undefined || v.length === 0) throw missing('Call-ID');
    return v;
  }
  get maxForwards(): number | undefined {
    const v = this.headers.vMaxForwards;
    return v !== NONE ? (v as number | undefined) : this.headers.view('max-forwards', maxForwardsView);
  }
  get contacts(): Contact[] {
    const v = this.headers.vContact;
    return v !== NONE ? (v as Contact[]) : this.headers.view('contact', contactView);
  }
  /**
   * Every Route entry, top first (RFC 3261 §20.34), parsed on first access in one pass over the
   * received bytes; `parseUri(route.uri)` gives its URI's parts (host, `lr`). Change the route set
   * through `headers` (the view follows).
   */
  get routes(): NameAddr[] {
    const h = this.headers;
    const v = h.vRoute;
    return v !== NONE ? (v as NameAddr[]) : (h.vRoute = routeView(h));
  }
  /** Every Record-Route entry, top first (RFC 3261 §20.30), as `routes`. */
  get recordRoutes(): NameAddr[] {
    const h = this.headers;
    const v = h.vRecordRoute;
    return v !== NONE ? (v as NameAddr[]) : (h.vRecordRoute = recordRouteView(h));
  }
  /** Length of the body (what Content-Length says on the wire once serialised). */
  get contentLength(): number {
    return this.body.length;
  }
  get contentType(): string | undefined {
    const h = this.headers;
    const v = h.vContentType;
    return v !== NONE ? (v as string | undefined) : (h.vContentType = contentTypeView(h));
  }

  setBody(body: Body, contentType?: string): this {
    this.body = toBody(body);
    if (contentType !== undefined) this.headers.set('Content-Type', contentType);
    return this;
  }

  /** Wire form. Content-Length always equals the body length. */
  toBuffer(): Buffer {
    const body = this.body;
    const whole = this.receivedWhole();
    if (whole !== undefined) return whole;
    const received = this.headers.receivedLength(body.length);
    if (received >= 0) {
      // Untouched parsed header lines: copied from the received bytes (same result, no re-encoding).
      const start = this.startLine();
      const startLen = Buffer.byteLength(start, 'utf8');
      const out = Buffer.allocUnsafe(startLen + 2 + received + 2 + body.length);
      let at = out.write(start, 0, 'utf8');
      out[at++] = 13;
      out[at++] = 10;
      at = this.headers.writeReceived(out, at, body.length);
      out[at++] = 13;
      out[at++] = 10;
      body.copy(out, at);
      return out;
    }
    const head = this.startLine() + '\r\n' + this.headers.serialize(this.body.length) + '\r\n';
    if (body.length === 0) return Buffer.from(head, 'utf8');
    const headLen = Buffer.byteLength(head, 'utf8');
    const out = Buffer.allocUnsafe(headLen + body.length);
    out.write(head, 0, 'utf8');
    body.copy(out, headLen);
    return out;
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }

  /** True while the start line is the one parsed from `w`, written the way startLine() writes it. */
  protected abstract startUnchanged(w: HeaderSource): boolean;

  /**
   * A copy of the received message in one piece, when toBuffer would write exactly those bytes:
   * start line and header lines untouched and written in the normal form, one Content-Length
   * equal to the body length, and the body still the received bytes that follow the header.
   */
  private receivedWhole(): Buffer | undefined {
    const src = this.headers.source;
    if (src === undefined || src.wholeStart < 0 || src.bytes === undefined || src.folded !== undefined || linesIn(src.counts, CONTENT_LENGTH) !== 1) return undefined;
    const bytes = src.bytes;
    const body = this.body;
    // The parsed body object itself (its .buffer and .byteOffset would be two calls into the runtime).
    if (body.length > 0 && body !== src.body) return undefined;
    if (!this.startUnchanged(src)) return undefined;
    // The Content-Length value must be the body length as written ("0068" is rewritten).
    const k = src.clLine * 3;
    const spans = src.spans;
    let vs = spans[k + 1]!;
    const end = spans[k + 2]!;
    const text = src.text;
    while (vs < end && text.charCodeAt(vs) !== 58) vs++;
    vs++;
    while (vs < end && (text.charCodeAt(vs) === 32 || text.charCodeAt(vs) === 9)) vs++;
    let ve = end;
    while (ve > vs && (text.charCodeAt(ve - 1) === 32 || text.charCodeAt(ve - 1) === 9)) ve--;
    const len = String(body.length);
    if (ve - vs !== len.length || !text.startsWith(len, vs)) return undefined;
    const from = src.byteStart + src.wholeStart;
    const to = src.bodyStart + body.length;
    // The usual datagram is the message and nothing else: copied whole (no range to check).
    if (from === 0 && to === bytes.length) return Buffer.from(bytes);
    const out = Buffer.allocUnsafe(to - from);
    bytes.copy(out, 0, from, to);
    return out;
  }
}

export interface SipRequestInit {
  method: string;
  uri: string;
  headers?: HeadersInit;
  body?: Body;
}

export class SipRequest extends SipMessage {
  method: string;
  /** Request-URI as written. */
  uri: string;
  private parsedUri: SipUri | undefined;
  private parsedFrom: string | undefined;

  constructor(init: SipRequestInit) {
    super(init.headers, init.body);
    this.method = init.method;
    this.uri = init.uri;
  }

  isRequest(): this is SipRequest {
    return true;
  }
  isResponse(): this is SipResponse {
    return false;
  }
  startLine(): string {
    return this.method + ' ' + this.uri + ' SIP/2.0';
  }
  protected startUnchanged(w: HeaderSource): boolean {
    return this.method === w.startA && this.uri === w.startB;
  }
  /** The received Request-URI parsed where it lies in the received bytes (no copy), when it is still the one received. */
  private uriInPlace(): SipUri | undefined {
    const src = this.headers.source;
    if (src === undefined || src.bytes === undefined || src.wholeStart < 0 || src.startB !== this.uri || src.startA !== this.method) return undefined;
    const from = src.wholeStart + src.startA.length + 1;
    return parseSipUriAt(src.text, src.bytes, src.byteStart, from, from + this.uri.length);
  }
  /** The Request-URI, parsed (cached while `uri` is unchanged). */
  get requestUri(): SipUri {
    if (this.parsedUri === undefined || this.parsedFrom !== this.uri) {
      this.parsedUri = this.uriInPlace() ?? parseUri(this.uri);
      this.parsedFrom = this.uri;
    }
    return this.parsedUri;
  }
}

export interface SipResponseInit {
  status: number;
  reason?: string;
  headers?: HeadersInit;
  body?: Body;
}

export class SipResponse extends SipMessage {
  status: number;
  reason: string;

  constructor(init: SipResponseInit) {
    super(init.headers, init.body);
    this.status = init.status;
    this.reason = init.reason ?? reasonPhrase(init.status);
  }

  isRequest(): this is SipRequest {
    return false;
  }
  isResponse(): this is SipResponse {
    return true;
  }
  startLine(): string {
    return 'SIP/2.0 ' + this.status + ' ' + this.reason;
  }
  protected startUnchanged(w: HeaderSource): boolean {
    return this.status === w.status && this.reason === w.startA;
  }
}

