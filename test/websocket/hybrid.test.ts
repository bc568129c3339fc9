// A hybrid Nest app (HTTP + the SipServer microservice) serving REST and SIP over WebSocket on one
// port: the ws leg takes the handshakes of the app's own HTTP server at /sip (app.getHttpServer()),
// started before app.listen() as Nest does it; JsSIP (Node's global WebSocket) registers there
// while a REST route answers on the same port.
import 'reflect-metadata';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import JsSIP from 'jssip';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { SipServer, type SipContext, type SipRequest } from 'nestjs-sip';
import { waitUntil } from '../helpers/wait.js';

const registered: string[] = [];

@Controller('api')
class RestController {
  @Get('hello')
  hello() {
    return { hello: 'rest' };
  }
}

@Controller()
class SipController {
  @MessagePattern('REGISTER')
  register(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    registered.push(`${ctx.getFrom().proto} ${req.from.uri}`);
    return { status: 200, headers: { Contact: req.headers.get('contact')! } };
  }
}

@Module({ controllers: [RestController, SipController] })
class HybridModule {}

JsSIP.debug.disable();

let app: INestApplication;
let server: SipServer;
let port = 0;
let ua: JsSIP.UA | undefined;

beforeAll(async () => {
  app = await NestFactory.create(HybridModule, { logger: ['error'] });
  server = new SipServer({ listen: [{ transport: 'ws', ws: { server: app.getHttpServer(), path: '/sip' } }] });
  app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
  await app.startAllMicroservices(); // before the HTTP server listens
  await app.listen(0, '127.0.0.1');
  port = (app.getHttpServer().address() as AddressInfo).port;
});

afterAll(async () => {
  ua?.stop();
  await app?.close();
});

test('REST and SIP over WebSocket on the one HTTP port', async () => {
  const res = await fetch(`http://127.0.0.1:${port}/api/hello`);
  expect(await res.json()).toEqual({ hello: 'rest' });
  // The leg reads the port once the shared server listens.
  expect(server.addresses[0]!.port).toBe(port);
  ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(`ws://127.0.0.1:${port}/sip`)], uri: 'sip:carol@example.com', register: true });
  const ok = new Promise<void>((resolve, reject) => {
    ua!.once('registered', () => resolve());
    ua!.once('registrationFailed', (e: { cause?: unknown }) => reject(new Error(String(e.cause))));
  });
  ua.start();
  await ok;
  expect(registered).toEqual(['ws sip:carol@example.com']);
  // A WebSocket handshake elsewhere on the port is not ours, and nobody else's: refused (not left open).
  const stray = new WebSocket(`ws://127.0.0.1:${port}/api/hello`, 'sip');
  const failed = await new Promise<boolean>((resolve) => {
    stray.onopen = () => resolve(false);
    stray.onerror = () => resolve(true);
  });
  expect(failed).toBe(true);
  expect(server.unwrap()[0]!.connections).toBe(1);
});

test('closing the app closes the SIP connections with the HTTP server', async () => {
  const pool = server.unwrap()[0]!;
  // Nest closes the HTTP server before its microservices: the server's close() must not wait for our connections.
  await app.close();
  await waitUntil(() => pool.connections === 0, 3000, 'connections closed');
  expect(app.getHttpServer().listening).toBe(false);
});
