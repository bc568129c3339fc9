// SIP over WebSocket (RFC 7118) end to end with a real peer nobody here wrote: JsSIP 3.x running
// in Node 24 on Node's own global WebSocket (JsSIP.WebSocketInterface), against a Nest SipServer
// with a ws leg and a wss leg: REGISTER to a @MessagePattern handler, MESSAGE and OPTIONS to the
// server, and requests from the server back over the client's connection: an out-of-dialog
// MESSAGE to its `.invalid` Contact through the connection it registered from (its flow), and an
// in-dialog NOTIFY of its SUBSCRIBE.
import 'reflect-metadata';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import JsSIP from 'jssip';
import * as tls from 'node:tls';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SipClient, SipServer, type SipContext, type SipPeer, type SipRequest, type SipResponse } from 'nestjs-sip';
import { makeTestPki, type TestPki } from '../transport/tls-certs.js';
import { waitUntil } from '../helpers/wait.js';

/** What the handlers saw. */
const seen = { registers: [] as { req: SipRequest; from: SipPeer }[], messages: [] as string[], subscribes: 0 };

@Controller()
class WsHandlers {
  @MessagePattern('REGISTER')
  register(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    seen.registers.push({ req, from: ctx.getFrom() });
    // JsSIP looks for its own Contact in the 200 (RFC 3261 §10.3 step 8).
    return { status: 200, headers: { Contact: req.headers.get('contact')! } };
  }

  @MessagePattern('MESSAGE')
  message(@Payload() req: SipRequest) {
    seen.messages.push(req.body.toString());
    return 200;
  }

  @MessagePattern('SUBSCRIBE')
  subscribe() {
    seen.subscribes++;
    return { status: 200, headers: { Expires: '60' } };
  }
}

@Module({ controllers: [WsHandlers] })
class WsModule {}

JsSIP.debug.disable();

let pki: TestPki;
let app: INestMicroservice;
let server: SipServer;
const uas: JsSIP.UA[] = [];

/** Node 22.19+ / 24.5+ (newer than the @types/node this package builds against). */
const tlsStore = tls as unknown as { getCACertificates(which: 'default'): string[]; setDefaultCACertificates(certs: string[]): void };
const defaultCas = tlsStore.getCACertificates('default');

beforeAll(async () => {
  pki = makeTestPki();
  // Node's WebSocket (undici) takes no CA option: trust the test CA the way a browser would, in the
  // default store (Node 22.19+ / 24.5+), for this test process only.
  tlsStore.setDefaultCACertificates([...defaultCas, pki.ca]);
  server = new SipServer({
    listen: [
      { transport: 'ws', host: '127.0.0.1', port: 0, ws: { path: '/sip' } },
      { transport: 'wss', host: '127.0.0.1', port: 0, tls: pki.a, ws: { path: '/sip' } },
    ],
  });
  // In-dialog: the SUBSCRIBE's 200 made a dialog; NOTIFY goes back through the subscriber's connection.
  server.on('dialog', (dialog, req) => {
    if (req.method !== 'SUBSCRIBE') return;
    // 'dialog' comes as the 200 is being sent: a NOTIFY sent now can overtake it on the wire, and
    // JsSIP drops a NOTIFY that comes before the 200 of its SUBSCRIBE. Notify once the 200 is out.
    setTimeout(() => {
      dialog.notify({ headers: { Event: 'presence', 'Subscription-State': 'active;expires=60', 'Content-Type': 'text/plain' }, body: 'open' }).subscribe({ error: () => undefined });
    }, 20);
  });
  app = await NestFactory.createMicroservice(WsModule, { strategy: server, logger: ['error'] });
  await app.listen();
});

afterAll(async () => {
  for (const ua of uas) ua.stop();
  await app?.close();
  tlsStore.setDefaultCACertificates(defaultCas);
});

function portOf(proto: 'ws' | 'wss'): number {
  return server.addresses.find((a) => a.proto === proto)!.port;
}

/** A started JsSIP UA on Node's WebSocket, registered. */
async function registeredUa(proto: 'ws' | 'wss', user: string): Promise<JsSIP.UA> {
  const socket = new JsSIP.WebSocketInterface(`${proto}://${proto === 'wss' ? 'localhost' : '127.0.0.1'}:${portOf(proto)}/sip`);
  const ua = new JsSIP.UA({ sockets: [socket], uri: `sip:${user}@example.com`, register: true, register_expires: 600, connection_recovery_min_interval: 60 });
  uas.push(ua);
  const registered = new Promise<void>((resolve, reject) => {
    ua.once('registered', () => resolve());
    ua.once('registrationFailed', (e: { cause?: string }) => reject(new Error(`registration failed: ${e.cause}`)));
  });
  ua.start();
  await registered;
  return ua;
}

describe.each(['ws', 'wss'] as const)('JsSIP over %s', (proto) => {
  const user = `alice-${proto}`;
  let ua: JsSIP.UA;

  beforeAll(async () => {
    ua = await registeredUa(proto, user);
  });

  test('REGISTER reaches the @MessagePattern handler, with Via WS/WSS, received from the TCP peer, and a flow', () => {
    const reg = seen.registers.find((r) => r.req.from.uri.includes(user))!;
    expect(reg).toBeDefined();
    const via = reg.req.topVia!;
    expect(via.transport).toBe(proto.toUpperCase());
    expect(via.host.endsWith('.invalid')).toBe(true);
    expect(via.received).toBe('127.0.0.1'); // stamped by the server (RFC 3261 §18.2.1)
    expect(reg.from.proto).toBe(proto);
    expect(reg.from.addr).toBe('127.0.0.1');
    expect(typeof reg.from.flow).toBe('string');
    expect(reg.req.headers.get('contact')).toMatch(/;transport=ws/);
  });

  test('MESSAGE and OPTIONS from JsSIP are answered 200 over the same connection', async () => {
    const text = `hello over ${proto}`;
    const target = `sip:svc@127.0.0.1:${portOf(proto)};transport=${proto}`;
    const status = await new Promise<number>((resolve, reject) => {
      ua.sendMessage(target, text, {
        eventHandlers: {
          succeeded: (e: { response: { status_code: number } }) => resolve(e.response.status_code),
          failed: (e: { cause?: unknown }) => reject(new Error(String(e.cause))),
        },
      });
    });
    expect(status).toBe(200);
    expect(seen.messages).toContain(text);
    const options = await new Promise<number>((resolve, reject) => {
      (ua as unknown as { sendOptions(t: string, b?: string, o?: unknown): void }).sendOptions(target, undefined, {
        eventHandlers: {
          succeeded: (e: { response: { status_code: number } }) => resolve(e.response.status_code),
          failed: (e: { cause: string }) => reject(new Error(e.cause)),
        },
      });
    });
    expect(options).toBe(200);
  });

  test('an out-of-dialog MESSAGE from the server reaches JsSIP at its .invalid Contact through its flow', async () => {
    const reg = seen.registers.find((r) => r.req.from.uri.includes(user))!;
    const contact = reg.req.contacts[0]!.uri;
    const got = new Promise<string>((resolve) => {
      ua.on('newMessage', (e: { originator: string; request: { body: string } }) => {
        if (e.originator === 'remote') resolve(e.request.body);
      });
    });
    const client = new SipClient({ server });
    try {
      const res = await lastValueFrom(
        // The flow alone: its connection decides the leg and the peer (the Contact's host is made up).
        client.send<SipResponse>('MESSAGE', {
          uri: contact,
          flow: reg.from.flow,
          headers: { To: `<sip:${user}@example.com>`, 'Content-Type': 'text/plain' },
          body: `from the server over ${proto}`,
        }),
      );
      expect(res.status).toBe(200);
      expect(await got).toBe(`from the server over ${proto}`);
    } finally {
      await client.close();
    }
  });

  test('a flow that is gone: the send fails with ConnectionClosedError, nothing is resolved or connected', async () => {
    const client = new SipClient({ server });
    try {
      const err = await lastValueFrom(client.send<SipResponse>('MESSAGE', { uri: `sip:x@df7jal23ls0d.invalid;transport=${proto}`, flow: 'f-gone' })).catch((e: unknown) => e);
      expect((err as Error).name).toBe('ConnectionClosedError');
    } finally {
      await client.close();
    }
  });

  test('SUBSCRIBE: the in-dialog NOTIFY comes back over the same connection', async () => {
    const body = await new Promise<string | undefined>((resolve, reject) => {
      const sub = ua.subscribe(`sip:presence@127.0.0.1:${portOf(proto)};transport=${proto}`, 'presence', 'text/plain', { expires: 60, contentType: 'text/plain' });
      sub.on('notify', (_final: boolean, _req: unknown, b: string | undefined) => resolve(b));
      sub.on('terminated', (code: number, reason: string | undefined) => reject(new Error(`subscription terminated ${code} ${reason}`)));
      sub.subscribe();
    });
    expect(body).toBe('open');
  });
});

test('everything went over one connection per client (the server never connected out), no parse errors', async () => {
  await waitUntil(() => seen.registers.length >= 2, 1000, 'registers');
  const pools = server.unwrap();
  expect(pools.map((p) => p.proto)).toEqual(['ws', 'wss']);
  for (const p of pools) {
    expect(p.connections).toBe(1);
    expect(p.stats.connectionsAccepted).toBe(1);
    expect(p.stats.connectionsConnected).toBe(0);
    expect(p.stats.parseErrors).toBe(0);
  }
});
