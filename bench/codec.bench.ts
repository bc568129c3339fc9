/**
 * Codec benchmark: `npm run bench:codec` (node --import ./bench/register.mjs bench/codec.bench.ts).
 *
 * Parses a typical ~850-byte INVITE with SDP and a small OPTIONS, touching what a server reads
 * (every Via, CSeq, From/To tags, Call-ID), and serialises them; the `sip` npm package does the same
 * (sip.parse + sip.stringify) in the same process. Prints messages per second and the ratios.
 * Env: BENCH_MS (length of one round, default 40), BENCH_ROUNDS (default 60; rounds of the two
 * parsers alternate and the best round of each is kept, which is robust to other load on the machine).
 */
import { createRequire } from 'node:module';
import { parseMessage, type SipMessage } from '../src/message/index.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sip = require('sip') as { parse(s: string | Buffer): SipObject | undefined; stringify(m: SipObject): string };

interface SipObject {
  headers: {
    via: { params: Record<string, string | null> }[];
    cseq: { seq: number; method: string };
    from: { params: Record<string, string | null> };
    to: { params: Record<string, string | null> };
    'call-id': string;
  };
}

const SDP = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.0.2.101',
  's=Session SDP',
  'c=IN IP4 192.0.2.101',
  't=0 0',
  'm=audio 49172 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=sendrecv',
  '',
].join('\r\n');

const INVITE = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport',
  'Via: SIP/2.0/UDP bigbox3.site3.atlanta.example.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>',
  'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY',
  'Supported: replaces, timer',
  'Content-Type: application/sdp',
  `Content-Length: ${Buffer.byteLength(SDP)}`,
  '',
  SDP,
].join('\r\n');

const OPTIONS = [
  'OPTIONS sip:carol@chicago.example.com SIP/2.0',
  'Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877',
  'Max-Forwards: 70',
  'To: <sip:carol@chicago.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710',
  'CSeq: 63104 OPTIONS',
  'Accept: application/sdp',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

const MS = Number(process.env.BENCH_MS ?? 40);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 60);

let sink = 0;

/** Operations per second of fn over about MS milliseconds. */
function round(fn: () => void): number {
  let n = 0;
  const t0 = process.hrtime.bigint();
  const until = t0 + BigInt(Math.round(MS * 1e6));
  let now = t0;
  while (now < until) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - t0) / 1e9);
}

/**
 * Rates of a and b: ROUNDS short rounds each, interleaved (a, b, a, b...), best round kept, so
 * that both see the same machine (other processes come and go) and JIT warm-up is excluded.
 */
function rates(a: () => void, b: () => void): [number, number] {
  for (let i = 0; i < 20_000; i++) a();
  for (let i = 0; i < 20_000; i++) b();
  let ra = 0;
  let rb = 0;
  for (let r = 0; r < ROUNDS; r++) {
    ra = Math.max(ra, round(a));
    rb = Math.max(rb, round(b));
  }
  return [ra, rb];
}

/** What a server reads from every message. */
function touchOurs(m: SipMessage): void {
  const vias = m.via;
  sink += vias.length + (vias[0]!.branch?.length ?? 0);
  sink += m.cseq.seq + m.cseq.method.length;
  sink += (m.from.tag?.length ?? 0) + (m.to.tag?.length ?? 0);
  sink += m.callId.length;
}

function touchSip(m: SipObject): void {
  const vias = m.headers.via;
  sink += vias.length + (vias[0]!.params.branch?.length ?? 0);
  sink += m.headers.cseq.seq + m.headers.cseq.method.length;
  sink += (m.headers.from.params.tag?.length ?? 0) + (m.headers.to.params.tag?.length ?? 0);
  sink += m.headers['call-id'].length;
}

interface Row {
  name: string;
  bytes: number;
  oursParse: number;
  sipParse: number;
  oursBoth: number;
  sipBoth: number;
}

function measure(name: string, text: string): Row {
  // Both parsers get what a socket gives: a Buffer.
  const buf = Buffer.from(text, 'latin1');

  // Sanity: both parse the message and see the same values.
  const ours = parseMessage(buf);
  const theirs = sip.parse(buf)!;
  if (ours.cseq.seq !== theirs.headers.cseq.seq || ours.via.length !== theirs.headers.via.length || ours.callId !== theirs.headers['call-id']) {
    throw new Error(`${name}: the parsers disagree`);
  }
  if (!parseMessage(ours.toBuffer()).toBuffer().equals(ours.toBuffer())) throw new Error(`${name}: our round trip is unstable`);

  const [oursParse, sipParse] = rates(
    () => touchOurs(parseMessage(buf)),
    () => touchSip(sip.parse(buf)!),
  );
  const [oursBoth, sipBoth] = rates(
    () => {
      const m = parseMessage(buf);
      touchOurs(m);
      sink += m.toBuffer().length;
    },
    () => {
      const m = sip.parse(buf)!;
      touchSip(m);
      // What a transport has to do with the string: turn it into bytes.
      sink += Buffer.byteLength(sip.stringify(m), 'latin1');
    },
  );
  return { name, bytes: buf.length, oursParse, sipParse, oursBoth, sipBoth };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(11);
const ratio = (a: number, b: number): string => (a / b).toFixed(2).padStart(6) + 'x';

console.log(`node ${process.version}; messages per second, best of ${ROUNDS} interleaved rounds of ${MS} ms per figure`);
const rows = [measure('INVITE+SDP', INVITE), measure('OPTIONS', OPTIONS)];
console.log('');
console.log('message        bytes | parse: nestjs-sip         sip  ratio | parse+serialise: nestjs-sip         sip  ratio');
for (const r of rows) {
  console.log(
    `${r.name.padEnd(12)} ${String(r.bytes).padStart(6)} | ${fmt(r.oursParse)} ${fmt(r.sipParse)} ${ratio(r.oursParse, r.sipParse)} |                  ${fmt(r.oursBoth)} ${fmt(r.sipBoth)} ${ratio(r.oursBoth, r.sipBoth)}`,
  );
}
const worst = Math.min(...rows.map((r) => Math.min(r.oursParse / r.sipParse, r.oursBoth / r.sipBoth)));
console.log('');
console.log(`lowest ratio ${worst.toFixed(2)}x (target >= 3x) ${worst >= 3 ? 'OK' : 'MISSED'}${sink === 0 ? '' : ''}`);
