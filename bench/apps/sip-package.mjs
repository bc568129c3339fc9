// (c) The `sip` npm package (kirm/sip.js) answering OPTIONS with 200, as its README does:
// sip.start(options, handler) + sip.send(sip.makeResponse(rq, 200, 'OK')). Its own transactions on.
import { readdirSync } from 'node:fs';
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { host, port, proto, serve, tuneUdp } from './harness.mjs';

// The package creates its UDP socket itself: give it the same SO_RCVBUF as the others once bound.
const createSocket = dgram.createSocket;
dgram.createSocket = (...args) => {
  const s = createSocket(...args);
  s.once('listening', () => tuneUdp(s));
  return s;
};
const sip = createRequire(import.meta.url)('sip');

let answered = 0;
sip.start({ port, address: host, hostname: host, udp: proto === 'udp', tcp: proto === 'tcp',
  // Its stream parser counts everything buffered on a connection against maxBytesHeaders (60480 by
  // default) and drops the connection ("Flood attempt") when sipp pipelines 200 requests on one
  // TCP connection; raise it so that it answers the same load.
  maxBytesHeaders: 1 << 22 }, (rq) => {
  if (rq.method === 'OPTIONS') {
    answered++;
    sip.send(sip.makeResponse(rq, 200, 'OK'));
  } else if (rq.method !== 'ACK') {
    sip.send(sip.makeResponse(rq, 405, 'Method Not Allowed'));
  }
});

// The package neither says when it is listening nor how many connections it holds: give the bind a
// moment, and count open file descriptors (minus those open before any connection) for TCP.
const fds = () => readdirSync('/proc/self/fd').length;
setTimeout(() => {
  const base = fds();
  serve({
    connections: proto === 'tcp' ? () => Math.max(0, fds() - base) : undefined,
    extra: () => ({ answered }),
    close: () => sip.stop(),
  });
}, 300);
