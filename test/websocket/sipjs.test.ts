// SIP over WebSocket (RFC 7118) with a second peer nobody here wrote: SIP.js 0.21 in Node 24, on
// Node's global WebSocket, against a Nest SipServer's ws and wss legs: REGISTER (Registerer) to a
// @MessagePattern handler, MESSAGE (Messager) to the server, and a MESSAGE from the server back
// to SIP.js through the connection it registered from (its flow).
import 'reflect-metadata';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import * as tls from 'node:tls';
import { lastValueFrom } from 'rxjs';
import { Messager, Registerer, RegistererState, UserAgent, type Message } from 'sip.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SipClient, SipServer, type SipContext, type SipPeer, type SipRequest, type SipResponse } from 'nestjs-sip';
import { makeTestPki } from '../transport/tls-certs.js';

const registers: { req: SipRequest; from: SipPeer }[] = [];
const messages: string[] = [];

@Controller()
class Handlers {
  @MessagePattern('REGISTER')
  register(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    registers.push({ req, from: ctx.getFrom() });
    return { status: 200, headers: { Contact: `${req.headers.get('contact')!};expires=600` } };
  }

  @MessagePattern('MESSAGE')
  message(@Payload() req: SipRequest) {
    messages.push(req.body.toString());
    return 200;
  }
}

@Module({ controllers: [Handlers] })
class AppModule {}

/** Node 22.19+ / 24.5+ (newer than the @types/node this package builds against). */
const tlsStore = tls as unknown as { getCACertificates(which: 'default'): string[]; setDefaultCACertificates(certs: string[]): void };
const defaultCas = tlsStore.getCACertificates('default');
let app: INestMicroservice;
let server: SipServer;
const uas: UserAgent[] = [];

beforeAll(async () => {
  const pki = makeTestPki();
  // Node's WebSocket takes no CA option: the test CA goes into the default store, as a browser's would.
  tlsStore.setDefaultCACertificates([...defaultCas, pki.ca]);
  server = new SipServer({
    listen: [
      { transport: 'ws', host: '127.0.0.1', port: 0, ws: { path: '/sip' } },
      { transport: 'wss', host: '127.0.0.1', port: 0, tls: pki.a, ws: { path: '/sip' } },
    ],
  });
  app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: ['error'] });
  await app.listen();
});

afterAll(async () => {
  for (const ua of uas) await ua.stop().catch(() => undefined);
  await app?.close();
  tlsStore.setDefaultCACertificates(defaultCas);
});

describe.each(['ws', 'wss'] as const)('SIP.js over %s', (proto) => {
  const user = `dave-${proto}`;
  const port = () => server.addresses.find((a) => a.proto === proto)!.port;
  const received: string[] = [];
  let ua: UserAgent;

  beforeAll(async () => {
    ua = new UserAgent({
      uri: UserAgent.makeURI(`sip:${user}@example.com`),
      transportOptions: { server: `${proto}://${proto === 'wss' ? 'localhost' : '127.0.0.1'}:${port()}/sip` },
      logLevel: 'error',
      delegate: {
        onMessage: (m: Message) => {
          received.push(m.request.body);
          void m.accept();
        },
      },
    });
    uas.push(ua);
    await ua.start();
  });

  test('registers: the handler sees Via WS/WSS, the TCP peer, and a flow', async () => {
    const registerer = new Registerer(ua, { expires: 600 });
    const done = new Promise<void>((resolve) => {
      registerer.stateChange.addListener((s) => {
        if (s === RegistererState.Registered) resolve();
      });
    });
    await registerer.register();
    await done;
    const reg = registers.find((r) => r.req.from.uri.includes(user))!;
    expect(reg.req.topVia!.transport).toBe(proto.toUpperCase());
    expect(reg.from.proto).toBe(proto);
    expect(reg.from.addr).toBe('127.0.0.1');
    expect(typeof reg.from.flow).toBe('string');
  });

  test('MESSAGE to the server, and a MESSAGE from the server back through the flow', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const m = new Messager(ua, UserAgent.makeURI(`sip:svc@127.0.0.1:${port()};transport=${proto}`)!, `hi from SIP.js over ${proto}`);
      void m.message({ requestDelegate: { onAccept: (r) => resolve(r.message.statusCode ?? 0), onReject: (r) => resolve(r.message.statusCode ?? 0) } }).catch(reject);
    });
    expect(status).toBe(200);
    expect(messages).toContain(`hi from SIP.js over ${proto}`);
    const reg = registers.find((r) => r.req.from.uri.includes(user))!;
    const client = new SipClient({ server });
    try {
      const res = await lastValueFrom(
        client.send<SipResponse>('MESSAGE', {
          uri: reg.req.contacts[0]!.uri,
          host: reg.from.addr,
          port: reg.from.port,
          transport: proto,
          flow: reg.from.flow,
          headers: { To: `<sip:${user}@example.com>`, 'Content-Type': 'text/plain' },
          body: `back to SIP.js over ${proto}`,
        }),
      );
      expect(res.status).toBe(200);
      expect(received).toEqual([`back to SIP.js over ${proto}`]);
    } finally {
      await client.close();
    }
  });
});
