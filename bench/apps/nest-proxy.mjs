// The proxied-call bench's server (bench/proxy-calls.mjs): a Nest microservice on SipServer (the
// built package, ../../dist/index.js) with one @MessagePattern('INVITE') handler that proxies the
// call to the UAS named by BENCH_PROXY_TARGET (a SIP URI), record-routed (ctx.proxy's default for
// INVITE), as example/calls.service.ts does after its registrar lookup. The ACK and the BYE come
// back by the route set and are forwarded by SipServer with no handler code. Decorators are
// applied by hand, as TypeScript would, so this runs as plain ESM.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern } from '@nestjs/microservices';
import { SipServer } from '../../dist/index.js';
import { host, port, proto, serve, tuneUdp } from './harness.mjs';

const target = process.env.BENCH_PROXY_TARGET;
if (!target) throw new Error('BENCH_PROXY_TARGET (the UAS, a SIP URI) is required');
const targets = [target];

class ProxyController {
  async invite(ctx) {
    await ctx.proxy(targets);
  }
}
Ctx()(ProxyController.prototype, 'invite', 0); // @Ctx() ctx: SipContext
MessagePattern('INVITE')(ProxyController.prototype, 'invite', Object.getOwnPropertyDescriptor(ProxyController.prototype, 'invite'));
Controller()(ProxyController);

class BenchModule {}
Module({ controllers: [ProxyController] })(BenchModule);

const server = new SipServer({
  listen: [{ transport: proto, host, port }],
  closeTimeout: 0,
  // sipp is the one client, as a front proxy would be: no per-source rate limit (as in nest-sip-server.mjs).
  overload: { perSource: false },
});
const app = await NestFactory.createMicroservice(BenchModule, { strategy: server, logger: ['error', 'warn'] });
await app.listen();

const pool = server.unwrap()[0];
if (proto === 'udp') tuneUdp(pool.master);
serve({
  connections: () => pool.connections,
  extra: () => ({
    pool: { ...pool.stats },
    transactions: server.transactions?.stats ? { ...server.transactions.stats } : undefined,
    // the overload gate's 503s (event-loop lag over maxLag, 200 ms by default)
    admission: server.transactions?.admission?.stats ? { ...server.transactions.admission.stats } : undefined,
  }),
  close: () => app.close(),
});
