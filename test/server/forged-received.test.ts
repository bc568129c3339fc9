// Issue 17, defect 2: a request whose top Via carries a forged `received` (and a sent-by naming
// the sender's own address) must not steer the response, nor a new connection, to a third party.
// The third party is a real listener on 127.0.0.2 that must see nothing.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sipRequest, sleep, startApp, StreamClient, UdpClient, uniq, waitUntil, type RunningApp } from './support.js';

@Controller()
class Slow {
  @MessagePattern('MESSAGE')
  async message() {
    await sleep(300); // long enough for the client to hang up first
    return 200;
  }
}

@Module({ controllers: [Slow] })
class SlowModule {}

describe('a forged received parameter', () => {
  let app: RunningApp;
  let third: net.Server;
  let thirdPort = 0;
  let thirdUdp: dgram.Socket;
  const thirdSaw: string[] = [];

  beforeAll(async () => {
    app = await startApp(SlowModule, {
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
      ],
    });
    third = net.createServer((s) => {
      thirdSaw.push('tcp connection');
      s.destroy();
    });
    await new Promise<void>((r) => third.listen(0, '127.0.0.2', () => r()));
    thirdPort = (third.address() as net.AddressInfo).port;
    thirdUdp = dgram.createSocket('udp4');
    thirdUdp.on('message', () => thirdSaw.push('udp datagram'));
    await new Promise<void>((r) => thirdUdp.bind(thirdPort, '127.0.0.2', () => r()));
  });
  afterAll(async () => {
    await app.close();
    await new Promise<void>((r) => third.close(() => r()));
    thirdUdp.close();
  });

  const forged = (callId: string, transport: string) =>
    sipRequest({ method: 'MESSAGE', callId, transport, sentBy: `127.0.0.1:${thirdPort}`, viaParams: ';received=127.0.0.2' });

  it('TCP, the client gone before the answer: the fallback goes to where the request came from, never to the third party', async () => {
    const c = await StreamClient.connect(app.port('tcp'));
    const created = app.server.transactions!.stats.serverCreated;
    c.send(forged(`forged-tcp-${uniq()}`, 'TCP'));
    await waitUntil(() => app.server.transactions!.stats.serverCreated === created + 1, 3000, 'the request to arrive');
    c.reset(); // gone (RST) before the handler answers
    await waitUntil(() => app.server.transactions!.serverCount === 0, 5000, 'the MESSAGE transaction to end');
    await sleep(100);
    const tcp = app.server.unwrap()[1]!.stats;
    expect(tcp.connectionsConnected + tcp.connectFailures).toBe(1); // the §18.2.2 fallback did run
    expect(thirdSaw).toEqual([]);
  });

  it('TCP, connection open: the answer comes back on it, with received = the real source', async () => {
    const c = await StreamClient.connect(app.port('tcp'));
    const callId = `forged-tcp-open-${uniq()}`;
    c.send(forged(callId, 'TCP'));
    const res = await c.response(callId);
    expect(res.status).toBe(200);
    expect(res.topVia!.received).toBe('127.0.0.1');
    expect(thirdSaw).toEqual([]);
    c.socket.destroy();
  });

  it('UDP: the answer goes to the real source, received = the real source', async () => {
    const u = await UdpClient.open();
    const callId = `forged-udp-${uniq()}`;
    await u.send(forged(callId, 'UDP'), app.port('udp'));
    const res = await u.response(callId);
    expect(res.topVia!.received).toBe('127.0.0.1');
    expect(thirdSaw).toEqual([]);
    await u.close();
  });
});
