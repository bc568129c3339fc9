#!/usr/bin/env node
// A raw UDP flooder for bench/overload.mjs (its own process, so the probe's timing is not disturbed).
//   node bench/flood-sender.mjs <target-port> <rate per s> <seconds> <options|invite> [source address]
// Every request is new (its own branch and Call-ID); nothing is ever answered (no ACK): what comes
// back is counted, in datagrams and bytes, and printed as JSON at the end.
import dgram from 'node:dgram';

const [port, rate, seconds, kind = 'options', source = '127.0.0.1'] = process.argv.slice(2);
const sock = dgram.createSocket('udp4');
await new Promise((r) => sock.bind(0, source, r));
const me = `${source}:${sock.address().port}`;
let recv = 0;
let recvBytes = 0;
let sent = 0;
let sentBytes = 0;
const statuses = {};
sock.on('message', (m) => {
  recv++;
  recvBytes += m.length;
  const code = m.toString('latin1', 8, 11);
  statuses[code] = (statuses[code] ?? 0) + 1;
});
const method = kind === 'invite' ? 'INVITE' : 'OPTIONS';
const body = kind === 'invite' ? 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n' : '';
const make = (n) =>
  Buffer.from(
    `${method} sip:svc@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP ${me};branch=z9hG4bKf${n}x${process.pid}\r\nMax-Forwards: 70\r\n` +
      `From: <sip:flood@${source}>;tag=f${n}\r\nTo: <sip:svc@127.0.0.1>\r\nCall-ID: flood-${process.pid}-${n}\r\nCSeq: 1 ${method}\r\n` +
      (body ? 'Content-Type: application/sdp\r\n' : '') +
      `Content-Length: ${body.length}\r\n\r\n${body}`,
  );
const total = Math.round(Number(rate) * Number(seconds));
const start = performance.now();
await new Promise((resolve) => {
  const tick = () => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * Number(rate)));
    while (sent < due) {
      const b = make(sent);
      sentBytes += b.length;
      sent++;
      sock.send(b, Number(port), '127.0.0.1');
    }
    if (sent >= total) resolve();
    else setImmediate(tick);
  };
  tick();
});
// Late answers (retransmitted 2xx until Timer L) keep coming: count them for a while.
await new Promise((r) => setTimeout(r, kind === 'invite' ? 8000 : 1000));
process.stdout.write(JSON.stringify({ sent, sentBytes, recv, recvBytes, statuses, seconds: (performance.now() - start) / 1000 }) + '\n');
sock.close();
