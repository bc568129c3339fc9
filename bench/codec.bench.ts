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
import { parseMessage } from '../src/message/index.js';
import { CORPUS, EXTRA } from './codec-corpus.js';
import { sip, touchOurs, touchSip } from './codec-touch.js';

const MS = Number(process.env.BENCH_MS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 25);


let sink = 0;


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
  sink += touchOurs(ours) + touchSip(theirs);
  const out = ours.toBuffer();
  if (!out.equals(buf)) throw new Error(`${name}: our serialisation of an untouched message differs from the input`);

  const parse = rates(
    () => {
      sink += touchOurs(parseMessage(buf));
    },
    () => {
      sink += touchSip(sip.parse(buf)!);
    },
  );
  const both = rates(
    () => {
      const m = parseMessage(buf);
      sink += touchOurs(m);
      sink += m.toBuffer().length;
    },
    () => {
      const m = sip.parse(buf)!;
      sink += touchSip(m);
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
