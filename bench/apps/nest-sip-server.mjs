// (a) A Nest microservice on SipServer (the built package, ../../dist/index.js) with one
// @MessagePattern('OPTIONS') handler returning 200: the full Nest pipeline (guards, pipes,
// interceptors, filters: Nest's own context creator), server transactions on (the SipServer always
// runs them). Decorators are applied by hand, as TypeScript would, so this runs as plain ESM.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { SipServer } from '../../dist/index.js';
import { host, port, proto, rssSplit, serve, tuneUdp, youngGen } from './harness.mjs';

class OptionsController {
  options() {
    return 200;
  }
}
MessagePattern('OPTIONS')(OptionsController.prototype, 'options', Object.getOwnPropertyDescriptor(OptionsController.prototype, 'options'));
Controller()(OptionsController);

// Diagnostics (not used by `npm run bench`): BENCH_NEST_NO_HANDLER=1 leaves the controller out, so
// SipServer answers OPTIONS itself (no Nest pipeline: transport + transactions + codec only);
// BENCH_T1=<ms> shortens the RFC 3261 timers (Timer J = 64*T1), to see what keeping finished
// transactions for 32 s costs.
const noHandler = process.env.BENCH_NEST_NO_HANDLER === '1';
const t1 = process.env.BENCH_T1 ? Number(process.env.BENCH_T1) : undefined;

class BenchModule {}
Module({ controllers: noHandler ? [] : [OptionsController] })(BenchModule);

const server = new SipServer({
  listen: [{ transport: proto, host, port }],
  closeTimeout: 0,
  // Overload control stays on (its cost is part of the figure) but not the per-source rate: sipp is
  // the one client here (from 127.0.0.x addresses in tcpn), as a front proxy would be.
  overload: { perSource: false },
  // Metrics are on by default (their cost is part of (a)); BENCH_METRICS=0 measures without them.
  metrics: process.env.BENCH_METRICS !== '0',
  ...(t1 !== undefined ? { timers: { T1: t1 } } : {}),
  // Default pool limits (MAX_CONNECTIONS 4096 is room for sipp -t tn -l 1000); BENCH_MAX_CONNECTIONS overrides.
  ...(process.env.BENCH_MAX_CONNECTIONS ? { limits: { MAX_CONNECTIONS: Number(process.env.BENCH_MAX_CONNECTIONS) } } : {}),
});
const app = await NestFactory.createMicroservice(BenchModule, { strategy: server, logger: ['error', 'warn'] });
await app.listen();

const pool = server.unwrap()[0];
if (proto === 'udp') tuneUdp(pool.master); // the bound dgram socket (public: SocketPool.master)
serve({
  connections: () => pool.connections,
  extra: () => ({
    pool: { ...pool.stats },
    transactions: server.transactions?.stats ? { ...server.transactions.stats } : undefined,
    // Live server transactions: open ones and the Completed-state records Timer J keeps (bench/live-transactions.mjs).
    live: (server.transactions?.serverCount ?? 0) + (server.transactions?.completedCount ?? 0),
    memory: process.memoryUsage(),
    // RSS split: private memory (heap, buffers, stacks) and file-backed pages (the node binary's code, shared).
    rssSplit: rssSplit(),
    youngGen: youngGen(),
  }),
  close: () => app.close(),
});
