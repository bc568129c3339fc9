// Issue 17, defects 3 and 4: values from the wire reach the log escaped and bounded, and repetitive
// per-message warnings are rate-limited with a summary. Units with a controllable clock, and an end-
// to-end run: unacknowledged INVITEs whose Call-ID carries ESC and BEL, the Nest logger captured.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { afterAll, describe, expect, it } from 'vitest';
import { printable, SipServer } from 'nestjs-sip';
import { RateLimitedLog } from '../../src/nest/rate-limited-log.js';
import { CapturingLogger } from '../helpers/capturing-logger.js';
import { sipRequest, UdpClient, uniq, waitUntil } from '../server/support.js';

describe('printable', () => {
  it('escapes control characters and backslash as \\xNN; clean input is returned as it is', () => {
    expect(printable('inj\x1b[2J\x1b[1;31mFAKE: admin login ok\x07')).toBe('inj\\x1b[2J\\x1b[1;31mFAKE: admin login ok\\x07');
    expect(printable('a\\b\r\nc\x7f\x9b')).toBe('a\\x5cb\\x0d\\x0ac\\x7f\\x9b');
    const clean = 'abc@192.0.2.1 é';
    expect(printable(clean)).toBe(clean);
    expect(printable('line1\nline2', 100, true)).toBe('line1\nline2');
  });
  it('bounds the length and says how much was cut', () => {
    expect(printable('x'.repeat(250), 200)).toBe('x'.repeat(200) + '...(50 more)');
  });
});

describe('RateLimitedLog', () => {
  it('lets a burst through per interval, then one summary line with the count', () => {
    let t = 0;
    const lines: string[] = [];
    const log = new RateLimitedLog((_k, l) => lines.push(l), 3, 10_000, () => t);
    for (let i = 0; i < 1000; i++) log.log('unacked', `line ${i}`);
    log.log('other', 'another kind goes through');
    expect(lines).toEqual(['line 0', 'line 1', 'line 2', 'another kind goes through']);
    t = 10_000;
    log.log('unacked', 'next interval');
    expect(lines.slice(4)).toEqual(['... and 997 more like this in the last 10 s (unacked)', 'next interval']);
    log.flushAll();
    expect(lines).toHaveLength(6);
  });
});


@Controller()
class Answer {
  @MessagePattern('INVITE')
  invite() {
    return 200;
  }
}

@Module({ controllers: [Answer] })
class AnswerModule {}

describe('the server log under injection and flooding', () => {
  const logger = new CapturingLogger(['log', 'warn', 'error']);
  let app: Awaited<ReturnType<typeof NestFactory.createMicroservice>> | undefined;
  afterAll(async () => {
    await app?.close();
  });

  it('unacknowledged INVITEs: escaped Call-IDs, at most a burst of lines and a summary', async () => {
    const server = new SipServer({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], timers: { T1: 10 }, overload: false });
    app = await NestFactory.createMicroservice(AnswerModule, { strategy: server, logger });
    await app.listen();
    const port = server.addresses[0]!.port;
    const udp = await UdpClient.open();
    const n = 40;
    for (let i = 0; i < n; i++) {
      await udp.send(sipRequest({ method: 'INVITE', callId: `inj${i}-${uniq()}\x1b[2J\x1b[1;31mFAKE: admin login ok\x07`, sentBy: `127.0.0.1:${udp.port}` }), port);
    }
    // 64*T1 = 640 ms: every 200 goes unacknowledged.
    await waitUntil(() => server.transactions!.stats.unacked >= n, 5000, 'every 2xx unacknowledged');
    await udp.close();
    const unacked = logger.lines.filter((l) => l.includes('never acknowledged'));
    expect(unacked.length).toBe(10); // the burst; the other 30 are counted
    for (const l of logger.lines) expect(l).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(unacked[0]).toContain('\\x1b[2J\\x1b[1;31mFAKE: admin login ok\\x07');
    await app.close();
    app = undefined;
    expect(logger.lines.some((l) => /\.\.\. and 30 more like this/.test(l))).toBe(true);
  });
});
