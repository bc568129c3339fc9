// (b, TCP) Node's ceiling on TCP: a bare node:net responder, no SIP library. Frames requests on
// CRLFCRLF + Content-Length and answers each with a 200 OK copying Via/From/To/Call-ID/CSeq; the
// answers to the requests of one read chunk go out in one write (as a ceiling should).
import net from 'node:net';
import { host, port, serve } from './harness.mjs';
import { contentLength, okFor } from './bare-sip.mjs';

let open = 0;
let answered = 0;
const server = net.createServer((sock) => {
  open++;
  sock.setNoDelay(true);
  let pending = '';
  sock.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk.latin1Slice(0, chunk.length) : pending + chunk.latin1Slice(0, chunk.length);
    let out;
    for (;;) {
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) break;
      const total = end + 4 + contentLength(pending.slice(0, end + 2));
      if (pending.length < total) break;
      const res = okFor(pending.slice(0, total));
      pending = pending.slice(total);
      if (res !== undefined) {
        answered++;
        out = out === undefined ? res : Buffer.concat([out, res]);
      }
    }
    if (out !== undefined) sock.write(out);
  });
  sock.on('error', () => {});
  sock.on('close', () => open--);
});
server.listen({ port, host, backlog: 511 }, () => {
  serve({
    connections: () => open,
    extra: () => ({ answered }),
    close: () => new Promise((r) => { server.close(() => r()); for (const s of sockets()) s.destroy(); }),
  });
});
const all = new Set();
server.on('connection', (s) => { all.add(s); s.on('close', () => all.delete(s)); });
const sockets = () => all;
