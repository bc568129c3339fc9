// One layer of the in-process breakdown (bench/layers-part.mjs runs this once per mode and round):
// sipp's OPTIONS (a counter written into its branch, tag and Call-ID, so every request is new) fed
// to our code without sockets, in batches of 32 with a turn of the event loop between them (about
// what one wake-up brings under load, and what lets the promises of the answered requests settle).
// Prints one JSON line: { mode, nsPerReq, requests, completed }.
//
//   parse      parseMessage of the datagram, the top Via's branch and the Call-ID read
//   response   + createResponse(200).toBuffer(): the bytes a stateless 200 sends
//   txn        + a TransactionLayer answering 200 in onRequest (Via stamped, request validated, the
//              transaction made, its response serialised and, over UDP, kept for Timer J); the layer's
//              clock moves 1/RATE s per request, so its Timer J table is at its steady size
//   nest       + SipServer's dispatch and the Nest pipeline: a Nest microservice on SipServer with one
//              @MessagePattern('OPTIONS') handler; its layer's sends go nowhere (no socket)
//
// Environment: LAYER_MODE (above), LAYER_PROTO=udp|tcp, LAYER_METRICS=0|1 (nest), LAYER_N (measured
// requests, default 300000), LAYER_RATE (the simulated rate, default 8000; the warm-up is 34 s of it).
import 'reflect-metadata';
import { createResponse, parseMessage, TransactionLayer } from '../dist/index.js';
import { ManualClock } from '../dist/transaction/clock.js';

const MODE = process.env.LAYER_MODE ?? 'txn';
const PROTO = process.env.LAYER_PROTO === 'tcp' ? 'tcp' : 'udp';
const N = Number(process.env.LAYER_N ?? 300000);
const RATE = Number(process.env.LAYER_RATE ?? 8000);
const BATCH = 32;

const TEMPLATE =
  `OPTIONS sip:bench@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/${PROTO.toUpperCase()} 127.0.0.1:5061;branch=z9hG4bK-1234-#########-0;rport\r\n` +
  `From: "sipp" <sip:sipp@127.0.0.1:5061>;tag=1234SIPpTag00#########\r\nTo: <sip:bench@127.0.0.1:5070>\r\nCall-ID: #########-1234@127.0.0.1\r\n` +
  `CSeq: 1 OPTIONS\r\nContact: <sip:sipp@127.0.0.1:5061;transport=${PROTO.toUpperCase()}>\r\nMax-Forwards: 70\r\nAccept: application/sdp\r\n` +
  `User-Agent: sipp bench\r\nContent-Length: 0\r\n\r\n`;
const SLOTS = [];
for (let i = TEMPLATE.indexOf('#'); i >= 0; i = TEMPLATE.indexOf('#', i + 9)) SLOTS.push(i);
// A ring of datagrams: one is rewritten only after the 63 before it were handled.
const RING = 64;
const bufs = Array.from({ length: RING }, () => Buffer.from(TEMPLATE, 'latin1'));
function stamp(b, n) {
  for (let s = 0; s < SLOTS.length; s++) {
    let x = n;
    for (let k = SLOTS[s] + 8; k >= SLOTS[s]; k--) {
      b[k] = 48 + (x % 10);
      x = (x / 10) | 0;
    }
  }
  return b;
}

const from = { addr: '127.0.0.1', port: 5061, family: 4, proto: PROTO, socket: {} };
const settled = Promise.resolve();
let sent = 0;
const transport = {
  send: () => {
    sent++;
    return settled;
  },
  reliable: (p) => p !== 'udp',
};
const clock = new ManualClock(0);
let layer;
let closeApp = async () => {};
if (MODE === 'txn') {
  layer = new TransactionLayer({ clock, transport, admission: { perSource: false }, onRequest: (txn) => void txn.respond(200) });
} else if (MODE === 'nest') {
  const { Controller, Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { MessagePattern } = await import('@nestjs/microservices');
  const { SipServer } = await import('../dist/index.js');
  class OptionsController {
    options() {
      return 200;
    }
  }
  MessagePattern('OPTIONS')(OptionsController.prototype, 'options', Object.getOwnPropertyDescriptor(OptionsController.prototype, 'options'));
  Controller()(OptionsController);
  class LayersModule {}
  Module({ controllers: [OptionsController] })(LayersModule);
  // As bench/apps/nest-sip-server.mjs: overload control on but the per-source rate (one source here).
  const server = new SipServer({
    listen: [{ transport: PROTO, host: '127.0.0.1', port: 0 }],
    closeTimeout: 0,
    overload: { perSource: false },
    metrics: process.env.LAYER_METRICS !== '0',
  });
  const app = await NestFactory.createMicroservice(LayersModule, { strategy: server, logger: ['error', 'warn'] });
  await app.listen();
  layer = server.transactions;
  // The layer sends through the pool; here its sends go nowhere, as in `txn`. (Its clock is the real
  // one: at this pace its Timer J table reaches its bound, 200,000, within the warm-up, as `txn`'s does.)
  Object.defineProperty(layer, 'transport', { value: transport });
  closeApp = () => app.close();
} else if (MODE !== 'parse' && MODE !== 'response') throw new Error(`LAYER_MODE: ${MODE}?`);

let seq = 0;
let sink = 0;
const step = 1000 / RATE;
function one() {
  const n = seq++;
  const m = parseMessage(stamp(bufs[n & (RING - 1)], n));
  if (MODE === 'parse') sink += m.topVia.branch.length + m.callId.length;
  else if (MODE === 'response') sink += createResponse(m, 200).toBuffer().length;
  else {
    layer.receive(m, from);
    clock.advance(step);
  }
}
const turn = () => new Promise((r) => setImmediate(r));
async function run(n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += BATCH) {
    for (let k = 0; k < BATCH; k++) one();
    await turn();
  }
  return Number(process.hrtime.bigint() - t0) / n;
}
await run(Math.max(N, 34 * RATE)); // past Timer J (32 s at RATE) and V8's compilation
const nsPerReq = await run(N);
const completed = layer?.completedCount ?? 0;
// Every request answered once (the last batch's answers have settled: the event loop turned after it).
if (layer !== undefined && sent !== seq) throw new Error(`${seq} requests, ${sent} answers`);
if (sink < 0) throw new Error('unreachable');
await closeApp();
console.log(JSON.stringify({ mode: MODE, proto: PROTO, nsPerReq, requests: N, completed }));
process.exit(0);
