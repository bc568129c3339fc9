// Issue 17, defect 4 ("... so an attacker cannot fill the disk or hide other lines"): errors are
// rate-limited per kind (their code, else their class), so a flood of one error cannot use up the
// budget of the others. Units, and an end-to-end run: a flood of failed TLS handshakes, then one
// other error (a response whose fallback connection is refused), the Nest logger captured.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { SipServer } from 'nestjs-sip';
import { errorKind, RateLimitedLog } from '../../src/nest/rate-limited-log.js';
import { makeTestPki } from '../transport/tls-certs.js';
import { CapturingLogger } from '../helpers/capturing-logger.js';
import { sipRequest, sleep, StreamClient, uniq, waitUntil } from '../server/support.js';

describe('RateLimitedLog kinds', () => {
  it('errorKind: the code, else the class name, never the message', () => {
    expect(errorKind(Object.assign(new Error('wire text'), { code: 'ERR_SIP_TLS' }))).toBe('ERR_SIP_TLS');
    expect(errorKind(new TypeError('wire text'))).toBe('TypeError');
    expect(errorKind('wire text')).toBe('string');
  });

  it('the number of kinds is bounded: past 64, new kinds share one budget; summaries name their kind', () => {
    const lines: string[] = [];
    const log = new RateLimitedLog((_k, l) => lines.push(l), 1, 10_000, () => 0);
    for (let i = 0; i < 1000; i++) log.log(`kind${i}`, `m${i}`);
    expect(lines).toHaveLength(65);
    log.flushAll();
    expect(lines.slice(65)).toEqual(['... and 935 more like this in the last 0 s (other)']);
  });
});


@Controller()
class Slow {
  @MessagePattern('MESSAGE')
  async message() {
    await sleep(150); // the client hangs up first
    return 200;
  }
}

@Module({ controllers: [Slow] })
class SlowModule {}

describe('a flood of one error does not hide another', () => {
  const logger = new CapturingLogger();
  let app: Awaited<ReturnType<typeof NestFactory.createMicroservice>> | undefined;
  afterAll(async () => {
    await app?.close();
  });

  it('15 failed TLS handshakes, then a refused fallback connection: the second error is logged', async () => {
    const pki = makeTestPki();
    const server = new SipServer({
      listen: [
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
        { transport: 'tls', host: '127.0.0.1', port: 0, tls: { cert: pki.a.cert, key: pki.a.key, ca: pki.ca } },
      ],
      overload: false,
    });
    app = await NestFactory.createMicroservice(SlowModule, { strategy: server, logger });
    await app.listen();
    const codes: string[] = [];
    server.on('error', (err) => codes.push(errorKind(err)));
    const port = (proto: string) => server.addresses.find((a) => a.proto === proto)!.port;

    // The flood: plain text to the TLS port, each a failed handshake (ERR_SIP_TLS).
    for (let i = 0; i < 15; i++) {
      const s = net.connect(port('tls'), '127.0.0.1');
      s.on('error', () => {});
      s.end('OPTIONS sip:x SIP/2.0\r\n\r\n');
    }
    await waitUntil(() => codes.filter((c) => c === 'ERR_SIP_TLS').length >= 15, 5000, 'every handshake to fail');

    // Another error: the client is gone before the answer and its sent-by port refuses (§18.2.2 fallback).
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const refusing = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const c = await StreamClient.connect(port('tcp'));
    c.send(sipRequest({ method: 'MESSAGE', callId: `refused-${uniq()}`, transport: 'TCP', sentBy: `127.0.0.1:${refusing}` }));
    await waitUntil(() => server.transactions!.serverCount === 1, 3000, 'the request to arrive');
    c.reset();
    await waitUntil(() => codes.includes('ERR_SIP_CONNECT_REFUSED'), 5000, 'the refused fallback connection');

    expect(logger.lines.filter((l) => /TLS handshake/.test(l)).length).toBe(10); // the flood: its burst
    expect(logger.lines.some((l) => /refused/.test(l))).toBe(true); // not hidden by it
    await app.close();
    app = undefined;
    const tls = codes.filter((c) => c === 'ERR_SIP_TLS').length;
    expect(logger.lines.some((l) => new RegExp(`^\\.\\.\\. and ${tls - 10} more like this in the last \\d+ s \\(ERR_SIP_TLS\\)$`).test(l))).toBe(true);
  });
});
