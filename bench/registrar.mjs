#!/usr/bin/env node
// `npm run bench:registrar`: what a REGISTER costs the registrar (SipRegistrar.register, §10.3 rules
// and the store) with the in-memory store and with the Redis store (a redis-server of its own on a
// free loopback port, no persistence), and what a lookup costs. No SIP sockets: the requests are
// parsed beforehand, so the figures are the registrar's and the store's alone.
//
// A storm of BENCH_REG_AORS AORs (default 10,000), each registering once and then refreshing,
// BENCH_REG_CONCURRENCY REGISTERs in flight (default 64). Columns:
//   REGISTER/s      wall-clock rate of the whole run
//   app CPU us/REG  this process's CPU (user+system) per REGISTER
//   redis CPU us/REG  redis-server's CPU per REGISTER (INFO cpu), Redis only
//   lookup/s        lookups of random AORs, same concurrency
//   memory          app heap growth after the storm (memory), Redis used_memory growth (Redis)
// Environment: BENCH_REG_AORS, BENCH_REG_CONCURRENCY, BENCH_REG_ROUNDS (refresh rounds, default 2).
import { spawn } from 'node:child_process';
import { createServer, createConnection } from 'node:net';
import { MemoryLocationStore, RedisLocationStore, SipRegistrar, parseMessage } from '../dist/index.js';

const AORS = Number(process.env.BENCH_REG_AORS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_REG_CONCURRENCY ?? 64);
const ROUNDS = Number(process.env.BENCH_REG_ROUNDS ?? 2);

function request(i, cseq) {
  return parseMessage(
    [
      'REGISTER sip:example.test SIP/2.0',
      `Via: SIP/2.0/UDP 192.0.2.${i % 250}:5060;branch=z9hG4bK${i}x${cseq}`,
      `From: <sip:user${i}@example.test>;tag=t${i}`,
      `To: <sip:user${i}@example.test>`,
      `Call-ID: reg-${i}@bench`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:user${i}@192.0.2.${i % 250}:${5060 + (i % 1000)}>;+sip.instance="<urn:uuid:${i}>";reg-id=1`,
      'Expires: 3600',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
}

async function pool(n, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
}

async function measure(name, store, redisCpu, redisMem) {
  const registrar = new SipRegistrar({ store, node: 'bench' });
  const from = { proto: 'udp', addr: '192.0.2.1', port: 5060, family: 4, socket: {} };
  // Warm-up on other AORs.
  await pool(2000, async (k) => void (await registrar.register(request(AORS + k, 1), from)));
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const reqs = [];
  for (let r = 1; r <= ROUNDS; r++) for (let i = 0; i < AORS; i++) reqs.push(request(i, r));
  const mem0 = redisMem ? await redisMem() : 0;
  const rcpu0 = redisCpu ? await redisCpu() : 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let failed = 0;
  await pool(reqs.length, async (k) => {
    const r = await registrar.register(reqs[k], from);
    if (r.status !== 200) failed++;
  });
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const rcpu = redisCpu ? (await redisCpu()) - rcpu0 : undefined;
  const total = reqs.length;
  reqs.length = 0; // the parsed requests (and the views parsed on them) are not the store's
  globalThis.gc?.();
  const heap = process.memoryUsage().heapUsed - heap0;
  const mem = redisMem ? (await redisMem()) - mem0 : undefined;
  const l0 = performance.now();
  const LOOKUPS = 20_000;
  await pool(LOOKUPS, async (k) => {
    const l = await registrar.lookup(`sip:user${(k * 7919) % AORS}@example.test`);
    if (l.status !== 200) failed++;
  });
  const lwall = performance.now() - l0;
  await registrar.close();
  return {
    name,
    rate: Math.round(total / (wall / 1000)),
    cpu: ((cpu.user + cpu.system) / total).toFixed(1),
    rcpu: rcpu === undefined ? '-' : ((rcpu * 1e6) / total).toFixed(1),
    lookups: Math.round(LOOKUPS / (lwall / 1000)),
    memory: mem === undefined ? `heap +${(heap / 1048576).toFixed(1)} MiB` : `redis +${(mem / 1048576).toFixed(1)} MiB`,
    failed,
  };
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One INFO section's field, over a raw connection (no client needed for the bench's own probes). */
function info(port, field) {
  return new Promise((resolve, reject) => {
    const c = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    c.on('error', reject);
    c.on('connect', () => c.write('INFO\r\n'));
    c.on('data', (d) => {
      buf += d;
      const m = buf.match(new RegExp(`^${field}:([0-9.]+)`, 'm'));
      if (m && buf.includes('keyspace')) {
        c.destroy();
        resolve(Number(m[1]));
      }
    });
  });
}

const results = [await measure('memory', new MemoryLocationStore())];
const port = await freePort();
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
try {
  for (let i = 0; i < 100; i++) {
    try {
      await info(port, 'used_memory');
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const cpu = async () => (await info(port, 'used_cpu_user')) + (await info(port, 'used_cpu_sys'));
  results.push(await measure('redis', new RedisLocationStore({ url: `redis://127.0.0.1:${port}` }), cpu, () => info(port, 'used_memory')));
} finally {
  redis.kill('SIGKILL');
}
console.log(`registrar: ${AORS} AORs x ${ROUNDS} REGISTERs (first, then refreshes), ${CONCURRENCY} in flight, node ${process.version}`);
console.log('| store | REGISTER/s | app CPU us/REG | redis CPU us/REG | lookup/s | memory after the storm | failed |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.name} | ${r.rate} | ${r.cpu} | ${r.rcpu} | ${r.lookups} | ${r.memory} | ${r.failed} |`);
