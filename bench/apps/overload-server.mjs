// The server of bench/overload.mjs: a Nest app on SipServer (dist/) with OPTIONS -> 200 and
// INVITE -> 200 with SDP, overload control on by default; OVERLOAD_EXEMPT=<addr> exempts a source
// from the per-source limit (a front proxy); OVERLOAD_MAX_QUEUE_DELAY (default 5 ms) and
// OVERLOAD_MAX_LOAD (default off) are the gates measured. Reports its gate's counters over IPC.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { SipServer } from '../../dist/index.js';

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
  overload: { perSource: { exempt }, maxLoad: Number(process.env.OVERLOAD_MAX_LOAD ?? 0), maxQueueDelay: Number(process.env.OVERLOAD_MAX_QUEUE_DELAY ?? 5) },
});
const app = await NestFactory.createMicroservice(M, { strategy: server, logger: ['error'] });
await app.listen();
process.send?.({ type: 'ready', port: server.addresses[0].port });
process.on('message', async (m) => {
  if (m.cmd === 'stats') {
    const layer = server.transactions;
    process.send?.({ type: 'stats', gate: { ...layer.admission.stats }, live: layer.serverCount + layer.completedCount, dialogs: server.dialogs.size });
  } else if (m.cmd === 'stop') {
    await app.close();
    process.exit(0);
  }
});
