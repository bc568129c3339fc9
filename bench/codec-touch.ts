/**
 * What bench/codec.bench.ts reads from every parsed message: the same fields through our API and
 * on the `sip` package's object (see there). Each returns a sum of what it read, so nothing is
 * optimised away.
 */
import { createRequire } from 'node:module';
import { parseUri, type SipMessage } from '../src/message/index.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const sip = require('sip') as { parse(s: string | Buffer): SipObject | undefined; stringify(m: SipObject): string; parseUri(s: string): SipUriObject };

type SipParams = Record<string, string | null | undefined>;
interface SipUriObject {
  host: string;
  user?: string;
  port: number;
  params: SipParams;
}
interface SipAor {
  name?: string;
  uri: string;
  params: SipParams;
}
export interface SipObject {
  method?: string;
  uri?: string;
  status?: number;
  reason?: string;
  content?: string;
  headers: {
    via: { host: string; port?: number; params: SipParams }[];
    cseq: { seq: number; method: string };
    from: SipAor;
    to: SipAor;
    'call-id': string;
    contact?: SipAor[] | '*';
    'max-forwards'?: string;
    route?: { uri: SipUriObject; params: SipParams }[];
    'record-route'?: { uri: SipUriObject; params: SipParams }[];
    'content-type'?: string;
    'content-length'?: number;
  };
}


const len = (s: string | undefined | null): number => (s == null ? 0 : s.length);

/** What a handler reads, through our public API. */
export function touchOurs(m: SipMessage): number {
  let sink = 0;
  if (m.isRequest()) {
    sink += m.method.length;
    const u = m.requestUri;
    sink += u.host.length + len(u.user) + (u.port ?? 0) + u.params.size;
  } else if (m.isResponse()) sink += m.status + m.reason.length;
  const vias = m.via;
  for (let i = 0; i < vias.length; i++) {
    const v = vias[i]!;
    sink += v.host.length + (v.port ?? 0) + len(v.branch) + len(v.received) + (v.rport ?? 0);
  }
  const from = m.from;
  sink += from.uri.length + len(from.tag) + len(from.displayName);
  const to = m.to;
  sink += to.uri.length + len(to.tag) + len(to.displayName);
  sink += m.callId.length;
  const cseq = m.cseq;
  sink += cseq.seq + cseq.method.length;
  const contacts = m.contacts;
  for (let i = 0; i < contacts.length; i++) {
    const c = contacts[i]!;
    sink += c.uri.length + c.params.size + (c.expires ?? 0);
  }
  sink += m.maxForwards ?? 0;
  // Route / Record-Route: the entries, each one's URI parsed (host, `lr`), as a proxy or dialog does.
  const routes = m.routes;
  for (let i = 0; i < routes.length; i++) {
    const u = parseUri(routes[i]!.uri);
    sink += u.host.length + (u.params.has('lr') ? 1 : 0);
  }
  const rr = m.recordRoutes;
  for (let i = 0; i < rr.length; i++) {
    const u = parseUri(rr[i]!.uri);
    sink += u.host.length + (u.params.has('lr') ? 1 : 0);
  }
  sink += len(m.contentType) + m.contentLength;
  const body = m.body;
  sink += body.length + (body.length > 0 ? body[0]! : 0);
  return sink;
}

/** The same on the `sip` package's object (it has parsed most of it already). */
export function touchSip(m: SipObject): number {
  let sink = 0;
  const h = m.headers;
  if (m.method !== undefined) {
    sink += m.method.length;
    const u = sip.parseUri(m.uri!);
    sink += u.host.length + len(u.user) + (u.port || 0) + Object.keys(u.params).length;
  } else sink += m.status! + len(m.reason);
  const vias = h.via;
  for (let i = 0; i < vias.length; i++) {
    const v = vias[i]!;
    sink += v.host.length + (v.port ?? 0) + len(v.params.branch) + len(v.params.received) + (v.params.rport ? Number(v.params.rport) : 0);
  }
  sink += h.from.uri.length + len(h.from.params.tag) + len(h.from.name);
  sink += h.to.uri.length + len(h.to.params.tag) + len(h.to.name);
  sink += h['call-id'].length;
  sink += h.cseq.seq + h.cseq.method.length;
  const contacts = h.contact;
  if (contacts !== undefined && contacts !== '*') {
    for (let i = 0; i < contacts.length; i++) {
      const c = contacts[i]!;
      const e = c.params.expires;
      sink += c.uri.length + Object.keys(c.params).length + (e ? Number(e) : 0);
    }
  }
  sink += h['max-forwards'] !== undefined ? Number(h['max-forwards']) : 0;
  const routes = h.route ?? [];
  for (let i = 0; i < routes.length; i++) sink += routes[i]!.uri.host.length + ('lr' in routes[i]!.uri.params ? 1 : 0);
  const rr = h['record-route'] ?? [];
  for (let i = 0; i < rr.length; i++) sink += rr[i]!.uri.host.length + ('lr' in rr[i]!.uri.params ? 1 : 0);
  sink += len(h['content-type']) + (h['content-length'] ?? 0);
  const body = m.content ?? '';
  sink += body.length + (body.length > 0 ? body.charCodeAt(0) : 0);
  return sink;
}

