// The measuring half of the scale-out part of `npm run bench` (issue 15); bench/scale-part.mjs starts
// it (with the TypeScript loader, for the test helpers), makes the table and writes its section of
// bench/RESULTS.md. For 1, 2 and 4 example instances (deploy/run-instances.mjs) behind Kamailio's
// dispatcher (deploy/kamailio/kamailio.cfg as shipped), sipp calls to the echo service through the
// balancer (INVITE/200/ACK/BYE, record-routed, bench/scenarios/lb-call.xml: no pause, so that the
// closed loop is bound by the processes, not by the scenario):
// - open loop, BENCH_SCALE_RATE calls/s for BENCH_SCALE_CALLS calls: CPU per call of the instances
//   (utime+stime of every instance from /proc), of Kamailio (every process of its group) and of sipp;
// - closed loop, sipp -l BENCH_SCALE_LIMIT for BENCH_SCALE_CLOSED_CALLS calls as fast as they complete:
//   calls/s, and how the cores were shared out in that window (instances, Kamailio, sipp, everything else).
// Prints one JSON line (`SCALE-RESULT {...}`) at the end. Runs against dist-example.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { startBalancer, startInstances } from '../test/helpers/deploy.js';
import { killAllSipp, runSipp } from '../test/helpers/sipp.js';

const env = (k: string, d: number): number => (process.env[k] ? Number(process.env[k]) : d);
const RATE = env('BENCH_SCALE_RATE', 100);
const CALLS = env('BENCH_SCALE_CALLS', 2000);
const CLOSED = env('BENCH_SCALE_CLOSED_CALLS', 4000);
// Calls in flight in the closed loop: enough to keep every instance busy, few enough that no instance's
// overload gate (200 ms of event-loop lag) starts refusing calls on this shared machine.
const LIMIT = env('BENCH_SCALE_LIMIT', 30);
const WARMUP = env('BENCH_SCALE_WARMUP', 300);
const WORKERS = (process.env.BENCH_SCALE_WORKERS ?? '1,2,4').split(',').map(Number);
const TICK_US = 1e6 / 100; // CLK_TCK: /proc counts CPU time in 10 ms ticks

/** utime+stime of `pid` in µs; with `children`, of the children it has waited for (cutime+cstime). */
function cpuUs(pid: number | 'self', children = false): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    const at = children ? 13 : 11;
    return (Number(rest[at]) + Number(rest[at + 1])) * TICK_US;
  } catch {
    return 0; // gone
  }
}

/** CPU time every core of the machine spent busy (not idle or iowait), in µs: /proc/stat's first line. */
function machineBusyUs(): number {
  const f = readFileSync('/proc/stat', 'utf8');
  const v = f.slice(0, f.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest is inside user)
  return (v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + v[7]!) * TICK_US;
}

/** Every process of process group `pgid` (Kamailio's main process and its workers). */
function group(pgid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[2]) === pgid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

export interface ScaleRow {
  workers: number;
  open: { ok: number; failed: number; instUs: number; kamUs: number; sippUs: number };
  closed: { ok: number; failed: number; cps: number; secs: number; instShare: number; kamShare: number; sippShare: number; machineShare: number };
  errors: string;
}

const rows: ScaleRow[] = [];
const loadStart = loadavg();
for (const n of WORKERS) {
  const inst = await startInstances({ count: n, mediaSpan: 400 });
  const lb = await startBalancer(inst.listFile);
  try {
    const call = (calls: number, rate: number, limit: number) =>
      runSipp({ scenario: '../../bench/scenarios/lb-call.xml', target: `127.0.0.1:${lb.port}`, calls, rate, limit, timeout: 180, keys: { server: `127.0.0.1:${lb.port}`, proto: 'udp' }, args: ['-s', 'echo'] });
    const kam = group(lb.pid!);
    const sample = () => ({
      inst: inst.list.reduce((a, i) => a + cpuUs(i.pid), 0),
      kam: kam.reduce((a, p) => a + cpuUs(p), 0),
      // sipp is our child: its CPU reaches our cutime/cstime once it has exited and been waited for.
      sipp: cpuUs('self', true),
      machine: machineBusyUs(),
      t: performance.now(),
    });
    const w = await call(WARMUP, 100, 100); // JIT, pools, Kamailio's first transactions
    if (w.successful === 0) throw new Error(`${n} instance(s): the warm-up calls all failed: ${w.errors.slice(0, 1500)}`);
    let a = sample();
    const open = await call(CALLS, RATE, 500);
    let b = sample();
    const per = (x: number) => x / Math.max(1, open.successful);
    const openRow = { ok: open.successful, failed: open.failed, instUs: per(b.inst - a.inst), kamUs: per(b.kam - a.kam), sippUs: per(b.sipp - a.sipp) };
    a = sample();
    const closed = await call(CLOSED, 5000, LIMIT);
    b = sample();
    const secs = (b.t - a.t) / 1000;
    const share = (x: number) => x / (secs * 1e6); // cores busy on average
    rows.push({
      workers: n,
      open: openRow,
      closed: { ok: closed.successful, failed: closed.failed, cps: closed.successful / secs, secs, instShare: share(b.inst - a.inst), kamShare: share(b.kam - a.kam), sippShare: share(b.sipp - a.sipp), machineShare: share(b.machine - a.machine) },
      errors: [open.errors, closed.errors].join('').split('\n').filter((l) => /Aborting|timed out/.test(l)).slice(0, 3).join('\n'),
    });
    const r = rows[rows.length - 1]!;
    console.error(
      `scale ${n} instance(s): open ${r.open.ok} ok / ${r.open.failed} failed, CPU per call ${Math.round(r.open.instUs)} us instances, ${Math.round(r.open.kamUs)} us Kamailio, ${Math.round(r.open.sippUs)} us sipp; ` +
        `closed ${Math.round(r.closed.cps)} calls/s, ${r.closed.failed} failed, cores busy: instances ${r.closed.instShare.toFixed(2)}, Kamailio ${r.closed.kamShare.toFixed(2)}, sipp ${r.closed.sippShare.toFixed(2)}, whole machine ${r.closed.machineShare.toFixed(2)}; load ${loadavg()[0]!.toFixed(2)}`,
    );
    if (r.errors) console.error(r.errors);
  } finally {
    killAllSipp();
    await lb.stop();
    await inst.stop();
  }
}

console.log(`SCALE-RESULT ${JSON.stringify({ rows, cores: cpus().length, rate: RATE, calls: CALLS, closedCalls: CLOSED, limit: LIMIT, loadStart, loadEnd: loadavg() })}`);
process.exit(0);
