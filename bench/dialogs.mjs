#!/usr/bin/env node
// `npm run bench:dialogs`: memory of 100,000 confirmed dialogs (issue: under 2 KB each).
//
// Each dialog is made the way the server makes it: a realistic INVITE (two Vias, Record-Route,
// Contact, an SDP offer) is parsed from bytes, answered 200 with an SDP answer through a real
// TransactionLayer (fake transport), and the DialogLayer keeps the dialog. The transactions are
// then ended, so what stays is the dialogs alone. Heap is measured after full GCs; bytes per dialog
// = (heap with N dialogs - heap before) / N.
//
//   DIALOGS=100000 node --expose-gc bench/dialogs.mjs
import { DialogLayer, parseMessage, TransactionLayer } from '../dist/index.js';

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc (npm run bench:dialogs does)');
  process.exit(2);
}
const N = Number(process.env.DIALOGS ?? 100_000);
const SDP = 'v=0\r\no=alice 2890844526 2890844526 IN IP4 198.51.100.10\r\ns=-\r\nc=IN IP4 198.51.100.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n';
const invite = (i) =>
  Buffer.from(
    `INVITE sip:bob@192.0.2.1:5060 SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bKproxy${i};rport\r\n` +
      `Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKphone${i};received=198.51.100.10\r\n` +
      `Record-Route: <sip:203.0.113.1;lr;ftag=a${i}>\r\n` +
      `Max-Forwards: 69\r\n` +
      `From: "Alice" <sip:alice@example.com>;tag=a${i}\r\n` +
      `To: <sip:bob@example.com>\r\n` +
      `Call-ID: ${i}-3848276298220188511@198.51.100.10\r\n` +
      `CSeq: 1 INVITE\r\n` +
      `Contact: <sip:alice@198.51.100.10:5060;transport=udp>\r\n` +
      `Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO\r\n` +
      `Supported: replaces, timer\r\n` +
      `Content-Type: application/sdp\r\n` +
      `Content-Length: ${SDP.length}\r\n\r\n${SDP}`,
  );

const dialogs = new DialogLayer({ maxDialogs: N + 1 });
dialogs.contactFor = () => '<sip:bob@192.0.2.1:5060>';
const transport = { send: () => Promise.resolve(), reliable: () => false };
const layer = new TransactionLayer({
  transport,
  timers: { trying100: false },
  onResponse: (t, r) => dialogs.responding(t, r),
  onRequest: (t) => void t.respond(t.createResponse(200, undefined, { headers: { 'Content-Type': 'application/sdp' }, body: SDP })),
});
const from = { addr: '203.0.113.1', port: 5060, family: 4, proto: 'udp' };

const heap = () => {
  // Several full collections: the first ones only promote what later ones free.
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
};
const before = heap();
const rssBefore = process.memoryUsage().rss;
for (let i = 0; i < N; i++) layer.receive(parseMessage(invite(i)), from);
layer.close(); // the transactions go; the dialogs stay
await new Promise((resolve) => setTimeout(resolve, 50)); // let the sends' promise callbacks run and let go
const after = heap();
const rssAfter = process.memoryUsage().rss;
if (dialogs.size !== N) throw new Error(`expected ${N} dialogs, have ${dialogs.size}`);
const per = (after - before) / N;
console.log(`dialogs: ${N.toLocaleString('en')} confirmed, ${Math.round(per)} bytes of heap each (goal < 2048); RSS +${Math.round((rssAfter - rssBefore) / 2 ** 20)} MB`);
process.exitCode = per < 2048 ? 0 : 1;
