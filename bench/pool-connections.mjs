// Measures the TCP side of SocketPool: time to accept 1,000 connections, and memory per idle
// connection (RSS and V8 heap deltas / 1,000), before and after each connection carried one
// request/response. The clients run in a child process so that only the pool's side is measured.
//
//   node --expose-gc --import ./bench/register.mjs bench/pool-connections.mjs [connections]
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createResponse } from '../src/message/index.ts';
import { SocketPool } from '../src/transport/index.ts';

const N = Number(process.argv[2] ?? 1000);

if (process.argv[2] === '--client') {
  // Child: open connections on request, send a request on each on request.
  const net = await import('node:net');
  const sockets = [];
  process.on('message', async (m) => {
    if (m.cmd === 'connect') {
      let open = 0;
      for (let i = 0; i < m.n; i++) {
        const s = net.connect(m.port, '127.0.0.1', () => {
          if (++open === m.n) process.send({ ev: 'connected' });
        });
        s.on('error', (e) => process.send({ ev: 'error', msg: e.message }));
        sockets.push(s);
      }
    } else if (m.cmd === 'request') {
      let answered = 0;
      sockets.forEach((s, i) => {
        s.once('data', () => {
          if (++answered === sockets.length) process.send({ ev: 'answered' });
        });
        s.write(
          `OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP c.invalid:5060;branch=z9hG4bK${i}x\r\n` +
            `Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=${i}\r\nTo: <sip:bob@example.com>\r\n` +
            `Call-ID: ${i}@c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
        );
      });
    } else if (m.cmd === 'exit') {
      for (const s of sockets) s.destroy();
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
  const pool = await SocketPool.create({ proto: 'tcp', host: '127.0.0.1', port: 0, limits: { MIN_EXPIRE: 600, MAX_EXPIRE: 600 } });
  pool.attach((msg, from) => {
    if (msg.isRequest()) void pool.sendto(createResponse(msg, 200), from);
  });
  const child = fork(fileURLToPath(import.meta.url), ['--client'], { execArgv: ['--import', './bench/register.mjs'] });
  const next = (ev) =>
    new Promise((resolve, reject) => {
      const on = (m) => {
        if (m.ev === 'error') reject(new Error(m.msg));
        if (m.ev === ev) {
          child.off('message', on);
          resolve();
        }
      };
      child.on('message', on);
    });
  await new Promise((r) => setTimeout(r, 300)); // child start-up
  const base = await settle();

  const t0 = performance.now();
  child.send({ cmd: 'connect', n: N, port: pool.local.port });
  while (pool.stats.connectionsAccepted < N) await new Promise((r) => setImmediate(r));
  const acceptMs = performance.now() - t0;
  await next('connected');
  const idle = await settle();

  child.send({ cmd: 'request' });
  await next('answered');
  const used = await settle();

  const per = (a, b, k) => ((b[k] - a[k]) / N / 1024).toFixed(2);
  console.log(`node ${process.version}, ${N} TCP connections on 127.0.0.1`);
  console.log(`time to accept ${N} connections: ${acceptMs.toFixed(1)} ms (${((N / acceptMs) * 1000).toFixed(0)}/s)`);
  console.log(`idle, never used:      RSS ${per(base, idle, 'rss')} KiB/conn, JS heap ${per(base, idle, 'heap')} KiB/conn, external ${per(base, idle, 'ext')} KiB/conn`);
  console.log(`idle after 1 request:  RSS ${per(base, used, 'rss')} KiB/conn, JS heap ${per(base, used, 'heap')} KiB/conn, external ${per(base, used, 'ext')} KiB/conn`);
  console.log(`pool.connections = ${pool.connections}, stats:`, JSON.stringify(pool.stats));
  child.send({ cmd: 'exit' });
  await pool.close();
}
