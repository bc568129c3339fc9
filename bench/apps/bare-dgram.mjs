// (b) Node's ceiling on UDP: a bare node:dgram responder, no SIP library. Copies the Via, From, To,
// Call-ID and CSeq lines (long or compact names) of each request into a 200 OK (To gets a tag when
// it has none), with as little string work as possible. No transactions, no validation.
import dgram from 'node:dgram';
import { host, port, serve, tuneUdp } from './harness.mjs';
import { okFor } from './bare-sip.mjs';

const sock = dgram.createSocket('udp4');
let answered = 0;
sock.on('message', (msg, rinfo) => {
  const res = okFor(msg.latin1Slice(0, msg.length));
  if (res === undefined) return;
  answered++;
  sock.send(res, rinfo.port, rinfo.address);
});
sock.bind(port, host, () => {
  tuneUdp(sock);
  serve({
    extra: () => ({ answered }),
    close: () => new Promise((r) => sock.close(() => r())),
  });
});
