// The `layers` part of `npm run bench` (`npm run bench:layers` alone, about 2 minutes): what each
// layer of (a) costs per request inside the process, without sockets, sipp or the kernel
// (bench/layers-child.mjs, one fresh process per layer and round, pinned to one core when taskset is
// there). The open loop measures the same layers over real sockets, where the machine's noise and
// its slow periods land on every figure; here the figures repeat within a few percent, so a change
// in one layer shows at once. Writes its own section of bench/RESULTS.md.
//
// Environment: BENCH_LAYERS_ROUNDS (default 3; the median is reported), BENCH_LAYERS_N (measured
// requests per process, default 300000), BENCH_NO_RESULTS=1 (print only).
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeVersion, writeResultsSection } from './results-section.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
export const LAYERS_START = '<!-- layers: start (bench/layers-part.mjs writes this section) -->';
export const LAYERS_END = '<!-- layers: end -->';

const STEPS = [
  { mode: 'parse', label: 'parse (`parseMessage`, top Via and Call-ID read)' },
  { mode: 'response', label: '+ `createResponse(200).toBuffer()`' },
  { mode: 'txn', label: '+ RFC 3261 server transaction (`TransactionLayer`)' },
  { mode: 'nest', metrics: '0', label: '+ SipServer dispatch and the Nest pipeline, metrics off' },
  { mode: 'nest', metrics: '1', label: '+ metrics on: (a) as `npm run bench` runs it' },
];

const hasTaskset = () => os.cpus().length >= 2 && spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;

function runChild(step, proto, n, pin) {
  const env = { ...process.env, LAYER_MODE: step.mode, LAYER_PROTO: proto, LAYER_N: String(n), LAYER_METRICS: step.metrics ?? '1' };
  const cmd = pin ? 'taskset' : process.execPath;
  const args = pin ? ['-c', String(os.cpus().length - 1), process.execPath, 'bench/layers-child.mjs'] : ['bench/layers-child.mjs'];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line?.startsWith('{')) reject(new Error(`layers-child ${step.mode}/${proto} exited with ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(line));
    });
  });
}

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Run every layer BENCH_LAYERS_ROUNDS times (in rounds: each layer once, then again); print and write the table. */
export async function runLayers({ noResults = false } = {}) {
  const rounds = Math.max(1, Number(process.env.BENCH_LAYERS_ROUNDS ?? 3));
  const n = Math.max(10000, Number(process.env.BENCH_LAYERS_N ?? 300000));
  const pin = hasTaskset();
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const ns = new Map(); // `${proto} ${i}` -> ns per request, one per round
  for (let r = 0; r < rounds; r++) {
    for (const proto of ['udp', 'tcp']) {
      for (let i = 0; i < STEPS.length; i++) {
        const res = await runChild(STEPS[i], proto, n, pin);
        const key = `${proto} ${i}`;
        ns.set(key, [...(ns.get(key) ?? []), res.nsPerReq]);
        console.log(`[bench] layers round ${r + 1}: ${proto} ${STEPS[i].mode}${STEPS[i].metrics === '0' ? ' (metrics off)' : ''} ${(res.nsPerReq / 1000).toFixed(2)} us/req${res.completed ? `, ${res.completed} completed kept` : ''}`);
      }
    }
  }
  const us = (proto, i) => median(ns.get(`${proto} ${i}`)) / 1000;
  const spread = (proto, i) => {
    const xs = ns.get(`${proto} ${i}`);
    return (Math.max(...xs) - Math.min(...xs)) / median(xs);
  };
  const rows = STEPS.map((s, i) => {
    // The metrics row adds to the metrics-off one; the others to the row above.
    const below = i === 0 ? undefined : i - 1;
    const cells = [s.label];
    for (const proto of ['udp', 'tcp']) {
      cells.push(us(proto, i).toFixed(2), below === undefined ? '-' : `${us(proto, i) - us(proto, below) >= 0 ? '+' : ''}${(us(proto, i) - us(proto, below)).toFixed(2)}`);
    }
    cells.push(`${(100 * Math.max(spread('udp', i), spread('tcp', i))).toFixed(0)}%`);
    return cells;
  });
  const head = ['layer', 'UDP µs/req', 'added', 'TCP µs/req', 'added', 'spread of the rounds'];
  const table = [
    `| ${head.join(' | ')} |`,
    `|---|${head.slice(1).map(() => '---:').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  console.log(table);
  if (noResults) return rows;
  const section = `${LAYERS_START}
## Layers in-process: what each layer of (a) costs, without sockets

Generated by \`npm run bench\` (the \`layers\` part; \`npm run bench:layers\` alone) on ${new Date().toISOString()},
code ${codeVersion(['src', 'bench'])}; Node ${process.version}; ${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} cores (load average ${load} at the start,
${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the end); each process ${pin ? `pinned to CPU ${os.cpus().length - 1}` : 'unpinned (no taskset)'}.

sipp's OPTIONS (every one new: a counter in its branch, From tag and Call-ID) handed to our code in one process, in
batches of 32 with a turn of the event loop between them, no socket: the datagram's bytes in, the response's bytes out
to a send that goes nowhere (\`bench/layers-child.mjs\`). Each layer is a fresh process, warmed up with 34 s of
simulated traffic at 8,000/s (272,000 requests: V8 has compiled the path and a UDP layer's Timer J table is at its
bound of 200,000 records, evicting the oldest as under that load) and then timed over ${n.toLocaleString('en-US')} requests; median of
${rounds} round(s), each round every layer once. "added" is the difference from the row above (the metrics row: from metrics
off). Together the same layers cost about twice as much in the open loop over sockets (the table above), the
transaction layer most of all: there the kernel's receive and send, sipp on the other core and the machine's other
work share the caches with them, and the figure is the process's CPU time, not its wall time per request.

${table}
${LAYERS_END}`;
  writeResultsSection(section, LAYERS_START, LAYERS_END);
  console.log('[bench] wrote the layers section of bench/RESULTS.md');
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runLayers({ noResults: process.env.BENCH_NO_RESULTS === '1' });
}
