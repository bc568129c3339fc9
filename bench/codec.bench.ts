/**
 * Codec benchmark (issue 16): `npm run bench:codec` (node --import ./bench/register.mjs bench/codec.bench.ts),
 * also the `codec` part of `npm run bench` (bench/codec-part.mjs, which writes its section of bench/RESULTS.md).
 *
 * The corpus (bench/codec-corpus.ts): an INVITE through a proxy with SDP, the 200 to it with a
 * two-entry Record-Route, a REGISTER with three Contacts, a BYE through two proxies, a NOTIFY with a
 * dialog-info body; and the small OPTIONS of the earlier benchmark (shown, not in the mean).
 * Each message is parsed from a Buffer (what a socket gives) by our parseMessage and by the `sip`
 * npm package (sip.parse), in the same process, and every header is read the way a handler reads it
 * (see touchOurs / touchSip: the start line, Request-URI parts, every Via's host, port, branch,
 * received and rport, From/To URI, tag and display name, Call-ID, CSeq, every Contact's URI, params
 * and expires, Max-Forwards, every Route and Record-Route entry's parsed URI (host and `lr`),
 * Content-Type, Content-Length, the body). `sip` parses most of that eagerly (the Request-URI and
 * Contact URIs stay strings in both); we parse most of it lazily, so what is read is what is paid for.
 * "parse+serialise" then turns the message back into bytes: our toBuffer(), and for `sip`
 * sip.stringify plus the string-to-bytes step a transport has to do.
 *
 * Noise (other work shares the cores): the two parsers run in short interleaved rounds (ours, sip,
 * ours, sip...), after a warm-up, and each figure is the median of its rounds; the ratio is the
 * median of the per-pair ratios (each pair ran at nearly the same moment).
 * Env: BENCH_MS (one round, default 30), BENCH_ROUNDS (default 25), BENCH_CODEC_JSON=file (also write
 * the results as JSON there, for bench/codec-part.mjs), BENCH_CODEC_ONLY=name (one message).
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseMessage, parseNameAddr, parseUri, type SipMessage } from '../src/message/index.js';
import { CORPUS, EXTRA } from './codec-corpus.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sip = require('sip') as { parse(s: string | Buffer): SipObject | undefined; stringify(m: SipObject): string; parseUri(s: string): SipUriObject };

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
interface SipObject {
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

const MS = Number(process.env.BENCH_MS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 25);

let sink = 0;
const len = (s: string | undefined | null): number => (s == null ? 0 : s.length);

/** What a handler reads, through our public API. */
function touchOurs(m: SipMessage): void {
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
  const routes = m.headers.getAll('route');
  for (let i = 0; i < routes.length; i++) {
    const u = parseUri(parseNameAddr(routes[i]!, 'Route').uri);
    sink += u.host.length + (u.params.has('lr') ? 1 : 0);
  }
  const rr = m.headers.getAll('record-route');
  for (let i = 0; i < rr.length; i++) {
    const u = parseUri(parseNameAddr(rr[i]!, 'Record-Route').uri);
    sink += u.host.length + (u.params.has('lr') ? 1 : 0);
  }
  sink += len(m.contentType) + m.contentLength;
  const body = m.body;
  sink += body.length + (body.length > 0 ? body[0]! : 0);
}

/** The same on the `sip` package's object (it has parsed most of it already). */
function touchSip(m: SipObject): void {
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
}

/** Operations per second of fn over about MS milliseconds. */
function round(fn: () => void): number {
  let n = 0;
  const t0 = process.hrtime.bigint();
  const until = t0 + BigInt(Math.round(MS * 1e6));
  let now = t0;
  while (now < until) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - t0) / 1e9);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Median rates of a and b over ROUNDS interleaved rounds, and the median ratio of the pairs. */
function rates(a: () => void, b: () => void): { ours: number; sip: number; ratio: number } {
  for (let i = 0; i < 20_000; i++) a();
  for (let i = 0; i < 20_000; i++) b();
  const ra: number[] = [];
  const rb: number[] = [];
  const rr: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first, so neither always runs right after the other's garbage.
    let x: number;
    let y: number;
    if (r % 2 === 0) {
      x = round(a);
      y = round(b);
    } else {
      y = round(b);
      x = round(a);
    }
    ra.push(x);
    rb.push(y);
    rr.push(x / y);
  }
  return { ours: median(ra), sip: median(rb), ratio: median(rr) };
}

export interface Row {
  name: string;
  bytes: number;
  parse: { ours: number; sip: number; ratio: number };
  both: { ours: number; sip: number; ratio: number };
}

function measure(name: string, text: string): Row {
  const buf = Buffer.from(text, 'latin1');

  // Sanity: both parse the message, see the same values, and touching works; our round trip is stable.
  const ours = parseMessage(buf);
  const theirs = sip.parse(buf);
  if (theirs === undefined) throw new Error(`${name}: sip cannot parse it`);
  if (ours.cseq.seq !== theirs.headers.cseq.seq || ours.via.length !== theirs.headers.via.length || ours.callId !== theirs.headers['call-id']) {
    throw new Error(`${name}: the parsers disagree`);
  }
  touchOurs(ours);
  touchSip(theirs);
  const out = ours.toBuffer();
  if (!out.equals(buf)) throw new Error(`${name}: our serialisation of an untouched message differs from the input`);

  const parse = rates(
    () => touchOurs(parseMessage(buf)),
    () => touchSip(sip.parse(buf)!),
  );
  const both = rates(
    () => {
      const m = parseMessage(buf);
      touchOurs(m);
      sink += m.toBuffer().length;
    },
    () => {
      const m = sip.parse(buf)!;
      touchSip(m);
      // What a transport has to do with the string: turn it into bytes.
      sink += Buffer.from(sip.stringify(m), 'latin1').length;
    },
  );
  return { name, bytes: buf.length, parse, both };
}

const geo = (xs: number[]): number => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

const only = process.env.BENCH_CODEC_ONLY;
const pick = (list: readonly { name: string; text: string }[]) => list.filter((m) => only === undefined || m.name === only);
const t0 = Date.now();
const rows = pick(CORPUS).map((m) => measure(m.name, m.text));
const extra = pick(EXTRA).map((m) => measure(m.name, m.text));
const mean = rows.length === 0 ? undefined : {
  parse: geo(rows.map((r) => r.parse.ratio)),
  both: geo(rows.map((r) => r.both.ratio)),
  oursParse: geo(rows.map((r) => r.parse.ours)),
  sipParse: geo(rows.map((r) => r.parse.sip)),
  oursBoth: geo(rows.map((r) => r.both.ours)),
  sipBoth: geo(rows.map((r) => r.both.sip)),
};

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const x = (r: number): string => r.toFixed(2) + 'x';
const table: string[][] = [['message', 'bytes', 'parse+touch ours/s', 'sip/s', 'ratio', 'parse+touch+serialise ours/s', 'sip/s', 'ratio']];
for (const r of rows) table.push([r.name, String(r.bytes), fmt(r.parse.ours), fmt(r.parse.sip), x(r.parse.ratio), fmt(r.both.ours), fmt(r.both.sip), x(r.both.ratio)]);
if (mean) table.push(['geometric mean (5 above)', '', fmt(mean.oursParse), fmt(mean.sipParse), x(mean.parse), fmt(mean.oursBoth), fmt(mean.sipBoth), x(mean.both)]);
for (const r of extra) table.push([`(${r.name}, not in the mean)`, String(r.bytes), fmt(r.parse.ours), fmt(r.parse.sip), x(r.parse.ratio), fmt(r.both.ours), fmt(r.both.sip), x(r.both.ratio)]);

const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
console.log(`node ${process.version}; messages per second, median of ${ROUNDS} interleaved rounds of ${MS} ms; ratio = median of the per-round ratios`);
console.log('');
for (const r of table) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
console.log('');
let verdict = '';
if (mean) {
  const low = Math.min(mean.parse, mean.both);
  verdict = `corpus geometric mean: parse ${x(mean.parse)}, parse+serialise ${x(mean.both)}; target >= 4x (goal 5x): ${low >= 5 ? 'goal met' : low >= 4 ? 'met' : 'MISSED'}`;
  console.log(verdict);
}
console.log(`(${((Date.now() - t0) / 1000).toFixed(0)} s)${sink === 0.5 ? '' : ''}`);

if (process.env.BENCH_CODEC_JSON) {
  writeFileSync(process.env.BENCH_CODEC_JSON, JSON.stringify({ node: process.version, ms: MS, rounds: ROUNDS, table, verdict }));
}
