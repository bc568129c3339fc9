// Layer breakdown, step 1: our socket pool and codec only (dist/). Each request is parsed by the
// pool, answered 200 by createResponse (Via/From/To/Call-ID/CSeq copied, To tagged), serialised
// and sent: no transactions, no Nest. What (a) costs above this is the layers on top.
// The layers' own modules, not the package's index (which loads Nest for SipServer): this process
// holds what these layers need and nothing of Nest.
import { createResponse } from '../../dist/message/index.js';
import { SocketPool } from '../../dist/transport/index.js';
import { host, port, proto, serve, tuneUdp } from './harness.mjs';

const pool = await SocketPool.create({ proto, host, port });
let answered = 0;
pool.attach((msg, from) => {
  if (!msg.isRequest() || msg.method === 'ACK') return;
  answered++;
  pool.sendto(createResponse(msg, 200), from).catch(() => undefined);
});
if (proto === 'udp') tuneUdp(pool.master);
serve({
  connections: () => pool.connections,
  extra: () => ({ answered, pool: { ...pool.stats } }),
  close: () => pool.close(),
});
