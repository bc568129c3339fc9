import { formatUri, parseNameAddr, parseUri, SipRequest, type HeadersInit } from '../message/index.js';
import type { DialogRequestOptions } from './types.js';

/** The parts of a dialog an in-dialog request is built from (RFC 3261 §12.2.1.1). */
export interface DialogRoute {
  readonly callId: string;
  /** Our From/To value as it goes on the wire, tag included. */
  readonly localHeader: string;
  /** The peer's, tag included. */
  readonly remoteHeader: string;
  readonly remoteTarget: string;
  /** Route values in the order they go in the request. */
  readonly routeSet: readonly string[];
  readonly localContact: string | undefined;
}

/** Methods whose requests carry our Contact: target refresh and subscription requests (RFC 3261 §12.2.1.1, RFC 3311, 6665, 3515). */
const CARRIES_CONTACT = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

/**
 * An in-dialog request: Request-URI = the remote target and Route = the route set (loose
 * routing); when the first route is a strict router (no `lr`), Request-URI = that route's URI and
 * the remote target goes last in Route. From/To/Call-ID from the dialog, CSeq `seq method`.
 */
export function buildInDialogRequest(d: DialogRoute, method: string, seq: number, opts: DialogRequestOptions = {}): SipRequest {
  let uri = d.remoteTarget;
  let routes = d.routeSet;
  if (routes.length > 0) {
    const first = parseUri(parseNameAddr(routes[0]!, 'Route').uri);
    if (!first.params.has('lr')) {
      uri = requestUriOf(first);
      routes = [...routes.slice(1), `<${d.remoteTarget}>`];
    }
  }
  const headers: [string, string][] = [];
  for (const r of routes) headers.push(['Route', r]);
  headers.push(['From', d.localHeader], ['To', d.remoteHeader], ['Call-ID', d.callId], ['CSeq', `${seq} ${method}`]);
  if (d.localContact !== undefined && CARRIES_CONTACT.has(method)) headers.push(['Contact', d.localContact]);
  const req = new SipRequest({ method, uri, headers, body: opts.body });
  if (opts.headers !== undefined) appendHeaders(req, opts.headers);
  if (opts.contentType !== undefined) req.headers.set('Content-Type', opts.contentType);
  return req;
}

/** A URI as a Request-URI may carry it: without `method` and without headers (RFC 3261 §19.1.1 table 1). */
function requestUriOf(u: ReturnType<typeof parseUri>): string {
  if (!u.params.has('method') && u.headers.size === 0) return formatUri(u);
  const params = new Map(u.params);
  params.delete('method');
  return formatUri({ ...u, params, headers: new Map() });
}

function appendHeaders(req: SipRequest, init: HeadersInit): void {
  const pairs: Iterable<readonly [string, unknown]> =
    typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function' ? (init as Iterable<readonly [string, string]>) : Object.entries(init as Record<string, unknown>);
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    // The dialog owns these; a caller's value would break it.
    if (key === 'call-id' || key === 'i' || key === 'cseq' || key === 'from' || key === 'f' || key === 'to' || key === 't') continue;
    if (Array.isArray(value)) for (const one of value) req.headers.append(name, String(one));
    else if (key === 'contact' || key === 'm') req.headers.set(name, String(value));
    else req.headers.append(name, String(value));
  }
}
