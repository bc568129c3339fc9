// Layer breakdown, step 2: socket pool + RFC 3261 transactions (dist/), no Nest: each request
// makes a server transaction (Via stamped, validated, admission-checked as SipServer's are) that
// answers 200 at once; non-INVITE UDP ones stay Completed for Timer J as in (a).
// The layers' own modules, not the package's index (which loads Nest for SipServer): this process
// holds what these layers need and nothing of Nest (bench/live-transactions.mjs compares its memory).
import { TransactionLayer } from '../../dist/transaction/index.js';
import { SocketPool } from '../../dist/transport/index.js';
import { host, port, proto, rssSplit, serve, tuneUdp, youngGen } from './harness.mjs';

const pool = await SocketPool.create({ proto, host, port });
const t1 = process.env.BENCH_T1 ? Number(process.env.BENCH_T1) : undefined;
const layer = new TransactionLayer({
  ...(t1 !== undefined ? { timers: { T1: t1 } } : {}),
  transport: { send: (msg, dst) => pool.sendto(msg, dst), reliable: (p) => p !== 'udp' },
  admission: { perSource: false },
  onRequest: (txn) => {
    void txn.respond(200).catch(() => undefined);
  },
});
pool.attach((msg, from) => layer.receive(msg, from));
if (proto === 'udp') tuneUdp(pool.master);
serve({
  connections: () => pool.connections,
  extra: () => ({
    pool: { ...pool.stats },
    transactions: { ...layer.stats },
    // As nest-sip-server.mjs reports them (bench/live-transactions.mjs).
    live: layer.serverCount + layer.completedCount,
    memory: process.memoryUsage(),
    rssSplit: rssSplit(),
    youngGen: youngGen(),
  }),
  close: async () => {
    layer.close();
    await pool.close();
  },
});
