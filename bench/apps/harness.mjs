// Shared by every bench server: measures the server process's own CPU time and peak RSS, and talks
// to bench/run.mjs over the IPC channel (fork()).
//
//   child -> parent  { type: 'ready', port }              once listening
//   parent -> child  { cmd: 'mark' }                      start a measurement window (CPU baseline, peaks reset)
//   child -> parent  { type: 'marked' }
//   parent -> child  { cmd: 'report' }                    end the window
//   child -> parent  { type: 'report', cpuUserUs, cpuSystemUs, peakRss, peakConns, gcMs, gcCount, wallMs, extra }
//   parent -> child  { cmd: 'stop' }                      close and exit (exiting also lets `node --cpu-prof` write its profile)
//
// Without IPC (run by hand: `node bench/apps/bare-dgram.mjs`), the report is printed on SIGINT/SIGTERM.
//
// Environment: BENCH_PROTO=udp|tcp (default udp), BENCH_PORT (default 5060), BENCH_HOST (127.0.0.1),
// BENCH_SAMPLE_MS (RSS / connection sampling period, default 100), BENCH_UDP_RCVBUF (SO_RCVBUF, 0 = default).
import { readFileSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import { Session } from 'node:inspector';
import { PerformanceObserver } from 'node:perf_hooks';
import process from 'node:process';

export const proto = process.env.BENCH_PROTO === 'tcp' ? 'tcp' : 'udp';
export const port = Number(process.env.BENCH_PORT ?? 5060);
export const host = process.env.BENCH_HOST ?? '127.0.0.1';
const sampleMs = Number(process.env.BENCH_SAMPLE_MS ?? 100);
/** SO_RCVBUF for the UDP socket (BENCH_UDP_RCVBUF; 0 = Node's default), the same for every server. */
export const udpRcvbuf = Number(process.env.BENCH_UDP_RCVBUF ?? 0);

/**
 * BENCH_CPU_PROFILE=<file>: a V8 CPU profile (what `node --cpu-prof` writes) of the measurement window
 * only (mark..report), sampled every 100 us, so that start-up, warm-up and shutdown stay out of it.
 */
const cpuProfileFile = process.env.BENCH_CPU_PROFILE;
let session;
function post(method, params) {
  return new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
}
async function startProfile() {
  if (!cpuProfileFile) return;
  session = new Session();
  session.connect();
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
  await post('Profiler.start');
}
async function stopProfile() {
  if (!session) return;
  const { profile } = await post('Profiler.stop');
  writeFileSync(cpuProfileFile, JSON.stringify(profile));
  session.disconnect();
  session = undefined;
}

/** Apply BENCH_UDP_RCVBUF to a bound dgram socket. */
export function tuneUdp(sock) {
  if (udpRcvbuf > 0) sock.setRecvBufferSize(udpRcvbuf);
}

/**
 * @param {object} o
 * @param {() => number} [o.connections]  open TCP connections now (sampled for the peak)
 * @param {() => object} [o.extra]        anything else worth reporting (counters)
 * @param {() => Promise<void> | void} o.close
 */
export function serve(o) {
  let base = process.cpuUsage();
  let t0 = performance.now();
  let peakRss = process.memoryUsage.rss();
  let peakConns = 0;
  // Main-thread GC pauses in the window (ms, count): what garbage costs this server per request.
  let gcMs = 0;
  let gcCount = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcCount++;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const sample = () => {
    const rss = process.memoryUsage.rss();
    if (rss > peakRss) peakRss = rss;
    if (o.connections) {
      const c = o.connections();
      if (c > peakConns) peakConns = c;
    }
  };
  const timer = setInterval(sample, sampleMs);
  timer.unref();

  const report = () => {
    sample();
    const d = process.cpuUsage(base);
    return {
      type: 'report',
      cpuUserUs: d.user,
      cpuSystemUs: d.system,
      peakRss,
      peakConns,
      gcMs,
      gcCount,
      wallMs: performance.now() - t0,
      extra: o.extra ? o.extra() : undefined,
    };
  };
  const stop = async () => {
    clearInterval(timer);
    gcObserver.disconnect();
    try {
      await o.close();
    } finally {
      process.exit(0);
    }
  };

  if (process.send) {
    process.on('message', async (m) => {
      if (m?.cmd === 'mark') {
        await startProfile();
        peakRss = process.memoryUsage.rss();
        peakConns = o.connections ? o.connections() : 0;
        t0 = performance.now();
        gcMs = 0;
        gcCount = 0;
        base = process.cpuUsage();
        process.send({ type: 'marked', extra: o.extra ? o.extra() : undefined });
      } else if (m?.cmd === 'report') {
        const r = report();
        await stopProfile();
        process.send(r);
      } else if (m?.cmd === 'stop') {
        void stop();
      }
    });
    process.on('disconnect', () => void stop());
    process.send({ type: 'ready', port, proto });
  } else {
    console.log(`listening ${proto} ${host}:${port} (Ctrl-C for the report)`);
    const onSignal = () => {
      console.log(JSON.stringify(report()));
      void stop();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
}

/** RSS split: private memory (heap, buffers, stacks) and file-backed pages (the node binary's code, shared). */
export function rssSplit() {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) * 1024;
    return { anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return undefined;
  }
}

/** Resident bytes of V8's young generation (new space: two semi-spaces, which V8 grows to 2 x 16 MiB). */
export function youngGen() {
  let n = 0;
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space' || s.space_name === 'new_large_object_space') n += s.physical_space_size;
  return n;
}
