// Live transactions: what the server pays in memory and CPU per request for the UDP server
// transactions it keeps (issue 16). A UDP non-INVITE server transaction stays in Completed state for
// Timer J (64*T1 = 32 s) to answer retransmissions, so at a steady rate R it holds R*32 of them.
//
// (a), the Nest SipServer of bench/apps/nest-sip-server.mjs, gets UDP OPTIONS from sipp at one fixed
// open-loop rate (BENCH_LIVE_RATE, 3,125/s) in every case; only T1 changes (5, 50, 500 ms), so the
// server holds about 1,000, 10,000 and 100,000 live transactions while the same load is measured.
// Each case: the table fills for J + 3 s, then a window of BENCH_LIVE_WINDOW s is measured: CPU per
// request (process.cpuUsage over the requests the server took in the window), live transactions (open
// plus Completed records, read from the server), RSS at the end of the window and its peak.
//
//   BENCH_PARTS=live npm run bench     or     node bench/live-transactions.mjs
//   BENCH_LIVE_RATE=3125  BENCH_LIVE_WINDOW=10  BENCH_LIVE_CASES=5,50,500 (T1 values in ms)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './proxy-peers.mjs';
import { forkServer } from './server-child.mjs';
import { codeVersion, writeResultsSection } from './results-section.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH, '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => console.log(`[bench live] ${s}`);
const IDLE_SETTLE_MS = 3000;

export function liveConfig() {
  return {
    rate: Number(process.env.BENCH_LIVE_RATE ?? 3125),
    windowS: Number(process.env.BENCH_LIVE_WINDOW ?? 10),
    t1s: (process.env.BENCH_LIVE_CASES ?? '5,50,500').split(',').map(Number),
    /** The issue's bound for 100,000 live transactions (MB, 10^6 bytes). */
    rssTargetMB: 150,
  };
}

/** The servers measured: (a), and at the largest T1 only, (a2) (the same layers without Nest). */
const APPS = {
  a: { file: 'nest-sip-server.mjs', label: '(a) nest SipServer' },
  a2: { file: 'pool-transactions.mjs', label: '(a2) pool + transactions, no Nest' },
};

function startServer(port, t1, app) {
  const env = { ...process.env, BENCH_PROTO: 'udp', BENCH_PORT: String(port), BENCH_HOST: '127.0.0.1', BENCH_T1: String(t1), BENCH_UDP_RCVBUF: '4194304' };
  delete env.BENCH_CPU_PROFILE;
  return forkServer(join(BENCH, 'apps', APPS[app].file), env, 'live bench server', ROOT);
}

function startSipp(port, rate, dir) {
  const args = [
    `127.0.0.1:${port}`, '-sf', join(BENCH, 'scenarios', 'options-uac.xml'), '-t', 'u1', '-i', '127.0.0.1',
    '-r', String(rate), '-l', '50000', '-m', '100000000', '-nostdin', '-buff_size', '4194304',
    '-trace_stat', '-stf', join(dir, 'stats.csv'), '-fd', '1',
  ];
  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise((resolve) => child.on('close', resolve));
  return {
    async stop() {
      child.kill('SIGUSR1'); // sipp: stop the scenario and dump the final statistics
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await closed;
      clearTimeout(t);
      return { stderr, ...sippCounts(dir) };
    },
  };
}

function sippCounts(dir) {
  const f = join(dir, 'stats.csv');
  if (!existsSync(f)) return { failed: 0, retrans: 0 };
  const lines = readFileSync(f, 'utf8').trim().split('\n');
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  const col = (n) => Number(last[head.indexOf(n)]);
  return { failed: col('FailedCall(C)'), retrans: col('Retransmissions(C)') };
}

async function measureCase(cfg, t1, app = 'a') {
  const port = await freePort();
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-live-'));
  const srv = startServer(port, t1, app);
  await srv.ready;
  // The process before its first request (Node, Nest and this package loaded, nothing received): the
  // floor under every figure below.
  await sleep(IDLE_SETTLE_MS);
  const idle = (await srv.call('mark', 'marked')).extra;
  const sipp = startSipp(port, cfg.rate, dir);
  try {
    const jMs = 64 * t1;
    await sleep(jMs + 3000);
    const m = await srv.call('mark', 'marked');
    await sleep(cfg.windowS * 1000);
    const rep = await srv.call('report', 'report');
    const s = await sipp.stop();
    const requests = rep.extra.transactions.serverCreated - m.extra.transactions.serverCreated;
    const mem = rep.extra.memory;
    return {
      app,
      t1,
      jS: jMs / 1000,
      live: rep.extra.live,
      requests,
      cpuUsPerReq: (rep.cpuUserUs + rep.cpuSystemUs) / requests,
      rssMiB: mem.rss / 2 ** 20,
      idleRssMiB: idle.memory.rss / 2 ** 20,
      idleYoungMiB: (idle.youngGen ?? NaN) / 2 ** 20,
      youngMiB: (rep.extra.youngGen ?? NaN) / 2 ** 20,
      anonMiB: (rep.extra.rssSplit?.anon ?? NaN) / 2 ** 20,
      fileMiB: (rep.extra.rssSplit?.file ?? NaN) / 2 ** 20,
      peakRssMiB: rep.peakRss / 2 ** 20,
      heapMiB: mem.heapUsed / 2 ** 20,
      externalMiB: (mem.external + mem.arrayBuffers) / 2 ** 20,
      gcUsPerReq: (rep.gcMs * 1000) / requests,
      failed: s.failed,
    };
  } finally {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const f0 = (x) => Math.round(x).toLocaleString('en-US');
const f1 = (x) => x.toFixed(1);

function rows(results) {
  const base = results[0];
  const head = ['server', 'T1 ms', 'Timer J', 'live transactions', 'CPU us/req', 'x 1st case', 'GC us/req', 'RSS MiB', 'of it private', 'of it file-backed', 'peak RSS MiB', 'heap MiB', 'young gen MiB', 'RSS idle MiB', 'failed'];
  return [
    head,
    ...results.map((r) => [APPS[r.app].label, String(r.t1), `${r.jS} s`, f0(r.live), f1(r.cpuUsPerReq), (r.cpuUsPerReq / base.cpuUsPerReq).toFixed(2), f1(r.gcUsPerReq), f1(r.rssMiB), f1(r.anonMiB), f1(r.fileMiB), f1(r.peakRssMiB), f1(r.heapMiB), f1(r.youngMiB), f1(r.idleRssMiB), String(r.failed)]),
  ];
}

function asMarkdown(t) {
  return [`| ${t[0].join(' | ')} |`, `|${t[0].map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`, ...t.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export const SECTION_START = '<!-- live-transactions: start (bench/live-transactions.mjs writes this section) -->';
export const SECTION_END = '<!-- live-transactions: end -->';

function writeSection(cfg, results, target) {
  const git = codeVersion(['src', 'bench']);
  const section = `${SECTION_START}
## Live transactions: memory and CPU per request at 1k, 10k and 100k

Generated by \`npm run bench\` (or \`node bench/live-transactions.mjs\`) on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; Node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the end (${os.cpus().length} cores, shared with sipp).
(a) as above (one \`@MessagePattern('OPTIONS')\` handler), UDP OPTIONS from sipp at a fixed ${f0(cfg.rate)}/s in every case;
only T1 changes, so Timer J (64*T1) keeps about rate x J transactions alive (open ones plus the Completed-state
records that answer retransmissions). Each case fills for J + 3 s, then ${cfg.windowS} s are measured. RSS at the end of the window;
young gen = V8's new space resident then; RSS idle = the same server ${IDLE_SETTLE_MS / 1000} s after it started, before its first request.
Code: ${git} (dist/ built from that working tree).

${asMarkdown(rows(results))}

${target}
${SECTION_END}`;
  writeResultsSection(section, SECTION_START, SECTION_END);
}

/**
 * RSS (and of it file-backed pages) of a Node process (the same binary as the servers) that has
 * imported `modules` and nothing else, in MiB.
 */
function nodeRss(modules = []) {
  const code = `${modules.map((m) => `await import(${JSON.stringify(m)});`).join(' ')} setTimeout(async () => { const s = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8'); ` +
    `console.log(process.memoryUsage.rss(), Number(/RssFile:\\s+(\\d+)/.exec(s)[1]) * 1024); }, 1000);`;
  try {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', cwd: ROOT });
    const [rss, file] = out.trim().split(' ').map(Number);
    return { rss: rss / 2 ** 20, file: file / 2 ** 20 };
  } catch {
    return { rss: NaN, file: NaN };
  }
}

/** The verdict, and what the RSS of the largest case is made of. */
function targetLine(cfg, results, big, alone, bare, nest) {
  const aloneMiB = alone.rss;
  const small = results[0];
  const limitMiB = (cfg.rssTargetMB * 1e6) / 2 ** 20;
  const perTxn = ((big.rssMiB - small.rssMiB) * 2 ** 20) / (big.live - small.live);
  const records = big.rssMiB - big.idleRssMiB - (big.youngMiB - big.idleYoungMiB);
  return (
    `Target: 100,000 live transactions in at most ${cfg.rssTargetMB} MB (${f1(limitMiB)} MiB) RSS: ${f0(big.live)} live in ${f1(big.rssMiB)} MiB -> ${big.rssMiB <= limitMiB ? 'met' : 'MISSED'}. ` +
    `What it is made of: the same server before its first request holds ${f1(big.idleRssMiB)} MiB (Node, Nest and this package loaded; ` +
    `a Node process that has loaded nothing: ${f1(aloneMiB)} MiB); under load V8's young generation grows from ${f1(big.idleYoungMiB)} to ${f1(big.youngMiB)} MiB ` +
    `(V8's own sizing; \`node --max-semi-space-size\` caps it); the rest, ${f1(records)} MiB, is the live transactions and what serves them: ` +
    `about ${f0(perTxn)} bytes per further live transaction between the first case and this one (a Completed record keeps the response as sent, ` +
    `its key and the source address). CPU per request at the most live vs the fewest: ${(big.cpuUsPerReq / small.cpuUsPerReq).toFixed(2)}x.` +
    (bare === undefined
      ? ''
      : `\n\nThe same layers without Nest, ${APPS.a2.label}: ${f0(bare.live)} live in ${f1(bare.rssMiB)} MiB -> ${bare.rssMiB <= limitMiB ? 'within' : 'over'} the bound ` +
        `(idle before its first request: ${f1(bare.idleRssMiB)} MiB). ` +
        (bare.rssMiB <= limitMiB && big.rssMiB > limitMiB
          ? `So the transactions fit in it; what puts (a) over it is the floor a Nest application starts from: ${f1(big.idleRssMiB)} MiB idle, ` +
            `${f1(big.idleRssMiB - bare.idleRssMiB)} MiB more than the same process without Nest (a Node process that has only imported \`@nestjs/core\` and ` +
            `\`@nestjs/microservices\`: ${f1(nest.rss)} MiB, of it ${f1(nest.file)} MiB of the node binary's code pages, against ${f1(alone.file)} MiB for one that imported nothing).`
          : ''))
  );
}

export async function runLiveTransactions(cfg = liveConfig(), { write = true } = {}) {
  const results = [];
  for (const t1 of cfg.t1s) {
    const r = await measureCase(cfg, t1);
    log(`T1 ${t1} ms: ${f0(r.live)} live, ${f1(r.cpuUsPerReq)} us/req, GC ${f1(r.gcUsPerReq)} us/req, RSS ${f1(r.rssMiB)} MiB (peak ${f1(r.peakRssMiB)}), heap ${f1(r.heapMiB)} MiB, failed ${r.failed}`);
    results.push(r);
  }
  // The largest case once more without Nest: what the transactions cost apart from Nest's floor.
  const biggest = Math.max(...cfg.t1s);
  const bare = await measureCase(cfg, biggest, 'a2');
  log(`${APPS.a2.label}, T1 ${biggest} ms: ${f0(bare.live)} live, RSS ${f1(bare.rssMiB)} MiB (idle ${f1(bare.idleRssMiB)}), failed ${bare.failed}`);
  results.push(bare);
  console.log(`\n${rows(results).map((r) => r.join('\t')).join('\n')}\n`);
  const big = results.find((r) => r.app === 'a' && r.live >= 90000);
  const bareBig = bare.live >= 90000 ? bare : undefined;
  const target = big ? targetLine(cfg, results, big, nodeRss(), bareBig, nodeRss(['@nestjs/core', '@nestjs/microservices'])) : 'Target: not measured (no case reached 100,000 live transactions).';
  console.log(target);
  if (write && !process.env.BENCH_NO_RESULTS) {
    writeSection(cfg, results, target);
    log('wrote its section of bench/RESULTS.md');
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runLiveTransactions();
