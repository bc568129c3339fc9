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
//             worker, as our one Node process), config written below
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
import { execFileSync, fork, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeProfile } from './cpuprofile-top.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const KAMAILIO = process.env.KAMAILIO || '/usr/sbin/kamailio';
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

/** A port free for TCP and UDP on 127.0.0.1, below the ephemeral range. */
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

// --- /proc ---------------------------------------------------------------------------------------

const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

/** Pids of the process group `pgid` (Kamailio's main process and everything it forked). */
function groupPids(pgid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] = field 3 (state)
      if (Number(f[2]) === pgid) out.push(Number(name)); // field 5: pgrp
    } catch {}
  }
  return out;
}

/** utime and stime (µs) summed over `pids` (every thread of each: /proc/<pid>/stat is per process). */
function cpuOf(pids) {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(f[11]) * TICK_US; // field 14
      system += Number(f[12]) * TICK_US; // field 15
    } catch {}
  }
  return { user, system };
}

/** Sum of Pss (bytes) over `pids`: shared memory counted once, split between its users. */
function pssOf(pids) {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {}
  }
  return kb * 1024;
}

// --- proxies ---------------------------------------------------------------------------------------

function uasUri(proto, uasPort) {
  return `sip:bob@127.0.0.1:${uasPort};transport=${proto}`;
}

/** Our proxy: bench/apps/nest-proxy.mjs in a child process speaking the harness's IPC protocol. */
function startNest(proto, port, uasPort, profileFile) {
  const e = { ...process.env, BENCH_PROTO: proto, BENCH_PORT: String(port), BENCH_HOST: '127.0.0.1', BENCH_PROXY_TARGET: uasUri(proto, uasPort), BENCH_UDP_RCVBUF: '4194304' };
  delete e.BENCH_CPU_PROFILE;
  if (profileFile) e.BENCH_CPU_PROFILE = profileFile;
  const child = fork(join(BENCH, 'apps', 'nest-proxy.mjs'), [], { cwd: ROOT, env: e, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig)));
  const wait = (type, ms = 20000) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`nest proxy: no '${type}' within ${ms} ms`)), ms);
      const on = (m) => {
        if (m?.type !== type) return;
        clearTimeout(t);
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
      void exited.then((c) => (clearTimeout(t), reject(new Error(`nest proxy exited (${c}) while waiting for '${type}'`))));
    });
  const ready = wait('ready');
  let base;
  return {
    ready,
    async mark() {
      const p = wait('marked');
      child.send({ cmd: 'mark' });
      await p;
      base = cpuOf([child.pid]);
    },
    async report() {
      const p = wait('report');
      child.send({ cmd: 'report' });
      const r = await p;
      const ext = cpuOf([child.pid]);
      // The harness's figure; /proc's (the method used for Kamailio) is kept as a cross-check.
      const adm = r.extra?.admission;
      return {
        cpuUserUs: r.cpuUserUs,
        cpuSystemUs: r.cpuSystemUs,
        procUs: ext.user + ext.system - base.user - base.system,
        memBytes: r.peakRss,
        gcMs: r.gcMs,
        // counters since start (warm-up included): 503s of the overload gate
        refused: adm ? adm.overloaded + adm.shed : 0,
      };
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ cmd: 'stop' });
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Kamailio as the same stateful record-routing proxy (Kamailio's default config's routing, cut down). */
export function kamailioProxyConfig(proto, port, uasPort) {
  return `#!KAMAILIO
# Generated by bench/proxy-calls.mjs: a stateful record-routing proxy to one UAS.
debug=1
log_stderror=yes
children=1
tcp_children=1
auto_aliases=no
listen=${proto}:127.0.0.1:${port}
${proto === 'udp' ? 'disable_tcp=yes' : ''}
dns=no
rev_dns=no
use_dns_cache=off
dns_try_naptr=no
disable_sctp=yes
enable_tls=no
# UDP receive buffer: Kamailio probes up to this (nest's socket gets the same 4 MiB, SO_RCVBUF)
maxbuffer=4194304

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		# in-dialog: follow the route set (our Record-Route came back as Route)
		if (loose_route()) {
			t_relay();
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans()) t_relay();
			exit;
		}
		sl_send_reply("404", "Not Here");
		exit;
	}
	if (is_method("OPTIONS") && uri == myself && $rU == $null) {
		sl_send_reply("200", "Ready"); # the readiness probe
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) t_relay();
		exit;
	}
	t_check_trans();
	remove_hf("Route");
	if (is_method("INVITE")) record_route();
	rewritehostport("127.0.0.1:${uasPort}");
	${proto === 'tcp' ? '$du = "sip:127.0.0.1:' + uasPort + ';transport=tcp";' : ''}
	if (!t_relay()) sl_reply_error();
	exit;
}
`;
}

/** One OPTIONS to the proxy, answered? (Kamailio's readiness.) */
function probeOptions(proto, port) {
  const msg = (lp) =>
    `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/${proto.toUpperCase()} 127.0.0.1:${lp};branch=z9hG4bKready${Date.now()};rport\r\n` +
    `From: <sip:bench@127.0.0.1>;tag=r\r\nTo: <sip:127.0.0.1:${port}>\r\nCall-ID: ready-${Date.now()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
  return new Promise((resolve) => {
    const done = (ok, close) => {
      clearTimeout(t);
      close();
      resolve(ok);
    };
    let t;
    if (proto === 'udp') {
      const s = dgram.createSocket('udp4');
      const close = () => s.close();
      t = setTimeout(() => done(false, close), 300);
      s.on('message', (b) => done(b.toString('latin1').startsWith('SIP/2.0 200'), close));
      s.bind(0, '127.0.0.1', () => s.send(msg(s.address().port), port, '127.0.0.1'));
    } else {
      const s = net.connect(port, '127.0.0.1');
      const close = () => s.destroy();
      t = setTimeout(() => done(false, close), 300);
      s.on('error', () => done(false, close));
      s.on('connect', () => s.write(msg(s.localPort)));
      s.on('data', (b) => done(b.toString('latin1').startsWith('SIP/2.0 200'), close));
    }
  });
}

/** How many processes the last Kamailio ran (for the notes under the table). */
let kamailioProcesses;

function startKamailio(proto, port, uasPort) {
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-kamailio-'));
  const cfgFile = join(dir, 'kamailio.cfg');
  writeFileSync(cfgFile, kamailioProxyConfig(proto, port, uasPort));
  // Foreground (-DD), own process group (detached) so that all its processes are found and stopped
  // together; -m: shared memory (MiB) for the closed loop's transactions held 5 s by the wait timer.
  const child = spawn(KAMAILIO, ['-f', cfgFile, '-DD', '-E', '-m', '256', '-M', '16', '-w', dir, '-Y', dir], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig)));
  let gone = false;
  void exited.then(() => (gone = true));
  const pgid = child.pid;
  let base;
  let peakPss = 0;
  let sampler;
  return {
    ready: (async () => {
      const t0 = Date.now();
      for (;;) {
        if (gone) throw new Error(`kamailio exited: ${stderr}`);
        if (await probeOptions(proto, port)) return;
        if (Date.now() - t0 > 15000) throw new Error(`kamailio not answering on ${proto}:${port}: ${stderr}`);
        await sleep(100);
      }
    })(),
    async mark() {
      const pids = groupPids(pgid);
      peakPss = pssOf(pids);
      sampler = setInterval(() => (peakPss = Math.max(peakPss, pssOf(groupPids(pgid)))), 500);
      base = cpuOf(pids);
    },
    async report() {
      const pids = groupPids(pgid);
      const now = cpuOf(pids);
      clearInterval(sampler);
      peakPss = Math.max(peakPss, pssOf(pids));
      const user = now.user - base.user;
      const system = now.system - base.system;
      kamailioProcesses = pids.length;
      return { cpuUserUs: user, cpuSystemUs: system, procUs: user + system, memBytes: peakPss };
    },
    async stop() {
      clearInterval(sampler);
      if (!gone) {
        try {
          process.kill(-pgid, 'SIGTERM');
        } catch {}
        const t = setTimeout(() => {
          try {
            process.kill(-pgid, 'SIGKILL');
          } catch {}
        }, 3000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- sipp ---------------------------------------------------------------------------------------

/** The UAS: answers every call (180, 200 with the Record-Route, then the BYE) until stopped. */
async function startUas(proto, dir) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = [
      '-sf', join(BENCH, 'scenarios', 'proxy-uas.xml'),
      '-t', proto === 'udp' ? 'u1' : 't1',
      '-i', '127.0.0.1', '-p', String(port),
      '-key', 'contact', `sip:127.0.0.1:${port};transport=${proto}`,
      '-l', '10000', '-nostdin', '-max_socket', '4096', '-buff_size', '4194304',
      '-trace_err', '-error_file', join(dir, 'uas-errors.log'),
    ];
    const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    // bound? (sipp exits at once when the port is taken)
    const t0 = Date.now();
    let up = false;
    while (!up && child.exitCode === null && Date.now() - t0 < 5000) {
      await sleep(50);
      up = proto === 'udp' ? portBound('/proc/net/udp', port) : portBound('/proc/net/tcp', port);
    }
    if (up) {
      return {
        port,
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(t);
        },
      };
    }
    child.kill('SIGKILL');
    if (attempt >= 3) throw new Error(`sipp UAS did not start: ${stderr.slice(0, 500)}`);
  }
}

function portBound(table, port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  return readFileSync(table, 'utf8').split('\n').some((l) => l.includes(`0100007F${hex}`));
}

/** The UAC: `calls` calls at `rate`/s (open loop, -l unbounded) or `rate` 0 (closed loop, -l `limit`). */
function runUac(proto, port, calls, dir, { rate = 0, limit = 200 } = {}) {
  const args = [
    `127.0.0.1:${port}`,
    '-sf', join(BENCH, 'scenarios', 'proxy-uac.xml'),
    '-t', proto === 'udp' ? 'u1' : 't1',
    '-i', '127.0.0.1',
    '-key', 'server', `127.0.0.1:${port}`, '-key', 'proto', proto,
    '-m', String(calls),
    '-l', String(rate > 0 ? 10000 : limit),
    '-r', String(rate > 0 ? rate : 1000000),
    '-nostdin',
    '-trace_stat', '-stf', join(dir, 'stats.csv'), '-fd', '1',
    '-trace_rtt', '-rtt_freq', '1000',
    '-trace_err', '-error_file', join(dir, 'errors.log'),
    '-max_socket', '4096', '-buff_size', '4194304',
  ];
  const t0 = process.hrtime.bigint();
  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      resolve({ code, wallMs, stderr, calls, ...readSippStats(dir) });
    });
  });
}

function readSippStats(dir) {
  const out = { successful: 0, failed: 0, retrans: 0, rtt: [], errors: '' };
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
    if (name.endsWith('_rtt.csv')) {
      for (const line of readFileSync(join(dir, name), 'utf8').split('\n').slice(1)) {
        const v = Number(line.split(';')[1]);
        if (line && Number.isFinite(v)) out.rtt.push(v);
      }
    }
  }
  if (existsSync(join(dir, 'errors.log'))) out.errors = readFileSync(join(dir, 'errors.log'), 'utf8').slice(0, 1500);
  return out;
}

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

/** The proxy section of bench/RESULTS.md as it stands (to keep it when the rest is rewritten). */
export function currentSection() {
  const file = join(BENCH, 'RESULTS.md');
  if (!existsSync(file)) return '';
  const md = readFileSync(file, 'utf8');
  const a = md.indexOf(SECTION_START);
  const b = md.indexOf(SECTION_END);
  return a >= 0 && b > a ? md.slice(a, b + SECTION_END.length) : '';
}

function writeSection(cfg, t, info) {
  const file = join(BENCH, 'RESULTS.md');
  const md = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
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
\`loose_route()\` for in-dialog requests, \`children=1\` (config in \`bench/proxy-calls.mjs\`). ${cfg.runs} measured run(s) per
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
  const a = md.indexOf(SECTION_START);
  const b = md.indexOf(SECTION_END);
  const out = a >= 0 && b > a ? md.slice(0, a) + section + md.slice(b + SECTION_END.length) : `${md.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, out);
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
  let git = '?';
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    git = dirty ? `${head} + uncommitted changes in src/` : head;
  } catch {}
  return { sipp, kamailio, git, date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), load: os.loadavg().map((x) => x.toFixed(2)).join(' ') };
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
    i.kproc = kamailioProcesses;
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
