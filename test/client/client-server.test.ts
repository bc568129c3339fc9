import 'reflect-metadata';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipClient, SipException, SipResponseError, SipServer, type SipRequest, type SipResponse } from 'nestjs-sip';

@Controller()
class Handlers {
  @MessagePattern('OPTIONS')
  options() {
    return 200;
  }
  @MessagePattern('INVITE')
  invite(@Payload() req: SipRequest) {
    if (req.requestUri.user === 'busy') throw new SipException(486);
    return { status: 200, body: 'v=0\r\n', contentType: 'application/sdp' };
  }
}
@Module({ controllers: [Handlers] })
class AppModule {}

describe('SipClient against our own SipServer (same process)', () => {
  let app: INestMicroservice;
  let server: SipServer;
  let client: SipClient;
  beforeAll(async () => {
    server = new SipServer({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 }] });
    app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: false });
    await app.listen();
    client = new SipClient({ localHost: '127.0.0.1' });
  });
  afterAll(async () => {
    await client.close();
    await app.close();
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`OPTIONS over ${transport}`, async () => {
      const port = server.addresses.find((a) => a.proto === transport)!.port;
      const res = await lastValueFrom(client.send<SipResponse>('OPTIONS', { uri: `sip:x@127.0.0.1:${port};transport=${transport}` }));
      expect(res.status).toBe(200);
    });
    it(`INVITE 200 and 486 over ${transport}`, async () => {
      const port = server.addresses.find((a) => a.proto === transport)!.port;
      const all = await lastValueFrom(client.send<SipResponse>('INVITE', { uri: `sip:bob@127.0.0.1:${port};transport=${transport}` }).pipe(toArray()));
      expect(all.map((r) => r.status).at(-1)).toBe(200);
      const err = await firstValueFrom(client.send('INVITE', { uri: `sip:busy@127.0.0.1:${port};transport=${transport}` })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SipResponseError);
      expect((err as SipResponseError).status).toBe(486);
    });
  }
});
