// Idle SIP-over-WebSocket connections on a ws leg (issue 14): memory per connection (RSS and V8
// heap deltas / N) with N idle WebSocket clients, before and after each carried one request, and
// then expiry: a second pool with short MIN_EXPIRE / MAX_EXPIRE, N clients that stay silent, and
// how long until the pool has expired them all, beside the formula
// MIN_EXPIRE + (MAX_EXPIRE - MIN_EXPIRE) / (N - 1) (N sockets with the master). The clients run in
// a child process so that only the pool's side is measured.
//
//   node --expose-gc --import ./bench/register.mjs bench/ws-connections.mjs [connections=10000]
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createResponse } from '../src/message/index.ts';
import { expireAfterMs, resolveLimits, SocketPool } from '../src/transport/index.ts';

const N = Number(process.argv[2] ?? 10000);

if (process.argv[2] === '--client') {
  const { WebSocket } = await import('ws');
  let sockets = [];
  process.on('message', async (m) => {
    if (m.cmd === 'connect') {
      sockets = [];
      let open = 0;
      let closed = 0;
      // In batches, so that the listen backlog is not the thing measured.
      for (let i = 0; i < m.n; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${m.port}/`, 'sip', { perMessageDeflate: false });
        ws.on('open', () => {
          if (++open === m.n) process.send({ ev: 'connected' });
        });
        ws.on('close', () => {
          if (++closed === m.n) process.send({ ev: 'all-closed' });
        });
        ws.on('error', () => undefined);
        sockets.push(ws);
        if (i % 200 === 199) await new Promise((r) => setTimeout(r, 5));
      }
    } else if (m.cmd === 'request') {
      let answered = 0;
      sockets.forEach((ws, i) => {
        ws.once('message', () => {
          if (++answered === sockets.length) process.send({ ev: 'answered' });
        });
        ws.send(
          `OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bK${i}x\r\n` +
            `Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=${i}\r\nTo: <sip:bob@example.com>\r\n` +
            `Call-ID: ${i}@c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
        );
      });
    } else if (m.cmd === 'drop') {
      for (const ws of sockets) ws.terminate();
      sockets = [];
      process.send({ ev: 'dropped' });
    } else if (m.cmd === 'exit') {
      for (const ws of sockets) ws.terminate();
      process.exit(0);
    }
  });
} else {
  if (typeof globalThis.gc !== 'function') {
    console.error('run with --expose-gc');
    process.exit(1);
  }
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    const m = process.memoryUsage();
    return { rss: m.rss, heap: m.heapUsed, ext: m.external + m.arrayBuffers };
  };
  const child = fork(fileURLToPath(import.meta.url), ['--client'], { execArgv: ['--import', './bench/register.mjs'] });
  const next = (ev) =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m.ev === ev) {
          child.off('message', on);
          resolve();
        }
      };
      child.on('message', on);
    });
  const caps = { MAX_CONNECTIONS: N + 10, MAX_CONNECTIONS_PER_SOURCE: N + 10 };

  // Memory.
  const pool = await SocketPool.create({ proto: 'ws', host: '127.0.0.1', port: 0, limits: { ...caps, MIN_EXPIRE: 600, MAX_EXPIRE: 600 } });
  pool.attach((msg, from) => {
    if (msg.isRequest()) void pool.sendto(createResponse(msg, 200), from);
  });
  await new Promise((r) => setTimeout(r, 300)); // child start-up
  const base = await settle();
  const t0 = performance.now();
  child.send({ cmd: 'connect', n: N, port: pool.local.port });
  await next('connected');
  const acceptMs = performance.now() - t0;
  const idle = await settle();
  child.send({ cmd: 'request' });
  await next('answered');
  const used = await settle();
  const per = (a, b, k) => ((b[k] - a[k]) / N / 1024).toFixed(2);
  console.log(`node ${process.version}, ${N} WebSocket connections on 127.0.0.1 (ws leg)`);
  console.log(`time to open ${N} connections (handshakes included): ${acceptMs.toFixed(0)} ms`);
  console.log(`idle, never used:      RSS ${per(base, idle, 'rss')} KiB/conn, JS heap ${per(base, idle, 'heap')} KiB/conn, external ${per(base, idle, 'ext')} KiB/conn`);
  console.log(`idle after 1 request:  RSS ${per(base, used, 'rss')} KiB/conn, JS heap ${per(base, used, 'heap')} KiB/conn, external ${per(base, used, 'ext')} KiB/conn`);
  child.send({ cmd: 'drop' });
  await next('dropped');
  await pool.close();

  // Expiry.
  const limits = { ...caps, MIN_EXPIRE: Number(process.env.MIN_EXPIRE ?? 2), MAX_EXPIRE: Number(process.env.MAX_EXPIRE ?? 10) };
  const p2 = await SocketPool.create({ proto: 'ws', host: '127.0.0.1', port: 0, limits });
  const t1 = performance.now();
  child.send({ cmd: 'connect', n: N, port: p2.local.port });
  await next('connected');
  const openedAt = performance.now();
  await next('all-closed');
  const lastExpiry = performance.now() - openedAt;
  const formula = expireAfterMs(resolveLimits(limits), N + 1);
  console.log(
    `expiry: ${p2.stats.connectionsExpired} of ${N} expired; the last ${lastExpiry.toFixed(0)} ms after the last one opened ` +
      `(opening took ${(openedAt - t1).toFixed(0)} ms); formula for ${N} connections + master: ${formula.toFixed(0)} ms, ` +
      `checked every ${Math.min(2000, Math.max(10, (limits.MIN_EXPIRE * 1000) / 8)).toFixed(0)} ms`,
  );
  child.send({ cmd: 'exit' });
  await p2.close();
}
