import { BRANCH_COOKIE, formatVia, generateBranch, SipRequest, type SipResponse, type Via } from '../message/index.js';
import type { SipPeer } from './types.js';

/**
 * Message helpers the transaction layer needs and the codec does not have (RFC 3261 §9.1,
 * §17.1.1.3, §13.2.2.4, §18.2.1). All copy header values as written.
 */

/** RFC 3261 §8.1.1.7 magic cookie (the codec's constant, under the name this layer uses). */
export const MAGIC_COOKIE = BRANCH_COOKIE;
const SEP = '\u0001';

/** `ACK` for a non-2xx final response, hop by hop, as the INVITE client transaction sends it (§17.1.1.3). */
export function buildAckForNon2xx(invite: SipRequest, response: SipResponse): SipRequest {
  const h = invite.headers;
  const headers: [string, string][] = [['Via', h.getAll('via')[0]!]];
  for (const r of h.getAll('route')) headers.push(['Route', r]);
  headers.push(
    ['Max-Forwards', '70'],
    ['From', h.get('from')!],
    ['To', response.headers.get('to') ?? h.get('to')!],
    ['Call-ID', invite.callId],
    ['CSeq', invite.cseq.seq + ' ACK'],
    ['Content-Length', '0'],
  );
  return new SipRequest({ method: 'ACK', uri: invite.uri, headers });
}

/**
 * `CANCEL` for a pending request (§9.1): same Request-URI, Call-ID, From, To and CSeq number as
 * the request, method CANCEL, one Via identical to the request's top Via (so the CANCEL takes the
 * same branch), the request's Route headers.
 */
export function buildCancel(request: SipRequest): SipRequest {
  const h = request.headers;
  const headers: [string, string][] = [['Via', h.getAll('via')[0]!]];
  for (const r of h.getAll('route')) headers.push(['Route', r]);
  headers.push(
    ['Max-Forwards', '70'],
    ['From', h.get('from')!],
    ['To', h.get('to')!],
    ['Call-ID', request.callId],
    ['CSeq', request.cseq.seq + ' CANCEL'],
    ['Content-Length', '0'],
  );
  return new SipRequest({ method: 'CANCEL', uri: request.uri, headers });
}

/**
 * `ACK` for a 2xx response to an INVITE (§13.2.2.4): a request of its own (new branch, end to
 * end), Request-URI = the remote target (the response's Contact), route set = the response's
 * Record-Route reversed, the INVITE's credentials. A UA core helper; the transaction layer never
 * sends it by itself.
 * Strict routing (a first route without `;lr`) is not handled.
 */
export function buildAckFor2xx(invite: SipRequest, response: SipResponse, opts: { branch?: string; body?: Buffer | string; contentType?: string } = {}): SipRequest {
  const h = invite.headers;
  const top = invite.topVia!;
  const params = new Map(top.params);
  params.set('branch', opts.branch ?? generateBranch());
  const headers: [string, string][] = [['Via', formatVia({ ...top, params })]];
  const rr = response.headers.getAll('record-route');
  for (let i = rr.length - 1; i >= 0; i--) headers.push(['Route', rr[i]!]);
  headers.push(
    ['Max-Forwards', '70'],
    ['From', h.get('from')!],
    ['To', response.headers.get('to')!],
    ['Call-ID', invite.callId],
    ['CSeq', invite.cseq.seq + ' ACK'],
  );
  // "The ACK MUST contain the same credentials as the INVITE."
  for (const a of h.getAll('authorization')) headers.push(['Authorization', a]);
  for (const a of h.getAll('proxy-authorization')) headers.push(['Proxy-Authorization', a]);
  if (opts.contentType !== undefined) headers.push(['Content-Type', opts.contentType]);
  const contact = response.contacts[0];
  return new SipRequest({ method: 'ACK', uri: contact?.uri ?? invite.uri, headers, body: opts.body });
}

/**
 * RFC 3261 §18.2.1 and RFC 3581: the top Via says where the request really came from, as we saw
 * it: `received` is added when the sent-by host differs from the source address, and replaced
 * whenever the request carried one of its own (a forged `received` would otherwise steer the
 * response, or a new connection, to a third party); an `rport` present (empty or not) gets the
 * source port, which makes `received` mandatory. Rewrites only the top Via; true if it changed.
 */
export function stampVia(req: SipRequest, from: SipPeer): boolean {
  const via = req.topVia;
  if (via === undefined) return false;
  const hasRport = via.rport !== undefined;
  const received = via.received;
  const receivedOk = received === undefined ? !hasRport && via.host === from.addr : received === from.addr;
  if (receivedOk && (!hasRport || via.rport === from.port)) return false;
  const parsed = req.via;
  const h = req.headers;
  const lines = h.linesOf('via');
  if (lines.length === parsed.length) {
    // One Via per line (the usual case): edit the top line's text, and keep a view whose params
    // Map is built only if somebody asks (no params parse, Map or formatVia per request).
    const text = stampedText(lines[0]!, from.addr, hasRport ? from.port : -1);
    if (text !== undefined && h.replaceFirst('via', text)) {
      const view = parsed.slice();
      view[0] = new StampedVia(via, from.addr, hasRport ? from.port : via.rport);
      h.primeView('via', view);
      return true;
    }
  }
  const params = new Map(via.params);
  params.set('received', from.addr);
  if (hasRport) params.set('rport', String(from.port));
  const top: Via = { ...via, params, received: from.addr, rport: hasRport ? from.port : via.rport };
  // One Via per line (the usual case): rewrite the top line in place; else split and set them all.
  if (h.lineCount('via') !== parsed.length || !h.replaceFirst('via', formatVia(top))) {
    const values = h.getAll('via');
    values[0] = formatVia(top);
    h.set('Via', values);
  }
  // Keep the parsed view (set() dropped it) so nobody parses every Via again.
  const view = parsed.slice();
  view[0] = top;
  h.primeView('via', view);
  return true;
}

/**
 * The Via value `v` with `received=addr` (replaced, or appended) and, when `port` >= 0, the rport
 * parameter given `port`; the other parameters stay as written. Undefined for what only the
 * parsed path handles: quoted strings, a comma, white space among the parameters.
 */
function stampedText(v: string, addr: string, port: number): string | undefined {
  const semi = v.indexOf(';');
  if (semi === -1) return port >= 0 ? undefined : v + ';received=' + addr;
  let out = v.slice(0, semi);
  let received = false;
  let rport = false;
  const n = v.length;
  for (let i = semi; i < n; ) {
    // One pass over the parameter: its end (';'), its '=', and nothing only the parser handles.
    let e = -1;
    let j = i + 1;
    for (; j < n; j++) {
      const c = v.charCodeAt(j);
      if (c === 59 /* ; */) break;
      if (c === 61 /* = */) {
        if (e === -1) e = j;
      } else if (c === 34 /* " */ || c === 44 /* , */ || c === 32 || c === 9) return undefined;
    }
    if (e === -1) e = j;
    const len = e - i - 1;
    if (len === 5 && port >= 0 && v.slice(i + 1, e).toLowerCase() === 'rport') {
      if (rport) return undefined;
      rport = true;
      out += ';rport=' + port;
    } else if (len === 8 && v.slice(i + 1, e).toLowerCase() === 'received') {
      if (received) return undefined;
      received = true;
      out += ';received=' + addr;
    } else out += v.slice(i, j);
    i = j;
  }
  if (port >= 0 && !rport) return undefined;
  return received ? out : out + ';received=' + addr;
}

/** The top Via after stampVia: the parsed one's fields, and its params Map built on first use. */
class StampedVia implements Via {
  protocol: string;
  transport: string;
  host: string;
  port: number | undefined;
  sentBy: string;
  branch: string | undefined;
  received: string;
  rport: number | null | undefined;
  #params: Via['params'] | undefined = undefined;
  readonly #base: Via;

  constructor(base: Via, received: string, rport: number | null | undefined) {
    this.protocol = base.protocol;
    this.transport = base.transport;
    this.host = base.host;
    this.port = base.port;
    this.sentBy = base.sentBy;
    this.branch = base.branch;
    this.received = received;
    this.rport = rport;
    this.#base = base;
  }

  get params(): Via['params'] {
    if (this.#params === undefined) {
      const p = new Map(this.#base.params);
      p.set('received', this.received);
      if (typeof this.rport === 'number' && this.#base.rport !== undefined) p.set('rport', String(this.rport));
      this.#params = p;
    }
    return this.#params;
  }

  set params(value: Via['params']) {
    this.#params = value;
  }
}

/** True when the branch carries the RFC 3261 magic cookie. */
export function isRfc3261Branch(branch: string | undefined): branch is string {
  return branch !== undefined && branch.startsWith(MAGIC_COOKIE);
}

/**
 * Server transaction key (§17.2.3). With a magic-cookie branch: branch + sent-by + method (ACK
 * counts as INVITE). Otherwise the RFC 2543 rule: Request-URI, Call-ID, CSeq number, From tag,
 * top Via, method, and the To tag except for INVITE (whose ACK and CANCEL carry another To tag).
 * `method` is the method of the transaction looked for (INVITE for ACK and for a CANCEL's target).
 */
export function serverKey(req: SipRequest, via: Via, method: string): string {
  const branch = via.branch;
  if (isRfc3261Branch(branch)) return branch + SEP + via.sentBy.toLowerCase() + SEP + method;
  const toTag = method === 'INVITE' ? '' : (req.to.tag ?? '');
  return (
    '2543' + SEP + req.uri + SEP + req.callId + SEP + req.cseq.seq + SEP + (req.from.tag ?? '') + SEP + toTag + SEP +
    // The top Via by its parsed parts, not its text: the layer stamps received/rport into it
    // between an INVITE's lookup and its CANCEL's, and the two keys must still match.
    via.transport + SEP + via.sentBy.toLowerCase() + SEP + (branch ?? '') + SEP + method
  );
}

/** Client transaction key (§17.1.3): branch + CSeq method. */
export function clientKey(branch: string, method: string): string {
  return branch + SEP + method;
}

/** Key of a 2xx-answered INVITE for its ACK (a new transaction, matched by dialog and CSeq number). */
export function ackDialogKey(callId: string, seq: number, fromTag: string | undefined, toTag: string | undefined): string {
  return callId + SEP + seq + SEP + (fromTag ?? '') + SEP + (toTag ?? '');
}
