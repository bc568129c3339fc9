// The UDP queue-delay probe (overload control): a ping the kernel dropped (socket buffer full) is
// sent again, instead of leaving the gate shedding on a wait that grows forever after the flood.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueProbe } from '../../src/nest/queue-probe.js';
import { AdmissionGate } from '../../src/transaction/admission.js';
import { systemClock } from '../../src/transaction/clock.js';
import type { SocketPool } from '../../src/transport/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('QueueProbe', () => {
  let probe: QueueProbe | undefined;
  let leg: dgram.Socket | undefined;
  afterEach(() => {
    probe?.stop();
    leg?.close();
  });

  it('a lost ping is sent again after 500 ms, and the next one that comes back sets the delay', async () => {
    // A real UDP socket stands for the leg; it reports pings as the pool would ('keepAlive'), except the first (lost).
    leg = dgram.createSocket('udp4');
    await new Promise<void>((r) => leg!.bind(0, '127.0.0.1', () => r()));
    const pool = Object.assign(new EventEmitter(), { local: { addr: '127.0.0.1', port: leg.address().port, family: 4 } });
    let pings = 0;
    leg.on('message', (_m, rinfo) => {
      if (++pings > 1) pool.emit('keepAlive', rinfo.address, rinfo.port);
    });
    const gate = new AdmissionGate({ maxQueueDelay: 5, perSource: false }, systemClock);
    probe = new QueueProbe(pool as unknown as SocketPool, gate, 20);
    await probe.start();
    await sleep(300);
    expect(pings).toBe(1);
    expect(gate.queueDelay).toBeGreaterThan(200); // the lost ping counts as a long wait while it is out
    await sleep(500);
    expect(pings).toBeGreaterThan(2); // sent again, and probing goes on
    expect(gate.queueDelay).toBeLessThan(100);
  });
});
