// SipClient requests per second: OPTIONS to a sipp UAS (test/sipp/client-options.xml), one at a
// time and 100 in flight, over UDP and TCP.
//
//   npm run build && node bench/client-rps.mjs [--count 5000] [--concurrency 100] [--rounds 3] [--transports udp,tcp]
//
// Imports the built package (dist/). Needs sipp (Debian: sip-tester). Each cell is the median of
// `rounds` runs of `count` requests; "CPU us/req" is this process's CPU time (user+system) per
// request, which moves much less than wall-clock rates when sipp and other work share the cores.
// Numbers depend on the machine; compare runs on one machine only.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lastValueFrom } from 'rxjs';
import { SipClient } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
};
const COUNT = Number(opt('count', 5000));
const CONCURRENCY = Number(opt('concurrency', 100));
const TRANSPORTS = opt('transports', 'udp,tcp').split(',');
const ROUNDS = Number(opt('rounds', 3));
const WARMUP = Math.min(1000, COUNT);
const scenario = fileURLToPath(new URL('../test/sipp/client-options.xml', import.meta.url));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** True once something listens on 127.0.0.1:port (TCP LISTEN or a bound UDP socket), from /proc/net. */
function bound(port, proto) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync(`/proc/net/${proto}`, 'utf8')
    .split('\n')
    .slice(1)
    .some((line) => {
      const c = line.trim().split(/\s+/);
      return c[1]?.endsWith(hex) && (proto === 'udp' || c[3] === '0A');
    });
}

async function startUas(transport) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const proto = transport === 'udp' ? 'udp' : 'tcp';
    const child = spawn(
      'sipp',
      ['-sf', scenario, '-i', '127.0.0.1', '-p', String(port), '-t', transport === 'udp' ? 'u1' : 't1', '-nostdin', '-skip_rlimit', '-max_socket', '4096',
        '-key', 'contact', `sip:127.0.0.1:${port};transport=${proto}`, '-trace_err', '-error_file', '/dev/null'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let exited = false;
    child.on('exit', () => (exited = true));
    child.on('error', (err) => {
      console.error(`cannot run sipp: ${err.message}`);
      process.exit(2);
    });
    for (let i = 0; i < 500 && !exited && !bound(port, proto); i++) await sleep(10);
    if (!exited) return { port, child };
  }
  throw new Error('sipp did not start');
}

async function run(client, uri, count, concurrency) {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      try {
        const res = await lastValueFrom(client.send('OPTIONS', { uri }));
        if (res.status !== 200) failed++;
      } catch {
        failed++;
      }
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  return { ms, rps: (count / ms) * 1000, cpuUs: (cpu.user + cpu.system) / count, failed };
}

const rows = [];
for (const transport of TRANSPORTS) {
  const uas = await startUas(transport);
  const client = new SipClient({ localHost: '127.0.0.1' });
  const uri = `sip:bench@127.0.0.1:${uas.port};transport=${transport}`;
  try {
    await run(client, uri, WARMUP, Math.min(CONCURRENCY, 50));
    for (const c of [1, CONCURRENCY]) {
      const runs = [];
      for (let i = 0; i < ROUNDS; i++) runs.push(await run(client, uri, COUNT, c));
      const median = (f) => runs.map(f).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
      rows.push({
        transport: transport.toUpperCase(),
        mode: c === 1 ? 'sequential' : `${c} concurrent`,
        requests: `${ROUNDS} x ${COUNT}`,
        rps: Math.round(median((r) => r.rps)),
        'min-max rps': `${Math.round(Math.min(...runs.map((r) => r.rps)))}-${Math.round(Math.max(...runs.map((r) => r.rps)))}`,
        'CPU us/req': median((r) => r.cpuUs).toFixed(0),
        failed: runs.reduce((n, r) => n + r.failed, 0),
      });
    }
  } finally {
    await client.close();
    uas.child.kill('SIGKILL');
  }
}

const cols = ['transport', 'mode', 'requests', 'rps', 'min-max rps', 'CPU us/req', 'failed'];
const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
const line = (cells) => '| ' + cells.map((v, i) => String(v).padEnd(width[i])).join(' | ') + ' |';
console.log(`SipClient OPTIONS to a sipp UAS on 127.0.0.1, node ${process.version}, ${(await import('node:os')).cpus().length} CPUs, load ${(await import('node:os')).loadavg()[0].toFixed(1)}`);
console.log(line(cols));
console.log('|' + width.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const r of rows) console.log(line(cols.map((c) => r[c])));
