// The example's SIP-over-WebSocket leg (issue 14) on its HTTP port, at /sip: JsSIP (Node 24's global
// WebSocket) registers there with its SIP_USERS password (digest over WebSocket), pings the service
// with OPTIONS, and unregisters; /health on the same port counts the ws leg; SIP_WS_PATH=off drops it.
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import JsSIP from 'jssip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';

JsSIP.debug.disable();

describe('the example: SIP over WebSocket on the HTTP port', () => {
  let app: INestApplicationContext | undefined;
  let server: SipServer;
  let url: string;
  let ua: JsSIP.UA | undefined;
  beforeAll(async () => {
    const started = await bootstrap({ HTTP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_USERS: 'carol:s3cret', SIP_REALM: 'example.test' });
    ({ app, server } = started);
    url = started.httpUrl!;
  });
  afterAll(async () => {
    ua?.stop();
    await app?.close();
  });

  it('JsSIP registers at ws://…/sip with its password, and OPTIONS is answered over the same connection', async () => {
    const ws = server.addresses.find((a) => a.proto === 'ws')!;
    expect(`http://127.0.0.1:${ws.port}`).toBe(url);
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(`${url.replace('http', 'ws')}/sip`)],
      uri: 'sip:carol@example.test',
      password: 's3cret',
      realm: 'example.test',
      register: true,
    });
    const registered = new Promise<number>((resolve, reject) => {
      ua!.once('registered', (e: { response: { status_code: number } }) => resolve(e.response.status_code));
      ua!.once('registrationFailed', (e: { cause?: unknown }) => reject(new Error(`registration failed: ${String(e.cause)}`)));
    });
    ua.on('newMessage', () => undefined);
    ua.start();
    expect(await registered).toBe(200);
    const pool = server.unwrap().find((p) => p.proto === 'ws')!;
    // The first REGISTER was challenged (401), the second carried the digest: both on one connection.
    expect(pool.stats.messagesIn).toBeGreaterThanOrEqual(2);
    expect(pool.stats.connectionsAccepted).toBe(1);
    const status = await new Promise<number>((resolve, reject) => {
      (ua as unknown as { sendOptions(t: string, b?: string, o?: unknown): void }).sendOptions(`sip:ping@127.0.0.1;transport=ws`, undefined, {
        eventHandlers: {
          succeeded: (e: { response: { status_code: number } }) => resolve(e.response.status_code),
          failed: (e: { cause?: unknown }) => reject(new Error(String(e.cause))),
        },
      });
    });
    expect(status).toBe(200);
    const unregistered = new Promise<void>((resolve) => ua!.once('unregistered', () => resolve()));
    ua.unregister();
    await unregistered;
    expect(pool.connections).toBe(1);
    const health = (await (await fetch(`${url}/health`)).json()) as { info: { sip: { legs: string[] } } };
    expect(health.info.sip.legs.some((l) => l.startsWith('ws:'))).toBe(true);
  });
});

describe('SIP_WS_PATH=off', () => {
  it('leaves the HTTP port to HTTP', async () => {
    const { app, server } = await bootstrap({ HTTP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_WS_PATH: 'off' });
    try {
      expect(server.addresses.map((a) => a.proto)).toEqual(['udp']);
    } finally {
      await app.close();
    }
  });
});
