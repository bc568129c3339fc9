// The server of bench/overload.mjs: a Nest app on SipServer (dist/) with OPTIONS -> 200 and
// INVITE -> 200 with SDP, overload control on by default; OVERLOAD_EXEMPT=<addr> exempts a source
// from the per-source limit (a front proxy); OVERLOAD_MAX_QUEUE_DELAY (default 5 ms) and
// OVERLOAD_MAX_LOAD (default off) are the gates measured; OVERLOAD_REFUSAL_INTERVAL sets refusalInterval
// (0: a 503 for every refused request). Reports its gate's counters over IPC.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { SipServer } from '../../dist/index.js';
import { PerformanceObserver } from 'node:perf_hooks';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\n';
class H {
  options() {
    return 200;
  }
  invite() {
    return { status: 200, contentType: 'application/sdp', body: SDP };
  }
}
for (const [m, name] of [['OPTIONS', 'options'], ['INVITE', 'invite']]) MessagePattern(m)(H.prototype, name, Object.getOwnPropertyDescriptor(H.prototype, name));
Controller()(H);
class M {}
Module({ controllers: [H] })(M);

const exempt = process.env.OVERLOAD_EXEMPT ? [process.env.OVERLOAD_EXEMPT] : [];
const server = new SipServer({
  listen: [{ transport: 'udp', host: '0.0.0.0', port: Number(process.env.OVERLOAD_PORT ?? 0) }],
  closeTimeout: 0,
  limits: { UDP_RCVBUF: 4 * 1024 * 1024 },
  overload: { perSource: { exempt }, maxLoad: Number(process.env.OVERLOAD_MAX_LOAD ?? 0), maxQueueDelay: Number(process.env.OVERLOAD_MAX_QUEUE_DELAY ?? 5), ...(process.env.OVERLOAD_REFUSAL_INTERVAL ? { refusalInterval: Number(process.env.OVERLOAD_REFUSAL_INTERVAL) } : {}) },
});
const app = await NestFactory.createMicroservice(M, { strategy: server, logger: ['error'] });
await app.listen();
process.send?.({ type: 'ready', port: server.addresses[0].port });
// OVERLOAD_TIMELINE=1: the gate's admitted share and measured queue delay every 10 ms (diagnostics).
const timeline = [];
if (process.env.OVERLOAD_TIMELINE === '1') {
  const gate = server.transactions.admission;
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    timeline.push([Math.round(performance.timeOrigin + now), +gate.admitShare.toFixed(3), +gate.queueDelay.toFixed(1), Math.round(now - last - 10)]);
    last = now;
  }, 10).unref();
  // The probe's requests the server read (by Call-ID): a lost probe not in it was dropped by the kernel.
  const layer = server.transactions;
  const receive = layer.receive.bind(layer);
  layer.receive = (msg, from) => {
    if (from.addr === '127.0.0.2') timeline.push([Math.round(performance.timeOrigin + performance.now()), 'probe', msg.callId]);
    receive(msg, from);
  };
  new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.duration > 5) timeline.push([Math.round(performance.timeOrigin + e.startTime), 'gc', e.detail?.kind, Math.round(e.duration)]); }).observe({ entryTypes: ['gc'] });
}
process.on('message', async (m) => {
  if (m.cmd === 'stats') {
    const layer = server.transactions;
    process.send?.({ type: 'stats', gate: { ...layer.admission.stats }, live: layer.serverCount + layer.completedCount, dialogs: server.dialogs.size, timeline });
  } else if (m.cmd === 'stop') {
    await app.close();
    process.exit(0);
  }
});
