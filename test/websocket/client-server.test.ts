// A SipClient connecting out over ws / wss to a SipServer's ws / wss leg (`;transport=ws` URIs):
// Via and Contact name WS, the client's connection carries the request and its response, and
// the server's request back (in the dialog of a SUBSCRIBE) comes over that same connection.
import 'reflect-metadata';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SipClient, SipServer, type SipContext, type SipPeer, type SipRequest, type SipResponse } from 'nestjs-sip';
import { makeTestPki, type TestPki } from '../transport/tls-certs.js';

const seen: { req: SipRequest; from: SipPeer }[] = [];

@Controller()
class Handlers {
  @MessagePattern('OPTIONS')
  options(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    seen.push({ req, from: ctx.getFrom() });
    return 200;
  }

  @MessagePattern('INVITE')
  invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    seen.push({ req, from: ctx.getFrom() });
    // Hang up from this side once the call is up: the BYE must find the caller's connection.
    void ctx.whenAcknowledged().then(() => ctx.dialog?.bye().subscribe({ error: () => undefined }));
    return { status: 200, contentType: 'application/sdp', body: 'v=0\r\n' };
  }
}

@Module({ controllers: [Handlers] })
class AppModule {}

let pki: TestPki;
let app: INestMicroservice;
let server: SipServer;

beforeAll(async () => {
  pki = makeTestPki();
  server = new SipServer({
    listen: [
      { transport: 'ws', host: '127.0.0.1', port: 0 },
      { transport: 'wss', host: '127.0.0.1', port: 0, tls: pki.a },
    ],
  });
  app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: ['error'] });
  await app.listen();
});

afterAll(async () => {
  await app?.close();
});

describe.each(['ws', 'wss'] as const)('SipClient over %s', (proto) => {
  test('OPTIONS, and a call the server hangs up (its BYE back), all on the one connection the client opened', async () => {
    const port = server.addresses.find((a) => a.proto === proto)!.port;
    const client = new SipClient({ tls: { ca: pki.ca } });
    try {
      const host = proto === 'wss' ? 'localhost' : '127.0.0.1';
      const res = await lastValueFrom(client.send<SipResponse>('OPTIONS', { uri: `sip:svc@${host}:${port};transport=${proto}` }));
      expect(res.status).toBe(200);
      const got = seen.find((s) => s.req.callId === res.callId)!;
      expect(got.req.topVia!.transport).toBe(proto.toUpperCase());
      expect(got.req.headers.get('contact') ?? '').toBe('');
      expect(got.from.proto).toBe(proto);
      const dialog = await client.invite({ uri: `sip:svc@${host}:${port};transport=${proto}`, body: 'v=0\r\n', headers: { 'Content-Type': 'application/sdp' } });
      const inv = seen.find((s) => s.req.callId === dialog.callId)!;
      expect(inv.req.headers.get('contact')).toMatch(new RegExp(`;transport=${proto}>?$`));
      const end = await dialog.terminated;
      expect(end.by).toBe('remote');
      const pool = server.unwrap().find((p) => p.proto === proto)!;
      expect(pool.stats.connectionsAccepted).toBe(1);
      expect(pool.stats.connectionsConnected).toBe(0);
    } finally {
      await client.close();
    }
  });
});
