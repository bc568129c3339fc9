import 'reflect-metadata';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage, SipContext, SipException, SipServer, type SipRequest, type SipResponse } from 'nestjs-sip';

@Controller()
class Handlers {
  @MessagePattern('OPTIONS')
  options() {
    return 200;
  }
  @MessagePattern('INVITE')
  invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    if (req.requestUri.user === 'busy') throw new SipException(486, 'Busy Here');
    void ctx.sendProvisional(180);
    return { status: 200, body: 'v=0\r\n', contentType: 'application/sdp' };
  }
}

@Module({ controllers: [Handlers] })
class AppModule {}

describe('SipServer smoke', () => {
  let app: INestMicroservice;
  let server: SipServer;
  beforeAll(async () => {
    server = new SipServer({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: ['error', 'warn'] });
    await app.listen();
  });
  afterAll(async () => {
    await app.close();
  });

  function exchange(text: string, count: number): Promise<SipResponse[]> {
    const sock = createSocket('udp4');
    const out: SipResponse[] = [];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { sock.close(); reject(new Error(`timeout, got ${out.map((r) => r.status)}`)); }, 3000);
      sock.on('message', (m) => {
        out.push(parseMessage(m) as SipResponse);
        if (out.length === count) { clearTimeout(timer); sock.close(); resolve(out); }
      });
      sock.send(text, server.addresses[0]!.port, '127.0.0.1');
    });
  }
  const req = (method: string, user: string, branch: string) =>
    `${method} sip:${user}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK${branch};rport\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:${user}@127.0.0.1>\r\nCall-ID: ${branch}\r\nCSeq: 1 ${method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;

  it('answers OPTIONS 200 with a To tag', async () => {
    const [res] = await exchange(req('OPTIONS', 'x', 'o1'), 1);
    expect(res!.status).toBe(200);
    expect(res!.to.tag).toBeTruthy();
    expect(res!.topVia!.rport).toBeGreaterThan(0);
  });
  it('INVITE: 180 then 200 with the same tag', async () => {
    const [r1, r2] = await exchange(req('INVITE', 'bob', 'i1'), 2);
    expect(r1!.status).toBe(180);
    expect(r2!.status).toBe(200);
    expect(r1!.to.tag).toBe(r2!.to.tag);
    expect(r2!.body.toString()).toBe('v=0\r\n');
  });
  it('SipException -> 486', async () => {
    const [res] = await exchange(req('INVITE', 'busy', 'i2'), 1);
    expect(res!.status).toBe(486);
  });
  it('unknown method -> 405 with Allow', async () => {
    const [res] = await exchange(req('SUBSCRIBE', 'x', 's1'), 1);
    expect(res!.status).toBe(405);
    expect(res!.headers.getAll('allow')).toEqual(['OPTIONS', 'INVITE', 'ACK', 'CANCEL', 'BYE']);
  });
});
