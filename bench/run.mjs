#!/usr/bin/env node
// `npm run bench`: OPTIONS answered by three servers, side by side, with sipp as the load.
//
//   (a) nest   bench/apps/nest-sip-server.mjs  a Nest microservice on SipServer (dist/), one @MessagePattern('OPTIONS') -> 200
//   (b) bare   bench/apps/bare-dgram.mjs / bare-net.mjs  node:dgram / node:net copying Via/From/To/Call-ID/CSeq (Node's ceiling)
//   (c) sip    bench/apps/sip-package.mjs  the `sip` npm package
//
// Scenarios (sipp as UAC, closed loop: -l concurrent calls, a fixed number of calls -m, -r high):
//   udp    -t u1  bench/scenarios/options-uac.xml       one OPTIONS per call, one UDP socket
//   tcp1   -t t1  bench/scenarios/options-uac.xml       one OPTIONS per call, all on one TCP connection
//   tcpn   -t tn  bench/scenarios/options-uac-conn.xml  one TCP connection per call, BENCH_TN_PER_CONN OPTIONS
//                                                      per connection, BENCH_TN_CONCURRENCY connections open at once
//
// Every server runs in its own child process, fresh for every measured run, warmed up first, and
// reports over IPC its own CPU time (process.cpuUsage) and peak RSS (sampled every 100 ms) for the
// measured window only (bench/apps/harness.mjs).
//
// Columns:
//   req/s        requests answered / wall time of the sipp run (spawn to exit), probe requests included
//   CPU us/req   server process CPU (user+system) in the window / requests
//   GC us/req    main-thread GC pauses in the window / requests (perf_hooks 'gc' entries)
//   p50/p99      response time seen by a light probe client (this process: one OPTIONS every
//                BENCH_PROBE_MS ms, same transport, timed with hrtime) while sipp runs (in the open
//                loop, in a window of its own after the CPU windows, which run without it); sipp's own
//                response times (rtd, -trace_rtt) are printed too, but sipp's clock ticks every 4 ms
//                here (CLOCK_MONOTONIC_COARSE), so they only show the closed-loop queueing (~ -l / rate)
//   RSS          peak resident set of the server process during the window
//   conns        most TCP connections the server held at once (sampled every 100 ms)
//   fail/retr    sipp's failed calls and retransmissions (totals over all runs)
// Each figure is the median over BENCH_RUNS runs, taken in rounds in the closed loop (see closedLoop);
// in the open loop (b) and (a) are measured in turns, window by window (BENCH_OPEN_PAIRS). Ratios: (a)/(b) and (a)/(c).
//
// Environment (all optional):
//   BENCH_REQUESTS=50000        requests per measured run, udp and tcp1
//   BENCH_CONCURRENCY=200       sipp -l for udp and tcp1
//   BENCH_OPEN_RATE=8000        the open-loop part's fixed rate (sipp -r, -l 20000); 0 skips that part
//   BENCH_OPEN_SERVERS=bare,pool,txn,nestnm,nest,sip  its servers: the layer breakdown of (a) (nestnm: metrics off) beside (b) and (c)
//   BENCH_OPEN_SCENARIOS=udp,tcp1              its scenarios
//   BENCH_TN_CONCURRENCY=1000   sipp -l for tcpn (= connections open at once)
//   BENCH_TN_PER_CONN=10        OPTIONS per connection in tcpn
//   BENCH_TN_REQUESTS=50000     requests per measured run in tcpn (calls = this / PER_CONN)
//   BENCH_WARMUP=40000          requests sent to every fresh server before measuring (0 = none): V8 has
//                               compiled the hot path by then (before, its compiler threads add ~10 us/req)
//   BENCH_WARMUP_UDP=250000     the same for the closed-loop udp scenario: past the 200,000 completed
//                               transactions a UDP server keeps at most (maxCompleted; at full load it
//                               reaches them within seconds, long before Timer J), so the window sees the
//                               steady state, where their memory is reused, not the table filling with
//                               fresh pages (~4-5 us/req more here)
//   BENCH_OPEN_WARMUP_S=34      the open-loop part's warm-up, seconds at BENCH_OPEN_RATE: past Timer J (64*T1 = 32 s),
//                               so a UDP server's completed transactions are at their steady number and it
//                               reuses their memory (while that table grows, fresh pages cost ~2-4 us/req here);
//                               each open-loop cell is one server, measured BENCH_RUNS times in a row,
//                               but for (a) and (b), measured in turns (see BENCH_OPEN_PAIRS)
//   BENCH_OPEN_PAIRS=5          the open loop's (b) and (a) are alive at once and measured in turns, window
//                               by window ((b), (a), (b), (a)...), this many windows each: their ratio, the
//                               median of the per-pair ratios, compares windows seconds apart, so a slow
//                               period of the machine (a minute or more) falls on both of a pair
//   BENCH_OPEN_REWARM_S=2       seconds at the open rate sent to a server before each of its paired windows
//                               (it sat idle through the other's window)
//   BENCH_RUNS=3                measured runs per server and scenario (median reported)
//   BENCH_SERVERS=nest,bare,sip which servers
//   BENCH_SCENARIOS=udp,tcp1,tcpn which scenarios
//   BENCH_PROBE_MS=2            probe period in ms (0 = no probe)
//   BENCH_PIN=1                 sipp, the probe and this process run on CPU 0 (taskset; 0 = let the
//                               scheduler place everything); in the closed loop each server (every
//                               thread) runs on CPU 1, in the open loop on any CPU. Unpinned, the
//                               scheduler often wakes sipp on the server's core (the server's send wakes
//                               it there): the server is preempted 400-900 times a second (60-350
//                               with sipp pinned) and its CPU per request is noisier. Even so, a busy
//                               server's CPU per request still flips between two modes up to 2x apart,
//                               from run to run and window to window (README, Benchmarks). The open loop
//                               leaves the server free: pinned to one core with its V8 threads, (a) cost
//                               about twice as much per request (UDP 37 -> 68 us), bare Node the same
//   BENCH_UDP_RCVBUF=4194304    SO_RCVBUF set on every server's UDP socket (0 = Node's default) and sipp -buff_size
//   BENCH_PROFILE=0             1: instead of measuring (the proxy part: see BENCH_PROXY_PROFILE), run (a) (or BENCH_SERVERS when set) once per scenario with
//                               the V8 CPU profiler (the profile `node --cpu-prof` writes, 100 us sampling) on
//                               for the measured window only, and print where the time goes (self time by area
//                               and function, bench/cpuprofile-top.mjs); profiles in bench/profiles/<server>-<scenario>.cpuprofile
//   BENCH_NO_RESULTS=0          1: do not write bench/RESULTS.md
//   BENCH_PARTS=options,live,proxy,scale,codec,layers  which parts: `options` (all of the above), `live` (memory and CPU per request
//                               with 1k, 10k and 100k live transactions, bench/live-transactions.mjs), `proxy`, whole
//                               calls through our stateful proxy beside Kamailio (bench/proxy-calls.mjs), `scale`,
//                               1, 2 and 4 example instances behind the deploy kit's Kamailio (bench/scale-part.mjs),
//                               `codec`, the codec corpus beside the `sip` package (bench/codec-part.mjs), and `layers`,
//                               each layer of (a) in-process without sockets (bench/layers-part.mjs); each
//                               of the other parts writes its own section of bench/RESULTS.md (BENCH_LIVE_* /
//                               BENCH_PROXY_* / BENCH_SCALE_* settings are described in their files, the codec's in bench/codec.bench.ts)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeProfile } from './cpuprofile-top.mjs';
import { forkServer } from './server-child.mjs';
import { liveConfig, runLiveTransactions } from './live-transactions.mjs';
import { proxyConfig, runProxyCalls } from './proxy-calls.mjs';
import { runScaleOut } from './scale-part.mjs';
import { runCodec } from './codec-part.mjs';
import { runLayers } from './layers-part.mjs';
import { codeVersion } from './results-section.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const env = (name, def) => {
  const v = process.env[name];
  return v === undefined || v === '' ? def : v;
};
const num = (name, def) => {
  const v = Number(env(name, def));
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a number >= 0`);
  return v;
};
const CFG = {
  requests: num('BENCH_REQUESTS', 50000),
  concurrency: num('BENCH_CONCURRENCY', 200),
  // The open-loop part: every server at this many requests/s (sipp -r, no concurrency cap), so CPU
  // per request is compared at one load instead of each server at its own closed-loop maximum.
  openRate: num('BENCH_OPEN_RATE', 8000),
  openServers: env('BENCH_OPEN_SERVERS', 'bare,pool,txn,nestnm,nest,sip').split(',').map((s) => s.trim()).filter(Boolean),
  openScenarios: env('BENCH_OPEN_SCENARIOS', 'udp,tcp1').split(',').map((s) => s.trim()).filter(Boolean),
  tnConcurrency: num('BENCH_TN_CONCURRENCY', 1000),
  tnPerConn: Math.max(1, num('BENCH_TN_PER_CONN', 10)),
  tnRequests: num('BENCH_TN_REQUESTS', 50000),
  warmup: num('BENCH_WARMUP', 40000),
  warmupUdp: num('BENCH_WARMUP_UDP', 250000),
  openWarmupS: num('BENCH_OPEN_WARMUP_S', 34),
  openPairs: Math.max(1, num('BENCH_OPEN_PAIRS', 5)),
  openRewarmS: num('BENCH_OPEN_REWARM_S', 2),
  runs: Math.max(1, num('BENCH_RUNS', 3)),
  servers: env('BENCH_SERVERS', 'nest,bare,sip').split(',').map((s) => s.trim()).filter(Boolean),
  scenarios: env('BENCH_SCENARIOS', 'udp,tcp1,tcpn').split(',').map((s) => s.trim()).filter(Boolean),
  probeMs: num('BENCH_PROBE_MS', 2),
  pin: env('BENCH_PIN', '1') === '1' && os.cpus().length >= 2 && hasTaskset(),
  rcvbuf: num('BENCH_UDP_RCVBUF', 4194304),
  profile: env('BENCH_PROFILE', '0') === '1',
  noResults: env('BENCH_NO_RESULTS', '0') === '1',
  parts: env('BENCH_PARTS', 'options,live,proxy,scale,codec,layers').split(',').map((s) => s.trim()).filter(Boolean),
};
const PARTS = ['options', 'live', 'proxy', 'scale', 'codec', 'layers'];
for (const p of CFG.parts) if (!PARTS.includes(p)) throw new Error(`BENCH_PARTS: unknown part ${p} (${PARTS.join(', ')})`);

const SERVERS = {
  nest: { label: '(a) nest SipServer', app: () => 'nest-sip-server.mjs' },
  // (a) without metrics: what counting requests, responses and latency costs (issue 18).
  nestnm: { label: '(a0) nest SipServer, metrics off', app: () => 'nest-sip-server.mjs', env: { BENCH_METRICS: '0' } },
  bare: { label: '(b) bare node', app: (proto) => (proto === 'udp' ? 'bare-dgram.mjs' : 'bare-net.mjs') },
  sip: { label: '(c) sip package', app: () => 'sip-package.mjs' },
  // The layer breakdown of (a): what each layer under Nest costs on its own.
  pool: { label: '(a1) pool + codec', app: () => 'pool-only.mjs' },
  txn: { label: '(a2) pool + transactions', app: () => 'pool-transactions.mjs' },
};
const SCENARIOS = {
  udp: { label: 'OPTIONS UDP', proto: 'udp', sipp: 'u1', file: 'options-uac.xml' },
  tcp1: { label: 'OPTIONS TCP, 1 connection', proto: 'tcp', sipp: 't1', file: 'options-uac.xml' },
  tcpn: { label: 'OPTIONS TCP, many connections', proto: 'tcp', sipp: 'tn', file: 'options-uac-conn.xml' },
};
for (const s of [...CFG.servers, ...CFG.openServers]) if (!SERVERS[s]) throw new Error(`unknown server ${s} (nest, nestnm, bare, sip, pool, txn)`);
for (const s of [...CFG.scenarios, ...CFG.openScenarios]) if (!SCENARIOS[s]) throw new Error(`unknown scenario ${s} (udp, tcp1, tcpn)`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(...a);

// --- build -------------------------------------------------------------------------------------

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuilt() {
  const out = join(ROOT, 'dist', 'index.js');
  const stale = !existsSync(out) || statSync(out).mtimeMs < newestMtime(join(ROOT, 'src')) || newestMtime(join(ROOT, 'dist')) < newestMtime(join(ROOT, 'src'));
  if (!stale) return;
  log('dist/ missing or older than src/: npm run build');
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

// --- machine -----------------------------------------------------------------------------------

function machine() {
  const cpus = os.cpus();
  let sipp = '?';
  try {
    sipp = execFileSync('sipp', ['-v'], { encoding: 'utf8' }).match(/SIPp v[^\s,]+/)?.[0] ?? '?';
  } catch (e) {
    sipp = (String(e.stdout ?? '') + String(e.stderr ?? '')).match(/SIPp v[^\s,]+/)?.[0] ?? '?';
  }
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return '?';
    }
  };
  let nofile = '?';
  try {
    nofile = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  } catch {}
  return {
    git: codeVersion(['src']),
    cpu: cpus[0]?.model ?? '?',
    cores: cpus.length,
    mem: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    sipp,
    nest: pkg('@nestjs/microservices'),
    sipPkg: pkg('sip'),
    nofile,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

// --- ports -------------------------------------------------------------------------------------

/**
 * A port free for TCP and UDP below the ephemeral range (32768+ here), so that sipp's and the
 * servers' own outgoing sockets (thousands in tcpn, some in TIME_WAIT) never hold it.
 */
async function freePort() {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const tcp = await new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (!tcp) continue;
    const udp = await new Promise((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udp) return port;
  }
}

// --- server child ------------------------------------------------------------------------------

function startServer(name, proto, port, profileFile) {
  const app = join(BENCH, 'apps', SERVERS[name].app(proto));
  const env = { ...process.env, BENCH_PROTO: proto, BENCH_PORT: String(port), BENCH_HOST: '127.0.0.1', BENCH_UDP_RCVBUF: String(CFG.rcvbuf), ...SERVERS[name].env };
  delete env.BENCH_CPU_PROFILE;
  if (profileFile) env.BENCH_CPU_PROFILE = profileFile;
  const srv = forkServer(app, env, name, ROOT);
  if (pinned) pin(srv.child.pid, serverCpus, true);
  return srv;
}

// --- CPU pinning (BENCH_PIN) ------------------------------------------------------------------

function hasTaskset() {
  return spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
}
/** Set the CPU affinity of `pid` (`all`: every thread of it). */
function pin(pid, cpus, all = false) {
  execFileSync('taskset', [...(all ? ['-a'] : []), '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}
let pinned = false;
/** Where startServer puts each server (every thread of it) while pinned. */
let serverCpus = '1';
/**
 * This process (and so sipp and the probe) on CPU 0; the servers on `servers`: CPU 1 in the closed
 * loop, every CPU in the open loop (where sipp alone is kept off the server's core).
 */
function pinOn(servers) {
  if (!CFG.pin) return;
  pin(process.pid, '0', true);
  serverCpus = servers;
  pinned = true;
}
function pinOff() {
  if (!pinned) return;
  pin(process.pid, `0-${os.cpus().length - 1}`, true);
  pinned = false;
}

// --- sipp --------------------------------------------------------------------------------------

function scenarioFile(sc, dir) {
  const file = join(BENCH, 'scenarios', sc.file);
  if (sc.sipp !== 'tn') return file;
  // the loop count of options-uac-conn.xml
  const xml = readFileSync(file, 'utf8').replace(/(compare="less_than" value=")\d+(")/, `$1${CFG.tnPerConn}$2`);
  const out = join(dir, sc.file);
  writeFileSync(out, xml);
  return out;
}

// Every tn connection leaves a TIME_WAIT socket for 60 s, and sipp binds before connecting, so its
// local ports must be unique system-wide: rotate sipp's source address over 127.0.0.2..127.0.0.250
// (all loopback) so that consecutive runs never exhaust the ephemeral range (EADDRNOTAVAIL).
let tnSource = 1;
function sippSource(sc) {
  if (sc.sipp !== 'tn') return '127.0.0.1';
  tnSource = tnSource >= 250 ? 2 : tnSource + 1;
  return `127.0.0.${tnSource}`;
}

function runSipp(sc, port, requests, dir, rate = 0) {
  const perCall = sc.sipp === 'tn' ? CFG.tnPerConn : 1;
  const calls = Math.max(1, Math.round(requests / perCall));
  const limit = sc.sipp === 'tn' ? CFG.tnConcurrency : CFG.concurrency;
  const args = [
    `127.0.0.1:${port}`,
    '-sf', scenarioFile(sc, dir),
    '-t', sc.sipp,
    '-i', sippSource(sc),
    '-m', String(calls),
    '-l', String(rate > 0 ? Math.max(limit, 20000) : limit),
    '-r', String(rate > 0 ? rate : 1000000),
    '-nostdin',
    '-trace_stat', '-stf', join(dir, 'stats.csv'), '-fd', '1',
    '-trace_rtt', '-rtt_freq', '1000',
    '-trace_err', '-error_file', join(dir, 'errors.log'),
    '-max_socket', String(Math.max(4096, limit * 2 + 100)),
  ];
  if (CFG.rcvbuf > 0) args.push('-buff_size', String(CFG.rcvbuf));
  const t0 = process.hrtime.bigint();
  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return {
    child,
    done: new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
        resolve({ code, wallMs, stderr, calls, perCall, ...readSippStats(dir) });
      });
    }),
  };
}

function readSippStats(dir) {
  const out = { successful: 0, failed: 0, retrans: 0, rtt: [] };
  const f = join(dir, 'stats.csv');
  if (existsSync(f)) {
    const lines = readFileSync(f, 'utf8').trim().split('\n');
    const head = lines[0].split(';');
    const last = lines[lines.length - 1].split(';');
    const col = (n) => Number(last[head.indexOf(n)]);
    out.successful = col('SuccessfulCall(C)');
    out.failed = col('FailedCall(C)');
    out.retrans = col('Retransmissions(C)');
  }
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('_rtt.csv')) continue;
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n').slice(1)) {
      const v = Number(line.split(';')[1]);
      if (line && Number.isFinite(v)) out.rtt.push(v);
    }
  }
  return out;
}

// --- probe -------------------------------------------------------------------------------------

function probeRequest(proto, localPort, id) {
  return (
    `OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\n` +
    `Via: SIP/2.0/${proto.toUpperCase()} 127.0.0.1:${localPort};branch=z9hG4bKprobe${id};rport\r\n` +
    `From: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <sip:bench@127.0.0.1>\r\nCall-ID: probe-${id}\r\n` +
    `CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`
  );
}

/** A light client timing one OPTIONS every `everyMs` ms with hrtime, on its own socket / connection. */
async function startProbe(proto, port, everyMs) {
  const sent = new Map();
  const rtt = [];
  let id = 0;
  let sentCount = 0;
  const onResponse = (text) => {
    const m = /\r\nCall-ID:\s*probe-(\d+)/i.exec(text);
    if (!m) return;
    const t = sent.get(m[1]);
    if (t === undefined) return;
    sent.delete(m[1]);
    rtt.push(Number(process.hrtime.bigint() - t) / 1000);
  };
  let send;
  let close;
  if (proto === 'udp') {
    const sock = dgram.createSocket('udp4');
    await new Promise((r) => sock.bind(0, '127.0.0.1', r));
    const lp = sock.address().port;
    sock.on('message', (b) => onResponse(b.latin1Slice(0, b.length)));
    send = (text) => sock.send(text, port, '127.0.0.1');
    close = () => new Promise((r) => sock.close(r));
    send.localPort = lp;
  } else {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r, j) => sock.once('connect', r).once('error', j));
    sock.setNoDelay(true);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.latin1Slice(0, d.length);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const cl = /\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(buf.slice(0, end + 2));
        const total = end + 4 + (cl ? Number(cl[1]) : 0);
        if (buf.length < total) return;
        onResponse(buf.slice(0, total));
        buf = buf.slice(total);
      }
    });
    sock.on('error', () => {});
    send = (text) => sock.write(text);
    close = () => new Promise((r) => sock.end(r));
    send.localPort = sock.localPort;
  }
  const timer = setInterval(() => {
    const k = String(++id);
    sent.set(k, process.hrtime.bigint());
    sentCount++;
    send(probeRequest(proto, send.localPort, k));
  }, everyMs);
  return async () => {
    clearInterval(timer);
    await sleep(300); // late answers
    await close();
    return { rtt, sent: sentCount, lost: sent.size };
  };
}

// --- one measured run ----------------------------------------------------------------------------

const pct = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(serverName, scName, { profileFile, rate = 0 } = {}) {
  const s = await openServer(serverName, scName, profileFile);
  try {
    await s.warm(SCENARIOS[scName].proto === 'udp' ? CFG.warmupUdp : CFG.warmup, rate);
    return await s.window(rate);
  } finally {
    await s.close();
  }
}

/**
 * The open-loop part: the servers `names` alive at once, each warmed up at the open rate for
 * BENCH_OPEN_WARMUP_S (by default past Timer J, so that a UDP server's table of completed
 * transactions is at its steady size and its memory is reused, as under any steady load), then
 * `windows` windows each, in turns (server 1, server 2, server 1...), each after `rewarmS` seconds
 * at the rate when there are several (a server sat idle through the others' windows), then one
 * latency window each. One server: its windows in a row.
 */
async function measureOpen(names, scName, windows, rewarmS, onWindow) {
  const servers = [];
  try {
    for (const name of names) servers.push(await openServer(name, scName));
    for (const s of servers) await s.warm(Math.round(CFG.openWarmupS * CFG.openRate), CFG.openRate);
    const runs = names.map(() => []);
    for (let k = 0; k < windows; k++) {
      for (let j = 0; j < servers.length; j++) {
        if (servers.length > 1) await servers[j].warm(Math.round(rewarmS * CFG.openRate), CFG.openRate);
        const r = await servers[j].window(CFG.openRate, false);
        onWindow(names[j], r, k);
        runs[j].push(r);
      }
    }
    // Latency from a window of its own: the probe's second socket costs the server more than its
    // 500 requests/s (more wake-ups; (a) ~15% more CPU per request, and more slow windows), so the
    // CPU windows above run without it.
    const latency = [];
    for (let j = 0; j < servers.length; j++) {
      const l = CFG.probeMs > 0 ? await servers[j].window(CFG.openRate, true) : undefined;
      if (l) onWindow(names[j], l, 'latency');
      latency.push(l);
    }
    return { runs, latency };
  } finally {
    for (const s of servers) await s.close();
  }
}

/** A fresh server for `serverName` on a free port, with `warm` (requests sent, not measured), `window` (one measured run) and `close`. */
async function openServer(serverName, scName, profileFile) {
  const sc = SCENARIOS[scName];
  const dir = mkdtempSync(join(os.tmpdir(), `bench-${serverName}-${scName}-`));
  let port;
  let srv;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    srv = startServer(serverName, sc.proto, port, profileFile);
    try {
      await srv.ready;
      break;
    } catch (err) {
      await srv.stop();
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw err; // e.g. EADDRINUSE: the port was taken between the check and the bind
      }
    }
  }
  let windows = 0;
  return {
    async warm(requests, rate) {
      if (requests <= 0) return;
      const wdir = mkdtempSync(join(dir, 'warmup-'));
      const w = await runSipp(sc, port, requests, wdir, rate).done;
      if (w.successful === 0) throw new Error(`${serverName}/${scName}: warm-up answered nothing (sipp exit ${w.code}): ${w.stderr.slice(0, 500)}`);
      rmSync(wdir, { recursive: true, force: true });
      await sleep(200);
    },
    window: (rate, probe = true) => {
      const wdir = mkdtempSync(join(dir, `run-${++windows}-`));
      return measureWindow(srv, sc, port, wdir, rate, probe);
    },
    async close() {
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function measureWindow(srv, sc, port, dir, rate, probeOn) {
  const requests = sc.sipp === 'tn' ? CFG.tnRequests : CFG.requests;
  await srv.call('mark', 'marked');
  const sipp = runSipp(sc, port, requests, dir, rate);
  let stopProbe;
  if (probeOn && CFG.probeMs > 0) stopProbe = await startProbe(sc.proto, port, CFG.probeMs);
  const s = await sipp.done;
  const probe = stopProbe ? await stopProbe() : { rtt: [], sent: 0, lost: 0 };
  const rep = await srv.call('report', 'report');
  const sippRequests = s.successful * s.perCall;
  const answered = sippRequests + probe.rtt.length;
  const rttSorted = probe.rtt.sort((a, b) => a - b);
  const sippRtt = s.rtt.sort((a, b) => a - b);
  return {
    requests: answered,
    rps: answered / (s.wallMs / 1000),
    cpuUsPerReq: (rep.cpuUserUs + rep.cpuSystemUs) / answered,
    cpuUser: rep.cpuUserUs,
    cpuSystem: rep.cpuSystemUs,
    p50: pct(rttSorted, 50),
    p99: pct(rttSorted, 99),
    sippP50: pct(sippRtt, 50),
    sippP99: pct(sippRtt, 99),
    rssMiB: rep.peakRss / 2 ** 20,
    gcUsPerReq: (rep.gcMs * 1000) / answered,
    gcCount: rep.gcCount,
    conns: rep.peakConns,
    failed: s.failed + (s.calls - s.successful - s.failed > 0 ? s.calls - s.successful - s.failed : 0),
    retrans: s.retrans,
    probeLost: probe.lost,
    sippExit: s.code,
    wallMs: s.wallMs,
    extra: rep.extra,
  };
}

// --- report ------------------------------------------------------------------------------------

const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const us = (x) => (Number.isFinite(x) ? (x >= 10000 ? `${(x / 1000).toFixed(1)} ms` : `${Math.round(x)} us`) : '-');

function aggregate(runs) {
  const m = (k) => median(runs.map((r) => r[k]));
  return {
    runs,
    rps: m('rps'),
    cpuUsPerReq: m('cpuUsPerReq'),
    gcUsPerReq: m('gcUsPerReq'),
    p50: m('p50'),
    p99: m('p99'),
    sippP50: m('sippP50'),
    sippP99: m('sippP99'),
    rssMiB: m('rssMiB'),
    conns: Math.max(...runs.map((r) => r.conns)),
    failed: runs.reduce((a, r) => a + r.failed, 0),
    retrans: runs.reduce((a, r) => a + r.retrans, 0),
    probeLost: runs.reduce((a, r) => a + r.probeLost, 0),
  };
}

function table(results, info, open) {
  const rows = [];
  rows.push(['scenario', 'server', 'req/s', 'CPU us/req', 'GC us/req', 'p50', 'p99', 'sipp p50/p99 ms', 'peak RSS MiB', 'conns', 'fail/retr']);
  for (const scName of CFG.scenarios) {
    for (const sv of CFG.servers) {
      const r = results[scName]?.[sv];
      if (!r) continue;
      rows.push([
        SCENARIOS[scName].label,
        SERVERS[sv].label,
        f0(r.rps),
        f1(r.cpuUsPerReq),
        f1(r.gcUsPerReq),
        us(r.p50),
        us(r.p99),
        `${f0(r.sippP50)} / ${f0(r.sippP99)}`,
        f1(r.rssMiB),
        SCENARIOS[scName].proto === 'udp' ? '-' : f0(r.conns),
        `${r.failed} / ${r.retrans}${r.probeLost ? ` (probe lost ${r.probeLost})` : ''}`,
      ]);
    }
  }
  const ratios = [['scenario', '(a)/(b) req/s', '(a)/(b) CPU/req', '(a)/(c) req/s', '(a)/(c) CPU/req']];
  for (const scName of CFG.scenarios) {
    const a = results[scName]?.nest;
    const b = results[scName]?.bare;
    const c = results[scName]?.sip;
    if (!a) continue;
    ratios.push([
      SCENARIOS[scName].label,
      b ? f2(a.rps / b.rps) : '-',
      b ? f2(a.cpuUsPerReq / b.cpuUsPerReq) : '-',
      c ? f2(a.rps / c.rps) : '-',
      c ? f2(a.cpuUsPerReq / c.cpuUsPerReq) : '-',
    ]);
  }
  const targets = [];
  const mark = (ok) => (ok ? 'met' : 'MISSED');
  for (const [scName, label] of [['udp', 'UDP'], ['tcp1', 'TCP 1 connection']]) {
    const a = results[scName]?.nest;
    const b = results[scName]?.bare;
    if (a && b) targets.push(`${label} req/s, closed loop, (a) >= 0.9 x (b): ${f2(a.rps / b.rps)} x -> ${mark(a.rps >= 0.9 * b.rps)}`);
    const oa = open?.[scName]?.nest;
    const ob = open?.[scName]?.bare;
    if (oa && ob) {
      const paired = oa.pairRatio !== undefined;
      const r = paired ? oa.pairRatio : oa.cpuUsPerReq / ob.cpuUsPerReq;
      const how = paired ? ` (median of ${oa.pairRatios.length} pairs of windows in turns: ${oa.pairRatios.map(f2).join(', ')})` : '';
      targets.push(`${label} CPU/req at ${f0(CFG.openRate)}/s, (a) <= 2 x (b) (goal 1.5 x): ${f2(r)} x${how} -> ${mark(r <= 2)}`);
    }
  }
  const openRows = [['scenario', 'server', 'CPU us/req', 'x (b)', 'over the layer below', 'GC us/req', 'p50', 'p99', 'CPU us/req, probe on', 'peak RSS MiB', 'fail/retr']];
  for (const scName of CFG.openScenarios) {
    const b = open?.[scName]?.bare;
    let below;
    for (const sv of CFG.openServers) {
      const r = open?.[scName]?.[sv];
      if (!r) continue;
      const layered = sv === 'pool' || sv === 'txn' || sv === 'nest';
      openRows.push([
        SCENARIOS[scName].label,
        SERVERS[sv].label,
        f1(r.cpuUsPerReq),
        r.pairRatio !== undefined ? f2(r.pairRatio) : b ? f2(r.cpuUsPerReq / b.cpuUsPerReq) : '-',
        layered && below !== undefined ? `+${f1(r.cpuUsPerReq - below)}` : '-',
        f1(r.gcUsPerReq),
        us(r.p50),
        us(r.p99),
        f1(r.latencyCpuUsPerReq),
        f1(r.rssMiB),
        `${r.failed} / ${r.retrans}`,
      ]);
      if (sv === 'bare' || layered) below = r.cpuUsPerReq;
    }
  }
  return { rows, ratios, targets, info, openRows: openRows.length > 1 ? openRows : undefined };
}

function asText(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r, j) => r.map((c, i) => (i >= 2 && j > 0 ? String(c).padStart(w[i]) : String(c).padEnd(w[i]))).join('  ')).join('\n');
}
function asMarkdown(rows) {
  const head = `| ${rows[0].join(' | ')} |`;
  const sep = `|${rows[0].map((_, i) => (i >= 2 ? '---:' : '---')).join('|')}|`;
  return [head, sep, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function config() {
  return (
    `${CFG.runs} measured run(s) per cell (median), taken in rounds (run k of every server, then run k + 1), each on a fresh server warmed up with ${CFG.warmupUdp} (udp) or ${CFG.warmup} (tcp) requests; ` +
    `udp/tcp1: ${CFG.requests} requests, sipp -l ${CFG.concurrency}; ` +
    `tcpn: ${CFG.tnRequests} requests, ${CFG.tnPerConn} per connection, sipp -l ${CFG.tnConcurrency}; ` +
    `probe every ${CFG.probeMs} ms; UDP SO_RCVBUF ${CFG.rcvbuf || 'default'}; ${CFG.pin ? 'sipp and the probe on CPU 0, servers on CPU 1 (closed loop) or any CPU (open loop)' : 'not pinned'}; open loop: ${CFG.openWarmupS} s warm-up at ${CFG.openRate}/s, then ${CFG.runs} windows on the same server without the probe and one with it (latency); (b) and (a) alive at once and measured in turns, ${CFG.openPairs} windows each, each after ${CFG.openRewarmS} s at the rate`
  );
}

function writeResults(t) {
  const i = t.info;
  const md = `# Benchmark results

Generated by \`npm run bench\` (bench/run.mjs) on ${i.date}. Do not edit by hand.

Machine: ${i.cpu}, ${i.cores} cores, ${i.mem}, ${i.os}; Node ${i.node}; ${i.sipp}; @nestjs/microservices ${i.nest}; sip ${i.sipPkg}; ulimit -n ${i.nofile}.

Code measured: ${i.git} (dist/ built from that working tree).

Load average (1/5/15 min) when the run started: ${i.load}; at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.
Anything else running on the machine (tests, builds) competes with sipp and the servers for the ${i.cores} cores
and shows in req/s and latency far more than in CPU us/req.

Settings: ${config()}.

${asMarkdown(t.rows)}

${asMarkdown(t.ratios)}

Open loop at ${f0(CFG.openRate)} requests/s: every server gets the same load, so CPU per request compares directly.
Each server is warmed up at that rate for ${CFG.openWarmupS} s first (past Timer J, 32 s: a UDP server's table of completed
transactions has its steady size), then measured ${CFG.runs} time(s) in a row (median) without the probe, then once more with
the probe for p50/p99 (its CPU per request is the "probe on" column: the probe's second socket adds wake-ups that cost
more than its own requests, so it stays out of the CPU windows). (b) and (a), whose ratio the targets are, are alive at
once and measured in turns instead, window by window ((b), (a), (b), (a)..., ${CFG.openPairs} windows each, each after ${CFG.openRewarmS} s
at the rate, as the server sat idle through the other's window): their "x (b)" is the median of the per-pair ratios,
each pair seconds apart, so that one of the machine's slow periods (a minute or more) falls on both servers of a pair.
(a1) and (a2) are the layers under (a) on their own: our socket pool and codec answering 200 by \`createResponse\`, then
the same with RFC 3261 server transactions; (a) adds SipServer's dispatch and the Nest pipeline.

${t.openRows ? asMarkdown(t.openRows) : '(not measured)'}

Targets for (a):

${t.targets.map((x) => `- ${x}`).join('\n')}

Columns: req/s = requests answered / wall time of the sipp run; CPU us/req = the server process's own CPU time
(user + system, \`process.cpuUsage()\`, every thread of the process) in the window / requests; GC us/req = main-thread
GC pauses (perf_hooks 'gc' entries) in the window / requests, wall time, part of the CPU figure; p50/p99 = response time of a light probe client
(one OPTIONS every ${CFG.probeMs} ms on its own socket or connection, hrtime) while sipp runs; sipp p50/p99 = sipp's
own response-time distribution (rtd), whose clock ticks every 4 ms on this machine, so it shows the closed-loop
queueing (about -l / rate) rather than the server's latency; peak RSS = the server's resident set (sampled every 100 ms);
conns = most TCP connections the server held at once; fail/retr = sipp's failed calls / retransmissions, summed over
all runs. The server and sipp share the machine's ${i.cores} cores.
`;
  // The other parts' sections (<!-- name: start ... --> ... <!-- name: end -->) are theirs: kept as they were.
  const kept = otherSections();
  writeFileSync(join(BENCH, 'RESULTS.md'), kept.length > 0 ? `${md}\n${kept.join('\n\n')}\n` : md);
}

/** The sections other parts wrote into bench/RESULTS.md, in their order there. */
function otherSections() {
  const f = join(BENCH, 'RESULTS.md');
  if (!existsSync(f)) return [];
  const text = readFileSync(f, 'utf8');
  const out = [];
  for (const m of text.matchAll(/<!-- ([a-z-]+): start[^>]*-->/g)) {
    const end = `<!-- ${m[1]}: end -->`;
    const b = text.indexOf(end, m.index);
    if (b > m.index) out.push(text.slice(m.index, b + end.length));
  }
  return out;
}

// --- main --------------------------------------------------------------------------------------

async function main() {
  ensureBuilt();
  const info = machine();
  log(`machine: ${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.sipp}, ulimit -n ${info.nofile}; code ${info.git}; load ${info.load}`);
  const need = CFG.tnConcurrency * 2 + 200;
  if (CFG.scenarios.includes('tcpn') && Number(info.nofile) < need) {
    log(`warning: ulimit -n is ${info.nofile}; ${CFG.tnConcurrency} connections need about ${need} (servers and sipp). Raise it: ulimit -n ${need}`);
  }
  if (CFG.profile) {
    if (CFG.parts.includes('options')) await profile();
    if (CFG.parts.includes('proxy')) await runProxyCalls({ ...proxyConfig(), profile: true });
    return;
  }
  if (CFG.parts.includes('options')) await optionsPart(info);
  if (CFG.parts.includes('live')) await runLiveTransactions(liveConfig(), { write: !CFG.noResults });
  if (CFG.parts.includes('proxy')) await runProxyCalls(proxyConfig());
  if (CFG.parts.includes('scale')) await runScaleOut();
  if (CFG.parts.includes('codec')) await runCodec({ noResults: CFG.noResults });
  if (CFG.parts.includes('layers')) await runLayers({ noResults: CFG.noResults });
}

/**
 * In rounds: run k of every server, then run k + 1 of every server. This machine has slow periods
 * that last minutes (README, Benchmarks); run back to back, one server's runs could all fall in one
 * and the next server's all outside it, and their ratio would say more about the machine than about
 * them. Interleaved, each round's servers share the conditions.
 */
async function closedLoop(results) {
  for (const scName of CFG.scenarios) {
    results[scName] = {};
    const runsOf = new Map(CFG.servers.map((sv) => [sv, []]));
    for (let k = 0; k < CFG.runs; k++) {
      for (const sv of CFG.servers) {
        const r = await measure(sv, scName);
        runsOf.get(sv).push(r);
        log(
          `${scName.padEnd(5)} ${sv.padEnd(5)} run ${k + 1}: ${f0(r.rps)} req/s, ${f1(r.cpuUsPerReq)} us/req ` +
            `(user ${f0(r.cpuUser / 1000)} ms, sys ${f0(r.cpuSystem / 1000)} ms), p50 ${us(r.p50)}, p99 ${us(r.p99)}, ` +
            `rss ${f1(r.rssMiB)} MiB, GC ${f1(r.gcUsPerReq)} us/req (${r.gcCount} pauses), conns ${r.conns}, failed ${r.failed}, retrans ${r.retrans}, sipp exit ${r.sippExit}`,
        );
      }
    }
    for (const sv of CFG.servers) results[scName][sv] = aggregate(runsOf.get(sv));
  }
}

/** The open loop's servers measured in turns, window by window (see measureOpen): (b), then (a). */
const PAIRED = ['bare', 'nest'];

async function optionsPart(info) {
  log(config());
  const started = Date.now();
  const results = {};
  pinOn('1'); // see BENCH_PIN
  try {
    await closedLoop(results);
  } finally {
    pinOff();
  }
  const open = {};
  if (CFG.openRate > 0) {
    pinOn(`0-${os.cpus().length - 1}`);
    try {
      for (const scName of CFG.openScenarios) {
        open[scName] = {};
        const logWindow = (sv, r, k) =>
          log(
            `open ${scName.padEnd(5)} ${sv.padEnd(5)} ${k === 'latency' ? 'latency window (probe on)' : `run ${k + 1}`}: ${f0(r.rps)} req/s, ${f1(r.cpuUsPerReq)} us/req (user ${f0(r.cpuUser / 1000)} ms, sys ${f0(r.cpuSystem / 1000)} ms), ` +
              `${k === 'latency' ? `p50 ${us(r.p50)}, p99 ${us(r.p99)}, ` : ''}rss ${f1(r.rssMiB)} MiB, GC ${f1(r.gcUsPerReq)} us/req, failed ${r.failed}`,
          );
        const cell = (runs, latency) => {
          const agg = aggregate(runs);
          agg.p50 = latency ? latency.p50 : NaN;
          agg.p99 = latency ? latency.p99 : NaN;
          agg.latencyCpuUsPerReq = latency ? latency.cpuUsPerReq : NaN;
          if (latency) agg.failed += latency.failed;
          return agg;
        };
        // (b) and (a), whose ratio the targets are, in turns; every other server on its own.
        const paired = PAIRED.every((sv) => CFG.openServers.includes(sv));
        if (paired) {
          const { runs, latency } = await measureOpen(PAIRED, scName, CFG.openPairs, CFG.openRewarmS, logWindow);
          PAIRED.forEach((sv, j) => (open[scName][sv] = cell(runs[j], latency[j])));
          // Per pair: (a)'s CPU per request over (b)'s in the same round.
          const pairRatios = runs[1].map((r, k) => r.cpuUsPerReq / runs[0][k].cpuUsPerReq);
          open[scName].nest.pairRatio = median(pairRatios);
          open[scName].nest.pairRatios = pairRatios;
          log(`open ${scName.padEnd(5)} (a)/(b) per pair: ${pairRatios.map(f2).join(', ')} -> median ${f2(median(pairRatios))}`);
        }
        for (const sv of CFG.openServers) {
          if (paired && PAIRED.includes(sv)) continue;
          const { runs, latency } = await measureOpen([sv], scName, CFG.runs, 0, logWindow);
          open[scName][sv] = cell(runs[0], latency[0]);
        }
      }
    } finally {
      pinOff();
    }
  }
  const t = table(results, info, open);
  console.log(`\n${asText(t.rows)}\n\n${asText(t.ratios)}\n`);
  if (t.openRows) console.log(`Open loop at ${f0(CFG.openRate)} requests/s (CPU per request, the layer breakdown of (a)):\n${asText(t.openRows)}\n`);
  console.log(`${t.targets.join('\n')}\n`);
  log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (!CFG.noResults && CFG.servers.length === 3 && CFG.scenarios.length === 3 && CFG.openRate > 0) {
    writeResults(t);
    log('wrote bench/RESULTS.md');
  } else if (!CFG.noResults) {
    log('bench/RESULTS.md not written (only for the full set of servers and scenarios)');
  }
}

async function profile() {
  const profileDir = join(BENCH, 'profiles');
  mkdirSync(profileDir, { recursive: true });
  // (a) only, unless BENCH_SERVERS names others.
  const servers = process.env.BENCH_SERVERS ? CFG.servers : ['nest'];
  for (const scName of CFG.scenarios) {
    for (const sv of servers) {
      const target = join(profileDir, `${sv}-${scName}.cpuprofile`);
      rmSync(target, { force: true });
      const r = await measure(sv, scName, { profileFile: target });
      console.log(`\n== ${SERVERS[sv].label}, ${SCENARIOS[scName].label}, profiled: ${f0(r.rps)} req/s, ${f1(r.cpuUsPerReq)} us/req (user ${f0(r.cpuUser / 1000)} ms, sys ${f0(r.cpuSystem / 1000)} ms), GC ${f1(r.gcUsPerReq)} us/req; profiler overhead included`);
      if (!existsSync(target)) {
        log('no profile written');
        continue;
      }
      console.log(`${target}\n${summarizeProfile(JSON.parse(readFileSync(target, 'utf8')), { top: 30, root: ROOT })}`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
