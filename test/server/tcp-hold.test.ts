// A TCP connection with a request still being answered is not expired by the pool's idle sweep
// (the server transaction holds its connection), and once answered it expires as idle ones do.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sipRequest, sleep, startApp, StreamClient, uniq, waitUntil, type RunningApp } from './support.js';

@Controller()
class Slow {
  @MessagePattern('OPTIONS')
  async options(): Promise<number> {
    await sleep(600); // three times the idle expiry below
    return 200;
  }
}

@Module({ controllers: [Slow] })
class SlowModule {}

describe('a server transaction holds its TCP connection', () => {
  let app: RunningApp;
  beforeAll(async () => {
    // Idle TCP connections expire after 0.2 s; the handler takes 0.6 s.
    app = await startApp(SlowModule, {
      listen: [{ transport: 'tcp', host: '127.0.0.1', port: 0 }],
      limits: { MIN_EXPIRE: 0.2, MAX_EXPIRE: 0.2 },
      timers: { serverNonInviteTimeout: 5000 },
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('kept while its handler works, answered on it, expired once idle', async () => {
    const c = await StreamClient.connect(app.port('tcp'));
    try {
      const callId = `hold-${uniq()}`;
      c.send(sipRequest({ method: 'OPTIONS', callId, transport: 'TCP' }));
      const res = await c.response(callId);
      expect(res.status).toBe(200);
      expect(c.closed).toBe(false);
      // Nothing held any more: the idle sweep closes it.
      await waitUntil(() => c.closed, 3000);
    } finally {
      c.close();
    }
  });

  it('two requests in flight on one connection: it stays until both are answered', async () => {
    const c = await StreamClient.connect(app.port('tcp'));
    try {
      const a = `hold-a-${uniq()}`;
      const b = `hold-b-${uniq()}`;
      c.send(sipRequest({ method: 'OPTIONS', callId: a, transport: 'TCP' }));
      await sleep(300);
      c.send(sipRequest({ method: 'OPTIONS', callId: b, transport: 'TCP' }));
      expect((await c.response(a)).status).toBe(200);
      expect((await c.response(b)).status).toBe(200);
      await waitUntil(() => c.closed, 3000);
    } finally {
      c.close();
    }
  });
});
