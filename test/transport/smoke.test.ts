import { afterEach, expect, test } from 'vitest';
import { createResponse } from '../../src/message/index.js';
import { closeAll, createPool, request, StreamPeer } from './helpers.js';

afterEach(closeAll);

test('smoke tcp', async () => {
  const pool = await createPool({ proto: 'tcp', host: '127.0.0.1', port: 0 });
  pool.attach((m, from) => {
    if (m.isRequest()) void pool.sendto(createResponse(m, 200), from);
  });
  const peer = await StreamPeer.connect(pool.local.port, '127.0.0.1');
  peer.send(request());
  const r = await peer.message();
  expect(r.isResponse() && r.status).toBe(200);
});
