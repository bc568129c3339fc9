#!/usr/bin/env node
// The proxied-call part of `npm run bench` (BENCH_PARTS=proxy runs only it; or alone, with dist/ built:
// `node bench/proxy-calls.mjs`):
// whole calls through a stateful, record-routing proxy, ours beside Kamailio's, in the same run.
//
//   sipp UAC --INVITE--> proxy --INVITE--> sipp UAS        180, 200 back the same way; ACK and BYE
//   (bench/scenarios/proxy-uac.xml)        (proxy-uas.xml)  follow the Record-Route through the proxy
//
//   nest      bench/apps/nest-proxy.mjs: SipServer + one @MessagePattern('INVITE') handler doing
//             `await ctx.proxy(uas)` (record-routed by default; ACK/BYE routed with no handler code)
//   kamailio  Kamailio 5.6 (/usr/sbin/kamailio or $KAMAILIO): record_route(), rewritehostport to the
//             UAS, t_relay(); loose_route() + t_relay() for in-dialog requests; children=1 (one SIP
//             worker, as our one Node process), config in bench/proxy-peers.mjs
//
// CPU per call: nest reports its own process CPU (process.cpuUsage(), every thread) for the measured
// window over IPC (bench/apps/harness.mjs); Kamailio forks (main/attendant, the UDP worker, timer,
// slow timer, ...), so its figure is utime+stime of ALL processes in its process group from
// /proc/<pid>/stat, read before and after the window. Memory: nest's peak RSS; Kamailio's peak sum
// of Pss (its processes share the shm segment, so summing RSS would count that several times).
//
// Parts: open loop (every proxy at BENCH_PROXY_RATE calls/s, the same load, so CPU per call compares
// directly) and, unless BENCH_PROXY_MAX_CALLS=0, closed loop (sipp -l BENCH_PROXY_CONCURRENCY,
// each proxy at its own maximum; sipp's two processes share the 2 cores with the proxy, so this is
// the machine's ceiling rather than the proxy's).
//
// Environment (all optional):
//   BENCH_PROXY_SERVERS=nest,kamailio
//   BENCH_PROXY_PROTOS=udp,tcp          udp and/or tcp (caller and callee both on it; sipp t1 on TCP)
//   BENCH_PROXY_RATE=300                open loop: calls/s (sipp -r)
//   BENCH_PROXY_CALLS=6000              open loop: calls per measured run
//   BENCH_PROXY_WARMUP=1000             calls sent to every fresh proxy before measuring (same rate)
//   BENCH_PROXY_MAX_CALLS=10000         closed loop: calls per measured run (0 = skip the closed loop)
//   BENCH_PROXY_CONCURRENCY=200         closed loop: sipp -l
//   BENCH_PROXY_SETTLE_MS=0             wait this long after sipp ends before closing the CPU window
//                                       (transactions' timers: Kamailio's wait timer 5 s, our Timer K 5 s, J 32 s)
//   BENCH_RUNS=3                        measured runs per cell (median)
//   BENCH_PROXY_PROFILE=0               1 (or BENCH_PROFILE=1 in run.mjs): instead, run nest once per proto at the open-loop rate with the
//                                       V8 CPU profiler on for the window; print where the time goes
//   BENCH_NO_RESULTS=0                  1: do not write the proxy section of bench/RESULTS.md
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeProfile } from './cpuprofile-top.mjs';
import { freePort, KAMAILIO, kamailioProcessCount, runUac, startKamailio, startNest, startUas } from './proxy-peers.mjs';
import { codeVersion, writeResultsSection } from './results-section.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const env = (name, def) => (process.env[name] === undefined || process.env[name] === '' ? def : process.env[name]);
const num = (name, def) => {
  const v = Number(env(name, def));
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a number >= 0`);
  return v;
};
const list = (name, def) => env(name, def).split(',').map((s) => s.trim()).filter(Boolean);

export function proxyConfig() {
  const cfg = {
    servers: list('BENCH_PROXY_SERVERS', 'nest,kamailio'),
    protos: list('BENCH_PROXY_PROTOS', 'udp,tcp'),
    rate: num('BENCH_PROXY_RATE', 300),
    calls: num('BENCH_PROXY_CALLS', 6000),
    warmup: num('BENCH_PROXY_WARMUP', 1000),
    maxCalls: num('BENCH_PROXY_MAX_CALLS', 10000),
    concurrency: Math.max(1, num('BENCH_PROXY_CONCURRENCY', 200)),
    settleMs: num('BENCH_PROXY_SETTLE_MS', 0),
    runs: Math.max(1, num('BENCH_RUNS', 3)),
    profile: env('BENCH_PROXY_PROFILE', '0') === '1',
    noResults: env('BENCH_NO_RESULTS', '0') === '1',
  };
  for (const s of cfg.servers) if (s !== 'nest' && s !== 'kamailio') throw new Error(`BENCH_PROXY_SERVERS: unknown ${s} (nest, kamailio)`);
  for (const p of cfg.protos) if (p !== 'udp' && p !== 'tcp') throw new Error(`BENCH_PROXY_PROTOS: unknown ${p} (udp, tcp)`);
  return cfg;
}

const LABEL = { nest: 'nestjs-sip (ctx.proxy)', kamailio: 'Kamailio (t_relay)' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(...a);
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);

// --- one measured run ------------------------------------------------------------------------------

async function measure(cfg, server, proto, { rate, calls, limit, profileFile }) {
  const dir = mkdtempSync(join(os.tmpdir(), `bench-proxy-${server}-${proto}-`));
  const uas = await startUas(proto, dir);
  let proxy;
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      proxy = server === 'nest' ? startNest(proto, port, uas.port, profileFile) : startKamailio(proto, port, uas.port);
      try {
        await proxy.ready;
        proxy.port = port;
        break;
      } catch (err) {
        await proxy.stop();
        if (attempt >= 3) throw err;
      }
    }
    if (cfg.warmup > 0) {
      const wdir = mkdtempSync(join(dir, 'warmup-'));
      const w = await runUac(proto, proxy.port, cfg.warmup, wdir, { rate: rate || cfg.rate });
      if (w.successful === 0) throw new Error(`${server}/${proto}: warm-up completed no call (sipp exit ${w.code}): ${w.errors || w.stderr.slice(0, 800)}`);
      await sleep(300);
    }
    const mdir = mkdtempSync(join(dir, 'run-'));
    await proxy.mark();
    const s = await runUac(proto, proxy.port, calls, mdir, { rate, limit });
    if (cfg.settleMs > 0) await sleep(cfg.settleMs);
    const rep = await proxy.report();
    const done = s.successful;
    const cpu = rep.cpuUserUs + rep.cpuSystemUs;
    const rtt = s.rtt.sort((a, b) => a - b);
    return {
      cps: done / (s.wallMs / 1000),
      calls: done,
      failed: s.failed + Math.max(0, s.calls - s.successful - s.failed),
      retrans: s.retrans,
      cpuUsPerCall: cpu / Math.max(1, done),
      userUs: rep.cpuUserUs,
      sysUs: rep.cpuSystemUs,
      procUsPerCall: rep.procUs / Math.max(1, done),
      memMiB: rep.memBytes / 2 ** 20,
      gcUsPerCall: rep.gcMs === undefined ? NaN : (rep.gcMs * 1000) / Math.max(1, done),
      refused: rep.refused ?? 0,
      setupP50: pct(rtt, 50),
      setupP99: pct(rtt, 99),
      sippExit: s.code,
      errors: s.errors,
    };
  } finally {
    await proxy?.stop();
    await uas.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function aggregate(runs) {
  const m = (k) => median(runs.map((r) => r[k]));
  return {
    runs,
    cps: m('cps'),
    cpuUsPerCall: m('cpuUsPerCall'),
    procUsPerCall: m('procUsPerCall'),
    memMiB: m('memMiB'),
    gcUsPerCall: m('gcUsPerCall'),
    refused: runs.reduce((a, r) => a + r.refused, 0),
    setupP50: m('setupP50'),
    setupP99: m('setupP99'),
    failed: runs.reduce((a, r) => a + r.failed, 0),
    retrans: runs.reduce((a, r) => a + r.retrans, 0),
  };
}

// --- report ---------------------------------------------------------------------------------------

const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');

function tables(cfg, open, closed) {
  const rows = [['transport', 'load', 'proxy', 'calls/s', 'CPU us/call', 'CPU us/call (/proc)', 'GC us/call', 'memory MiB', 'setup p50/p99 ms', 'failed/retrans']];
  const ratios = [['transport', 'load', 'nest / kamailio CPU per call', 'nest / kamailio calls/s']];
  const targets = [];
  const add = (res, load) => {
    for (const proto of cfg.protos) {
      for (const sv of cfg.servers) {
        const r = res[proto]?.[sv];
        if (!r) continue;
        rows.push([proto.toUpperCase(), load, LABEL[sv], f0(r.cps), f1(r.cpuUsPerCall), f1(r.procUsPerCall), f1(r.gcUsPerCall), `${f1(r.memMiB)}${sv === 'kamailio' ? ' (Pss)' : ''}`, `${f0(r.setupP50)} / ${f0(r.setupP99)}`, `${r.failed}${r.refused ? ` (${r.refused} x 503 overload)` : ''} / ${r.retrans}`]);
      }
      const a = res[proto]?.nest;
      const b = res[proto]?.kamailio;
      if (a && b) {
        const ratio = a.cpuUsPerCall / b.cpuUsPerCall;
        ratios.push([proto.toUpperCase(), load, f2(ratio), f2(a.cps / b.cps)]);
        if (load.startsWith('open')) targets.push(`${proto.toUpperCase()}, CPU per call at ${f0(cfg.rate)} calls/s, nest <= 2 x Kamailio: ${f2(ratio)} x -> ${ratio <= 2 ? 'met' : 'MISSED'}`);
      }
    }
  };
  add(open, `open loop ${f0(cfg.rate)}/s`);
  if (closed) add(closed, `closed loop -l ${cfg.concurrency}`);
  return { rows, ratios, targets };
}

function asText(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(w[i])).join('  ')).join('\n');
}
function asMarkdown(rows) {
  const head = `| ${rows[0].join(' | ')} |`;
  const sep = `|${rows[0].map((_, i) => (i >= 3 ? '---:' : '---')).join('|')}|`;
  return [head, sep, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export const SECTION_START = '<!-- proxy-calls: start (bench/proxy-calls.mjs writes this section) -->';
export const SECTION_END = '<!-- proxy-calls: end -->';

function writeSection(cfg, t, info) {
  const section = `${SECTION_START}
## Proxied calls: nestjs-sip's stateful proxy beside Kamailio

Generated by \`npm run bench\` (or \`node bench/proxy-calls.mjs\`) on ${info.date}, code ${info.git}; ${info.kamailio}; ${info.sipp}; Node ${process.version}.
Load average when this part started: ${info.load}; at its end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores, shared with other work).

Whole calls, sipp UAC -> proxy -> sipp UAS: INVITE, 180, 200 (record-routed: the UAC checks the Record-Route), ACK
and BYE through the proxy by the route set, 200 for the BYE; 50 ms between ACK and BYE. Kamailio sends a 100 Trying
for every INVITE at once, ours only when no answer came within 200 ms (\`timers.trying100\`), so here it sends one
message less per call (6 in, 6 out).
nest = \`bench/apps/nest-proxy.mjs\`, a SipServer with one \`@MessagePattern('INVITE')\` handler doing
\`await ctx.proxy(uas)\` (no registrar lookup, no logging); Kamailio 5.6 = \`record_route()\` + \`t_relay()\`,
\`loose_route()\` for in-dialog requests, \`children=1\` (config in \`bench/proxy-peers.mjs\`). ${cfg.runs} measured run(s) per
cell (median), each on a fresh proxy and UAS, warmed up with ${cfg.warmup} calls; open loop: ${cfg.calls} calls at
${f0(cfg.rate)}/s; closed loop: ${cfg.maxCalls} calls, sipp -l ${cfg.concurrency}; CPU window closed ${cfg.settleMs} ms after sipp ended.

${asMarkdown(t.rows)}

${asMarkdown(t.ratios)}

${t.targets.map((x) => `- ${x}`).join('\n')}

Columns: calls/s = calls completed / wall time of the sipp run; CPU us/call = the proxy's CPU time (user + system)
in the window / calls completed: for nest its own \`process.cpuUsage()\` (bench/apps/harness.mjs), for Kamailio
utime + stime of all its processes (main, the one SIP worker, timers; ${info.kproc ?? '?'} processes) from /proc/<pid>/stat;
the /proc column is the same method for both (a cross-check, 10 ms ticks); GC = nest's main-thread GC pauses per call
(part of its CPU figure); memory = nest's peak RSS, Kamailio's
peak sum of Pss over its processes (they share one shm segment); setup = INVITE -> 200 as sipp measures it
(its clock ticks every 4 ms); failed/retrans = sipp's failed calls / retransmissions summed over all runs; "503 overload" = calls our
overload gate refused (\`overload.maxLag\`, 200 ms of event-loop lag by default, counted from start, warm-up included): on this
shared machine the process is sometimes off the CPU that long.
In the closed loop the two sipp processes use about as much CPU as the proxy, so calls/s there is the
machine's ceiling with sipp on the same 2 cores rather than the proxy's.
${SECTION_END}`;
  writeResultsSection(section, SECTION_START, SECTION_END);
}

function info() {
  let sipp = '?';
  try {
    sipp = execFileSync('sipp', ['-v'], { encoding: 'utf8' }).match(/SIPp v[^\s,]+/)?.[0] ?? '?';
  } catch (e) {
    sipp = (String(e.stdout ?? '') + String(e.stderr ?? '')).match(/SIPp v[^\s,]+/)?.[0] ?? '?';
  }
  let kamailio = '?';
  try {
    kamailio = execFileSync(KAMAILIO, ['-v'], { encoding: 'utf8' }).match(/kamailio [\d.]+/)?.[0] ?? '?';
  } catch {}
  return { sipp, kamailio, git: codeVersion(['src']), date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), load: os.loadavg().map((x) => x.toFixed(2)).join(' ') };
}

// --- main ---------------------------------------------------------------------------------------

/** Run the proxied-call part (called by bench/run.mjs, or alone). */
export async function runProxyCalls(cfg = proxyConfig()) {
  if (cfg.servers.includes('kamailio') && !existsSync(KAMAILIO)) {
    log(`proxied calls: ${KAMAILIO} not found (Debian: apt-get install kamailio); Kamailio left out`);
    cfg = { ...cfg, servers: cfg.servers.filter((s) => s !== 'kamailio') };
  }
  const i = info();
  log(`proxied calls: ${cfg.servers.join(', ')} over ${cfg.protos.join(', ')}; ${i.kamailio}; load ${i.load}`);
  if (cfg.profile) return profile(cfg);
  const open = {};
  const closed = cfg.maxCalls > 0 ? {} : undefined;
  for (const proto of cfg.protos) {
    open[proto] = {};
    if (closed) closed[proto] = {};
    for (const [res, opts, tag] of [
      [open, { rate: cfg.rate, calls: cfg.calls }, `open ${cfg.rate}/s`],
      ...(closed ? [[closed, { rate: 0, calls: cfg.maxCalls, limit: cfg.concurrency }, `closed -l ${cfg.concurrency}`]] : []),
    ]) {
      // Alternate the servers run by run, so that a change in the machine's load hits both alike.
      const runs = Object.fromEntries(cfg.servers.map((s) => [s, []]));
      for (let k = 0; k < cfg.runs; k++) {
        for (const sv of cfg.servers) {
          const r = await measure(cfg, sv, proto, opts);
          runs[sv].push(r);
          log(
            `proxy ${proto} ${tag} ${sv.padEnd(8)} run ${k + 1}: ${f0(r.cps)} calls/s, ${f1(r.cpuUsPerCall)} us/call ` +
              `(user ${f0(r.userUs / 1000)} ms, sys ${f0(r.sysUs / 1000)} ms; /proc ${f1(r.procUsPerCall)} us/call; GC ${f1(r.gcUsPerCall)} us/call), mem ${f1(r.memMiB)} MiB, ` +
              `${r.calls} calls, failed ${r.failed}${r.refused ? ` (overload 503s since start: ${r.refused})` : ''}, retrans ${r.retrans}, sipp exit ${r.sippExit}; load ${os.loadavg()[0].toFixed(2)}`,
          );
          if (r.failed > 0 && r.errors) log(r.errors.slice(0, 800));
        }
      }
      for (const sv of cfg.servers) res[proto][sv] = aggregate(runs[sv]);
    }
  }
  const t = tables(cfg, open, closed);
  console.log(`\nProxied calls (sipp UAC -> proxy -> sipp UAS, record-routed):\n${asText(t.rows)}\n\n${asText(t.ratios)}\n\n${t.targets.join('\n')}\n`);
  if (!cfg.noResults) {
    i.kproc = kamailioProcessCount();
    writeSection(cfg, t, i);
    log('wrote the proxied-call section of bench/RESULTS.md');
  }
  return { open, closed, t };
}

async function profile(cfg) {
  const dirOut = join(BENCH, 'profiles');
  mkdirSync(dirOut, { recursive: true });
  for (const proto of cfg.protos) {
    const target = join(dirOut, `nest-proxy-${proto}.cpuprofile`);
    rmSync(target, { force: true });
    const r = await measure(cfg, 'nest', proto, { rate: cfg.rate, calls: cfg.calls, profileFile: target });
    console.log(`\n== nest proxy, ${proto}, ${f0(cfg.rate)} calls/s, profiled: ${f1(r.cpuUsPerCall)} us/call (profiler overhead included), failed ${r.failed}`);
    if (existsSync(target)) console.log(`${target}\n${summarizeProfile(JSON.parse(readFileSync(target, 'utf8')), { top: 40, root: ROOT })}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: npm run build (npm run bench builds it)');
  runProxyCalls().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
