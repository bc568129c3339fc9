// The peers of the proxied-call bench (bench/proxy-calls.mjs): the two proxies (ours in a child
// process speaking bench/apps/harness.mjs's IPC protocol; Kamailio with its config, its CPU and
// memory read from /proc for all its processes) and the two sipp ends (UAS until stopped, UAC for a
// number of calls), each on a free port of 127.0.0.1.
import { execFileSync, fork, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
export const KAMAILIO = process.env.KAMAILIO || '/usr/sbin/kamailio';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port free for TCP and UDP on 127.0.0.1, below the ephemeral range. */
export async function freePort() {
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
export function startNest(proto, port, uasPort, profileFile) {
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
export const kamailioProcessCount = () => kamailioProcesses;

export function startKamailio(proto, port, uasPort) {
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-kamailio-'));
  const cfgFile = join(dir, 'kamailio.cfg');
  writeFileSync(cfgFile, kamailioProxyConfig(proto, port, uasPort));
  // Foreground (-DD), own process group (detached) so that all its processes are found and stopped
  // together; -m: shared memory (MiB) for the closed loop's transactions held 5 s by the wait timer
  // (with 256 it ran out there: calls failed with `500 No error (2/SL)`, Kamailio's E_OUT_OF_MEM).
  const child = spawn(KAMAILIO, ['-f', cfgFile, '-DD', '-E', '-m', '1024', '-M', '16', '-w', dir, '-Y', dir], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
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
export async function startUas(proto, dir) {
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
export function runUac(proto, port, calls, dir, { rate = 0, limit = 200 } = {}) {
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
