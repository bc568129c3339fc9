#!/usr/bin/env node
// The scale-out part of `npm run bench` (BENCH_PARTS=...,scale; alone: `npm run bench:scale`), issue 15:
// example instances behind the deploy kit's Kamailio on this machine. bench/scale-out.ts measures (it
// needs the TypeScript loader for the test helpers that start the kit); this file runs it, runs
// bench/registrar.mjs for the Redis store's cost per REGISTER beside the in-memory one, prints the
// tables and writes its own delimited section of bench/RESULTS.md (the rest of the file is kept).
//
// Environment (all optional):
//   BENCH_SCALE_WORKERS=1,2,4        instance counts
//   BENCH_SCALE_RATE=100             open loop: calls/s ...
//   BENCH_SCALE_CALLS=2000           ... for this many calls (CPU per call)
//   BENCH_SCALE_CLOSED_CALLS=4000    closed loop: this many calls ...
//   BENCH_SCALE_LIMIT=30             ... with sipp -l this many at once (calls/s)
//   BENCH_SCALE_WARMUP=300           calls to every fresh set of instances before measuring
//   BENCH_SCALE_REGISTRAR=1          0: leave out the registrar's store comparison
//   BENCH_REG_AORS=10000             its REGISTER storm (see bench/registrar.mjs)
//   BENCH_NO_RESULTS=0               1: do not write the section
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeVersion, writeResultsSection } from './results-section.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const log = (...a) => console.error(...a);

export const SCALE_START = '<!-- scale-out: start (bench/scale-part.mjs writes this section) -->';
export const SCALE_END = '<!-- scale-out: end -->';

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** The instances run dist-example/main.js: build it (and dist) when missing or older than the sources. */
function ensureExampleBuilt() {
  const main = join(ROOT, 'dist-example', 'main.js');
  if (existsSync(main) && statSync(main).mtimeMs >= Math.max(newest(join(ROOT, 'src')), newest(join(ROOT, 'example')))) return;
  log('dist-example/ missing or older than src/ or example/: npm run build:example');
  const r = spawnSync('npm', ['run', 'build:example'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build:example failed');
}

function runChild(args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited ${code}:\n${out.slice(-2000)}`))));
  });
}

const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');

/** Cores busy with work that is not this bench's (other processes on the shared machine). */
const others = (c) => Math.max(0, c.machineShare - c.instShare - c.kamShare - c.sippShare);

/**
 * The calls/s the open-loop CPU figures allow on the machine's cores with nothing else on them: all
 * cores / CPU per call of every process (instances, Kamailio, sipp), and no more than N instances
 * can do with one core each (an instance is one event loop).
 */
const ceiling = (r, cores) => Math.min((cores * 1e6) / (r.open.instUs + r.open.kamUs + r.open.sippUs), (r.workers * 1e6) / r.open.instUs);

function tables(res) {
  const one = res.rows.find((r) => r.workers === 1);
  const rows = [
    ['instances', 'calls/s (closed loop)', 'per-core efficiency', 'calls/s per busy instance core', 'failed (closed)', 'CPU/call: instances', 'CPU efficiency (open)', 'CPU/call: Kamailio', 'CPU/call: sipp', 'ceiling on idle cores', 'failed (open)', 'cores busy (closed): instances + Kamailio + sipp + other work'],
  ];
  for (const r of res.rows) {
    const c = r.closed;
    rows.push([
      String(r.workers),
      f0(c.cps),
      one ? f2(c.cps / (one.closed.cps * Math.min(r.workers, res.cores))) : '-',
      f0(c.cps / c.instShare),
      `${c.failed} of ${res.closedCalls}`,
      `${f0(r.open.instUs)} µs`,
      one ? f2(one.open.instUs / r.open.instUs) : '-',
      `${f0(r.open.kamUs)} µs`,
      `${f0(r.open.sippUs)} µs`,
      `${f0(ceiling(r, res.cores))} calls/s`,
      `${r.open.failed} of ${res.calls}`,
      `${f2(c.instShare)} + ${f2(c.kamShare)} + ${f2(c.sippShare)} + ${f2(others(c))} = ${f2(c.machineShare)}`,
    ]);
  }
  return rows;
}

/** What bounds the closed loop, read from the figures (not written in advance). */
function bounds(res) {
  const out = [];
  for (const r of res.rows) {
    const c = r.closed;
    const perInst = c.instShare / r.workers;
    let why;
    const ours = c.instShare + c.kamShare + c.sippShare;
    if (c.machineShare >= 0.85 * res.cores)
      why =
        `the cores: ${f2(c.machineShare)} of ${res.cores} busy (instances ${f2(c.instShare)}, Kamailio ${f2(c.kamShare)}, sipp ${f2(c.sippShare)}, other work on the machine ${f2(others(c))}); more instances only share the same cores` +
        (others(c) >= ours ? `; other work had more of them than this bench, so the figure is the machine's spare capacity at that moment (rerun on an idle machine)` : '');
    else if (r.workers === 1 && c.instShare >= 0.8) why = `the one instance: its event loop is one core (${f2(c.instShare)} busy)`;
    else why = `neither the cores (${f2(c.machineShare)} of ${res.cores} busy) nor the instances (${f2(perInst)} of a core each): sipp -l ${res.limit} (calls in flight) and the round trips through the balancer`;
    out.push(`- ${r.workers} instance(s), ${f0(c.cps)} calls/s: bound by ${why}.`);
  }
  return out;
}

function asMarkdown(rows) {
  return [`| ${rows[0].join(' | ')} |`, `|${rows[0].map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function versions() {
  const v = (cmd, args, re) => {
    try {
      const r = spawnSync(cmd, args, { encoding: 'utf8' });
      return (r.stdout + r.stderr).match(re)?.[0] ?? '?';
    } catch {
      return '?';
    }
  };
  return { git: codeVersion(['src', 'example', 'deploy']), kamailio: v('kamailio', ['-v'], /kamailio [\d.]+/), sipp: v('sipp', ['-v'], /SIPp v[\d.]+/), redis: v('redis-server', ['--version'], /v=[\d.]+/).replace('v=', '') };
}

function writeSection(res, reg, started) {
  const i = versions();
  const section = `${SCALE_START}
## Scale-out: instances of the example behind the deploy kit's Kamailio

Generated by \`npm run bench\` (or \`npm run bench:scale\`) on ${started}, code ${i.git}; ${i.kamailio}; ${i.sipp}; redis ${i.redis}; Node ${process.version}.
Load average when this part started: ${res.loadStart.map((x) => x.toFixed(2)).join(' ')}; at its end: ${res.loadEnd.map((x) => x.toFixed(2)).join(' ')} (${res.cores} cores, shared with other work).

N example instances (\`deploy/run-instances.mjs\`, each one Node process) behind Kamailio with \`deploy/kamailio/kamailio.cfg\` as
shipped (dispatcher, Call-ID hash, record-routing; \`CHILDREN=2\`), sipp calling the echo service through it over UDP:
INVITE, 200 (record-routed), ACK and BYE by the route set, no pause (\`bench/scenarios/lb-call.xml\`). Kamailio, sipp and every instance
run on the same ${res.cores} cores, so this shows how well more processes use the cores, not how a service scales over hosts.
Open loop: ${res.rate} calls/s for ${res.calls} calls, the CPU each process group spent per call (utime + stime from /proc,
10 ms ticks). Closed loop: ${res.closedCalls} calls, sipp -l ${res.limit}, as fast as they complete. Each set of instances is fresh
and warmed up first.

${asMarkdown(tables(res))}

Per-core efficiency = calls/s / (calls/s of 1 instance x min(N, ${res.cores})): 1.00 would be perfect scaling onto the cores; here
the balancer and the load generator take cores from the instances, so it cannot reach 1. CPU efficiency (open) = CPU per call
of 1 instance / CPU per call of N at the same load: what spreading the calls over more processes costs (each has its own
timers, probes, GC and cold caches, and batches fewer messages per wake-up); it depends far less on other work than calls/s. Calls/s per busy instance core =
calls/s / the cores the instances kept busy: it falls when more processes share the cores (context switches, cold caches)
and each instance has fewer calls to batch. Cores busy = CPU seconds per second of the closed loop; other work = the machine's
busy time (/proc/stat) less this bench's processes (other builds and tests on the shared machine).

What bounds the closed loop, from the figures above:

${bounds(res).join('\n')}

Ceiling on idle cores = what the open-loop CPU per call allows with the ${res.cores} cores to this bench alone:
min(${res.cores} cores / CPU per call of instances + Kamailio + sipp, N instances x 1 core / their CPU per call). It is an
estimate from measured CPU, not a measured rate, but it does not depend on what else ran:

${res.rows.map((r) => `- ${r.workers} instance(s): ${f0(ceiling(r, res.cores))} calls/s, bound by ${(r.workers * 1e6) / r.open.instUs <= (res.cores * 1e6) / (r.open.instUs + r.open.kamUs + r.open.sippUs) ? 'the instances (one core each)' : `the ${res.cores} cores shared by the instances, Kamailio and sipp`}.`).join('\n')}

${reg ? `The registrar's store (\`bench/registrar.mjs\`: SipRegistrar.register without SIP sockets, a storm of fresh AORs
then refreshes; the Redis store is one atomic script per REGISTER against a local redis-server):

${reg}
` : ''}${SCALE_END}`;
  writeResultsSection(section, SCALE_START, SCALE_END);
}

/** Run the scale-out part (called by bench/run.mjs, or alone). */
export async function runScaleOut() {
  const started = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  ensureExampleBuilt();
  log(`scale-out: instances ${process.env.BENCH_SCALE_WORKERS ?? '1,2,4'} behind Kamailio; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const out = await runChild(['--import', './bench/register.mjs', 'bench/scale-out.ts']);
  const line = out.split('\n').find((l) => l.startsWith('SCALE-RESULT '));
  if (!line) throw new Error(`bench/scale-out.ts printed no result:\n${out.slice(-2000)}`);
  const res = JSON.parse(line.slice('SCALE-RESULT '.length));
  let reg = '';
  if ((process.env.BENCH_SCALE_REGISTRAR ?? '1') !== '0') {
    const r = await runChild(['--expose-gc', 'bench/registrar.mjs']);
    reg = r.split('\n').filter((l) => l.startsWith('registrar:') || l.startsWith('|')).join('\n').replace(/^registrar: (.*)$/m, '$1:\n');
  }
  console.log(`\nScale-out (instances behind Kamailio, echo calls):\n${asMarkdown(tables(res))}\n\n${bounds(res).join('\n')}\n${reg ? `\n${reg}\n` : ''}`);
  if ((process.env.BENCH_NO_RESULTS ?? '0') !== '1') {
    writeSection(res, reg, started);
    log('wrote the scale-out section of bench/RESULTS.md');
  }
  return res;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runScaleOut().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
