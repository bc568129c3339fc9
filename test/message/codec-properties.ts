/**
 * Property checks of the codec, shared by properties.test.ts (fast, default run) and
 * codec.fuzz.test.ts (long run, `npm run fuzz`, FUZZ_RUNS).
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import {
  formatNameAddr,
  formatUri,
  formatVia,
  headerKey,
  parseMessage,
  parseUri,
  parseVia,
  responseForParseError,
  SipParseError,
  SipRequest,
  SipHeaders,
  SipResponse,
  StreamFramer,
  validateRequest,
  type Contact,
  type SipMessage,
  type SipUri,
  type Via,
} from '../../src/message/index.js';
import { allTorture, TYPICAL } from './fixtures.js';

// ---------------------------------------------------------------------------------------------
// Generators

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const TOKEN_CHARS = ALNUM + "-.!%*_+`'~";
const chars = (set: string): fc.Arbitrary<string> => fc.constantFrom(...set.split(''));
const str = (set: string, minLength: number, maxLength: number): fc.Arbitrary<string> => fc.string({ unit: chars(set), minLength, maxLength });
/** A few non-ASCII characters (2, 3 and 4 UTF-8 bytes) and some that JS calls white space. */
const EXOTIC = ['é', 'ß', 'ж', '☎', '大', '\u00a0', '\ufeff', '😀', '\u2028'];

export const token = (max = 12): fc.Arbitrary<string> => str(TOKEN_CHARS, 1, max);
const lowerToken = (max = 10): fc.Arbitrary<string> => str('abcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`\'~', 1, max);
/** Free text without CR/LF: printable ASCII, tabs, spaces, a few non-ASCII characters. */
const text = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }, fc.constantFrom('\t', ...EXOTIC)), maxLength });
/** A header value as the parser keeps it: no CR/LF, no SP/HT at either end. */
const headerValue = text(40).map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));

const label = str('abcdefghijklmnopqrstuvwxyz0123456789', 1, 8);
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const ipv6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((p) => p.map((x) => x.toString(16)).join(':'));
const host = fc.oneof(domain, ipv4, ipv6, fc.constant('::1'), fc.constant('2001:db8::10'));
const port = fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined });

/** Any string without lone surrogates (formatUri escapes UTF-8). */
const anyText = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)) }, fc.constantFrom(...EXOTIC)), maxLength });

export const sipUri = (withHeaders: boolean): fc.Arbitrary<SipUri> =>
  fc
    .record({
      scheme: fc.constantFrom('sip', 'sips'),
      user: fc.option(anyText(12), { nil: undefined }),
      password: fc.option(anyText(6), { nil: undefined }),
      host,
      port,
      params: fc.array(fc.tuple(anyText(8).map((s) => s.toLowerCase()).filter((s) => s.length > 0 && s.toLowerCase() === s), fc.option(anyText(8).filter((s) => s.length > 0), { nil: null })), { maxLength: 4 }),
      headers: withHeaders ? fc.array(fc.tuple(anyText(8), anyText(8)), { maxLength: 3 }) : fc.constant([] as [string, string][]),
    })
    .map((r) => {
      const u: SipUri = { scheme: r.scheme, host: r.host, params: new Map(r.params), headers: new Map(r.headers) };
      if (r.user !== undefined) {
        u.user = r.user;
        if (r.password !== undefined) u.password = r.password;
      }
      if (r.port !== undefined) u.port = r.port;
      return u;
    });

export const telUri: fc.Arbitrary<SipUri> = fc
  .record({ number: str('0123456789-.+()', 1, 15), params: fc.array(fc.tuple(lowerToken(), fc.option(token(), { nil: null })), { maxLength: 3 }) })
  .map((r) => ({ scheme: 'tel', user: r.number, host: '', params: new Map(r.params), headers: new Map() }));

interface GenVia {
  transport: string;
  host: string;
  port: number | undefined;
  branch: string;
  received: string | undefined;
  rport: number | null | undefined;
  extra: [string, string | null][];
}
const via: fc.Arbitrary<GenVia> = fc.record({
  transport: fc.oneof(fc.constantFrom('UDP', 'TCP', 'TLS', 'SCTP', 'WS', 'WSS'), str('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-', 1, 6)),
  host,
  port,
  branch: token(16).map((t) => 'z9hG4bK' + t),
  received: fc.option(fc.oneof(ipv4, ipv6), { nil: undefined }),
  rport: fc.option(fc.option(fc.integer({ min: 0, max: 65535 }), { nil: null }), { nil: undefined }),
  extra: fc.array(fc.tuple(lowerToken().filter((n) => !['branch', 'received', 'rport'].includes(n)), fc.option(token(), { nil: null })), { maxLength: 2 }),
});
const viaText = (v: GenVia): string => {
  const params = new Map<string, string | null>([['branch', v.branch]]);
  if (v.received !== undefined) params.set('received', v.received);
  if (v.rport !== undefined) params.set('rport', v.rport === null ? null : String(v.rport));
  for (const [k, val] of v.extra) params.set(k, val);
  return formatVia({ protocol: 'SIP/2.0', transport: v.transport, host: v.host, port: v.port, sentBy: '', params });
};

interface GenNameAddr {
  displayName: string | undefined;
  uri: SipUri;
  tag: string | undefined;
}
const nameAddr: fc.Arbitrary<GenNameAddr> = fc.record({
  displayName: fc.option(text(20), { nil: undefined }),
  uri: fc.oneof({ weight: 4, arbitrary: sipUri(true) }, telUri),
  tag: fc.option(token(16), { nil: undefined }),
});
const nameAddrText = (n: GenNameAddr): string =>
  formatNameAddr({ displayName: n.displayName, uri: formatUri(n.uri), params: new Map(n.tag === undefined ? [] : [['tag', n.tag]]) });

/** Names of headers the parser validates: generated separately with valid values. */
const CHECKED = new Set(['via', 'cseq', 'from', 'to', 'call-id', 'max-forwards', 'contact', 'content-length']);
const extraHeader = fc.tuple(
  token(16).filter((n) => !CHECKED.has(headerKey(n))),
  headerValue,
);

export interface GenMessage {
  message: SipRequest | SipResponse;
  vias: GenVia[];
  from: GenNameAddr;
  to: GenNameAddr;
  seq: number;
  callId: string;
  requestUri?: SipUri;
}

export const message: fc.Arbitrary<GenMessage> = fc
  .record({
    request: fc.boolean(),
    method: token(10),
    requestUri: fc.oneof({ weight: 4, arbitrary: sipUri(false) }, telUri),
    status: fc.integer({ min: 100, max: 699 }),
    reason: text(30),
    vias: fc.array(via, { minLength: 1, maxLength: 3 }),
    viaJoin: fc.boolean(),
    from: nameAddr,
    to: nameAddr,
    callId: str(TOKEN_CHARS + '@()<>:\\"/[]?{}', 1, 30).filter((s) => s.trim() === s),
    seq: fc.integer({ min: 0, max: 4294967295 }),
    maxForwards: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
    extras: fc.array(fc.tuple(extraHeader, fc.nat()), { maxLength: 8 }),
    body: fc.uint8Array({ maxLength: 300 }),
  })
  .map((g) => {
    const lines: [string, string][] = [];
    if (g.viaJoin) lines.push(['Via', g.vias.map(viaText).join(', ')]);
    else for (const v of g.vias) lines.push(['Via', viaText(v)]);
    lines.push(['From', nameAddrText(g.from)], ['To', nameAddrText(g.to)], ['Call-ID', g.callId], ['CSeq', `${g.seq} ${g.method}`]);
    if (g.maxForwards !== undefined) lines.push(['Max-Forwards', String(g.maxForwards)]);
    for (const [h, at] of g.extras) lines.splice(at % (lines.length + 1), 0, h);
    const body = Buffer.from(g.body);
    const message = g.request
      ? new SipRequest({ method: g.method, uri: formatUri(g.requestUri), headers: lines, body })
      : new SipResponse({ status: g.status, reason: g.reason, headers: lines, body });
    const out: GenMessage = { message, vias: g.vias, from: g.from, to: g.to, seq: g.seq, callId: g.callId };
    if (g.request) out.requestUri = g.requestUri;
    return out;
  });

// ---------------------------------------------------------------------------------------------
// Round trips

const linesWithoutLength = (m: SipMessage): [string, string][] => [...m.headers].filter(([n]) => headerKey(n) !== 'content-length');

export function checkRoundTrip(numRuns: number): void {
  fc.assert(
    fc.property(message, (g) => {
      const m = g.message;
      const wire = m.toBuffer();
      const p = parseMessage(wire);
      expect(p.isRequest()).toBe(m.isRequest());
      if (m.isRequest()) {
        const q = p as SipRequest;
        expect(q.method).toBe(m.method);
        expect(q.uri).toBe(m.uri);
        expect(q.requestUri).toEqual(g.requestUri);
      } else {
        const q = p as SipResponse;
        expect(q.status).toBe((m as SipResponse).status);
        expect(q.reason).toBe((m as SipResponse).reason);
      }
      expect(linesWithoutLength(p)).toEqual([...m.headers]);
      expect(p.headers.get('content-length')).toBe(String(m.body.length));
      expect(p.body.equals(m.body)).toBe(true);
      // Views carry what was generated.
      expect(p.via.map((v) => [v.transport, v.host, v.port, v.branch, v.received, v.rport])).toEqual(
        g.vias.map((v) => [v.transport, v.host, v.port, v.branch, v.received, v.rport]),
      );
      expect(p.cseq.seq).toBe(g.seq);
      expect(p.callId).toBe(g.callId);
      for (const [view, gen] of [
        [p.from, g.from],
        [p.to, g.to],
      ] as const) {
        expect(view.displayName).toBe(gen.displayName);
        expect(view.tag).toBe(gen.tag);
        expect(parseUri(view.uri)).toEqual(gen.uri);
      }
      // Serialising the parsed message gives the same bytes.
      expect(p.toBuffer().equals(wire)).toBe(true);
    }),
    { numRuns },
  );
}

export function checkUriRoundTrip(numRuns: number): void {
  fc.assert(
    fc.property(fc.oneof(sipUri(true), telUri), (u) => {
      const s = formatUri(u);
      expect(parseUri(s)).toEqual(u);
      expect(formatUri(parseUri(s))).toBe(s);
    }),
    { numRuns },
  );
  fc.assert(
    fc.property(via, (v) => {
      const s = viaText(v);
      const p = parseVia(s);
      expect([p.transport, p.host, p.port, p.branch, p.received, p.rport]).toEqual([v.transport, v.host, v.port, v.branch, v.received, v.rport]);
      expect(formatVia(p)).toBe(s);
    }),
    { numRuns },
  );
}

// ---------------------------------------------------------------------------------------------
// Robustness: mutations and truncations of real messages

/** The seed corpus: the 50 RFC 4475 messages and typical INVITE/OPTIONS/REGISTER/200. */
export const CORPUS: Buffer[] = [...allTorture().map(([, , data]) => data), ...Object.values(TYPICAL).map((t) => Buffer.from(t))];

/** Bytes that matter to the grammar, inserted as units by the mutator. */
const DICTIONARY = [
  '\r\n', '\r\n ', '\r\n\r\n', '\r', '\n', ' ', '\t', ':', ';', ',', '=', '"', '\\', '<', '>', '[', ']', '@', '?', '&', '%', '%0', '%00',
  '/', 'SIP/2.0', 'sip:', 'z9hG4bK', ';branch=', ';rport', ';tag=', 'Via: ', 'v: ', 'l: ', 'Content-Length: ', 'CSeq: ', '4294967296',
  '65536', '999999999999999999999', '-1', '0', '\0', '\x7f', '\xff', 'é', '\ufeff',
].map((s) => Buffer.from(s, s === '\xff' ? 'latin1' : 'utf8'));

type Op =
  | { kind: 'flip'; pos: number; byte: number }
  | { kind: 'insert'; pos: number; bytes: Uint8Array }
  | { kind: 'word'; pos: number; word: number }
  | { kind: 'delete'; pos: number; len: number }
  | { kind: 'truncate'; pos: number }
  | { kind: 'dup'; pos: number; len: number; to: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('word' as const), pos: fc.nat(), word: fc.nat(DICTIONARY.length - 1) }),
  fc.record({ kind: fc.constant('delete' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({ kind: fc.constant('dup' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 60 }), to: fc.nat() }),
);

export function mutate(base: Buffer, ops: Op[]): Buffer {
  let b = base;
  for (const o of ops) {
    const at = b.length === 0 ? 0 : o.pos % (b.length + 1);
    switch (o.kind) {
      case 'flip':
        if (b.length > 0) {
          b = Buffer.from(b);
          b[o.pos % b.length] = o.byte;
        }
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), o.bytes, b.subarray(at)]);
        break;
      case 'word':
        b = Buffer.concat([b.subarray(0, at), DICTIONARY[o.word]!, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + o.len)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'dup': {
        const piece = b.subarray(at, at + o.len);
        const to = b.length === 0 ? 0 : o.to % (b.length + 1);
        b = Buffer.concat([b.subarray(0, to), piece, b.subarray(to)]);
        break;
      }
    }
  }
  return b;
}

export const mutated = fc
  .record({ base: fc.nat(CORPUS.length - 1), ops: fc.array(op, { minLength: 1, maxLength: 6 }) })
  .map(({ base, ops }) => mutate(CORPUS[base]!, ops));

export const truncated = fc.record({ base: fc.nat(CORPUS.length - 1), at: fc.nat() }).map(({ base, at }) => {
  const b = CORPUS[base]!;
  return b.subarray(0, at % (b.length + 1));
});

/** Only SipParseError may come out of `fn`; anything else is a bug. */
function onlyParseErrors<T>(what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof SipParseError)) throw new Error(`${what} threw ${String(e)}`, { cause: e });
    expect([400, 501, 505, 513], what).toContain(e.status);
    return undefined;
  }
}

/**
 * Parse arbitrary bytes the way a transport would: a message or a SipParseError, never another
 * exception. For a message, every lazy view may only throw SipParseError; validateRequest and
 * toBuffer never throw, and the serialised message parses back to the same header lines and body.
 */
export function checkBytes(data: Buffer): void {
  let m: SipRequest | SipResponse;
  try {
    m = parseMessage(data);
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
    expect([400, 501, 505, 513]).toContain(e.status);
    const res = responseForParseError(e); // must not throw
    if (res !== undefined) expect(e.isRequest).toBe(true);
    return;
  }
  onlyParseErrors('via', () => m.via);
  onlyParseErrors('topVia', () => m.topVia);
  onlyParseErrors('cseq', () => m.cseq);
  onlyParseErrors('from', () => m.from);
  onlyParseErrors('to', () => m.to);
  onlyParseErrors('callId', () => m.callId);
  onlyParseErrors('maxForwards', () => m.maxForwards);
  onlyParseErrors('contacts', () => m.contacts);
  void m.contentLength;
  void m.contentType;
  // The params Maps (built on first access) agree with the fields read while parsing.
  const viaList = onlyParseErrors('via', () => m.via) ?? [];
  for (const v of viaList) {
    expect(v.branch).toBe(v.params.get('branch') ?? undefined);
    expect(v.received).toBe(v.params.get('received') ?? undefined);
    expect(v.params.has('rport')).toBe(v.rport !== undefined);
  }
  const naList = [onlyParseErrors('from', () => m.from), onlyParseErrors('to', () => m.to), ...(onlyParseErrors('contacts', () => m.contacts) ?? [])];
  for (const na of naList) if (na !== undefined) expect(na.tag).toBe(na.params.get('tag') ?? undefined);
  // Views the parser primed (values read in place, lists split while parsing) equal the ones a
  // copy of the headers computes lazily (splitList, then parseVia / parseContact / parseNameAddr).
  const copy = new SipResponse({ status: 200, headers: new SipHeaders(m.headers) });
  const viaFields = (v: Via): unknown[] => [v.protocol, v.transport, v.host, v.port, v.sentBy, v.branch, v.received, v.rport, [...v.params]];
  const naFields = (n: Contact): unknown[] => [n.displayName, n.uri, n.tag, n.star, n.expires, n.q, [...n.params]];
  for (const [what, primed, lazy] of [
    ['via', () => m.via.map(viaFields), () => copy.via.map(viaFields)],
    ['contacts', () => m.contacts.map(naFields), () => copy.contacts.map(naFields)],
    ['from', () => naFields(m.from), () => naFields(copy.from)],
    ['to', () => naFields(m.to), () => naFields(copy.to)],
    ['cseq', () => m.cseq, () => copy.cseq],
    ['callId', () => m.callId, () => copy.callId],
    ['maxForwards', () => m.maxForwards, () => copy.maxForwards],
  ] as const) {
    const a = onlyParseErrors(what, primed as () => unknown);
    const b = onlyParseErrors(what, lazy as () => unknown);
    expect(b, `${what}: lazily computed view`).toEqual(a);
  }
  onlyParseErrors('from uri', () => parseUri(m.from.uri));
  onlyParseErrors('to uri', () => parseUri(m.to.uri));
  onlyParseErrors('contact uris', () => m.contacts.map((c) => (c.star ? undefined : parseUri(c.uri))));
  if (m.isRequest()) {
    const r = m;
    onlyParseErrors('requestUri', () => r.requestUri);
    const err = validateRequest(r);
    if (err !== undefined) expect(err).toBeInstanceOf(SipParseError);
  }
  const out = m.toBuffer();
  // toBuffer's shortcuts (copying received bytes) write what the line-by-line serialiser writes
  // for a copy of the message (the same except for non-ASCII bytes, which the copies keep as
  // received while the serialiser re-encodes what was decoded).
  if (!out.some((byte) => byte >= 0x80)) {
    const slow = m.isRequest()
      ? new SipRequest({ method: m.method, uri: m.uri, headers: m.headers.clone(), body: m.body })
      : new SipResponse({ status: m.status, reason: m.reason, headers: m.headers.clone(), body: m.body });
    expect(out.toString('latin1')).toBe(slow.toBuffer().toString('latin1'));
  }
  const again = parseMessage(out);
  expect(linesWithoutLength(again)).toEqual(linesWithoutLength(m));
  expect(again.body.equals(m.body)).toBe(true);
  expect(again.toBuffer().equals(out)).toBe(true);
}

export function checkMutations(numRuns: number): void {
  fc.assert(fc.property(mutated, checkBytes), { numRuns });
  fc.assert(fc.property(truncated, checkBytes), { numRuns: Math.max(50, numRuns >> 2) });
}

// ---------------------------------------------------------------------------------------------
// Stream framing

/** Messages a stream may carry: Content-Length present and right, one message each. */
export const STREAM_CORPUS: Buffer[] = [
  ...Object.values(TYPICAL).map((t) => Buffer.from(t)),
  ...allTorture()
    .filter(([dir, name]) => dir === 'valid' && name !== 'dblreq.dat')
    .map(([, , data]) => data),
];

interface FramerRun {
  frames: string[];
  events: (boolean | 'frame')[];
}

function runFramer(chunks: Buffer[]): FramerRun {
  const framer = new StreamFramer();
  const run: FramerRun = { frames: [], events: [] };
  const sink = {
    onFrame(d: Buffer) {
      run.frames.push(d.toString('latin1'));
      run.events.push('frame' as const);
    },
    onKeepAlive(ping: boolean) {
      run.events.push(ping);
    },
  };
  for (const c of chunks) framer.push(c, sink);
  expect(framer.buffered).toBe(0);
  return run;
}

export const stream = fc
  .record({
    items: fc.array(fc.tuple(fc.nat(STREAM_CORPUS.length - 1), fc.constantFrom('', '', '\r\n', '\r\n\r\n')), { minLength: 1, maxLength: 6 }),
    cuts: fc.array(fc.nat(), { maxLength: 12 }),
  })
  .map(({ items, cuts }) => {
    const messages = items.map(([i]) => STREAM_CORPUS[i]!);
    const data = Buffer.concat(items.flatMap(([i, ka]) => [Buffer.from(ka), STREAM_CORPUS[i]!]));
    const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let last = 0;
    for (const p of [...points, data.length]) {
      chunks.push(data.subarray(last, p));
      last = p;
    }
    return { messages, data, chunks };
  });

export function checkFramerChunking(numRuns: number): void {
  fc.assert(
    fc.property(stream, ({ messages, data, chunks }) => {
      const whole = runFramer([data]);
      expect(whole.frames).toEqual(messages.map((m) => m.toString('latin1')));
      const split = runFramer(chunks);
      expect(split).toEqual(whole);
    }),
    { numRuns },
  );
}
