// Metrics (issue 18 §1): after real sipp runs against a Nest SipServer, the Prometheus text of
// server.metrics shows what sipp saw (requests by method, responses by class, retransmissions
// absorbed and answered, latency counts), is well-formed exposition text, and prom-client's own
// registry serves the same numbers through nestjs-sip/prometheus.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerSipMetrics } from 'nestjs-sip/prometheus';
import { peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { sippOk } from '../client/support.js';
import { startApp, type RunningApp } from '../server/support.js';

const sipp = peerTool('sipp');

@Controller()
class Handlers {
  @MessagePattern('OPTIONS')
  options() {
    return { status: 200, headers: { Allow: 'OPTIONS, INVITE, ACK, CANCEL, MESSAGE' } };
  }

  @MessagePattern('MESSAGE')
  message() {
    return 200;
  }

  @MessagePattern('INVITE')
  invite() {
    return 486;
  }
}

@Module({ controllers: [Handlers] })
class AppModule {}

/** The value of one sample line, e.g. `sip_requests_received_total{method="OPTIONS"}`. */
function sample(text: string, line: string): number | undefined {
  const at = text.split('\n').find((l) => l.startsWith(line + ' '));
  return at === undefined ? undefined : Number(at.slice(line.length + 1));
}

/** Prometheus text format 0.0.4, line by line: HELP/TYPE comments, then `name{labels} value` samples of declared families. */
function checkExposition(text: string): string[] {
  const problems: string[] = [];
  const declared = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]!)) problems.push(`bad type: ${line}`);
        declared.set(m[2]!, m[3]!);
      }
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (-?[0-9.]+(?:e[+-]?[0-9]+)?|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) {
      problems.push(`not a sample: ${line}`);
      continue;
    }
    const base = m[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!declared.has(m[1]!) && !(declared.get(base) === 'histogram')) problems.push(`sample of an undeclared family: ${line}`);
  }
  return problems;
}

describe.skipIf(!sipp.available)('metrics after sipp runs', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(AppModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
  });
  afterAll(async () => {
    killAllSipp();
    await app?.close();
  });

  it('counts what sipp saw, in valid exposition text, and prom-client serves the same', async () => {
    const target = `127.0.0.1:${app.port('udp')}`;
    const options = await runSipp({ scenario: 'options.xml', target, calls: 50, rate: 500, timeout: 15 });
    expect(sippOk(options)).toMatchObject({ successful: 50, errors: '' });
    const busy = await runSipp({ scenario: 'busy.xml', target, calls: 3, timeout: 15 });
    expect(sippOk(busy)).toMatchObject({ successful: 3, errors: '' });
    const retrans = await runSipp({ scenario: 'message-retrans.xml', target, calls: 4, timeout: 15, args: ['-nr'] });
    expect(sippOk(retrans)).toMatchObject({ successful: 4, errors: '' });

    const text = app.server.metrics!.text();
    expect(checkExposition(text)).toEqual([]);
    expect(sample(text, 'sip_requests_received_total{method="OPTIONS"}')).toBe(50);
    expect(sample(text, 'sip_responses_sent_total{method="OPTIONS",class="2xx"}')).toBe(50);
    expect(sample(text, 'sip_requests_received_total{method="INVITE"}')).toBe(3);
    expect(sample(text, 'sip_responses_sent_total{method="INVITE",class="4xx"}')).toBe(3);
    // Each MESSAGE came twice with one branch: the copy was answered from the Completed state.
    expect(sample(text, 'sip_requests_received_total{method="MESSAGE"}')).toBe(4);
    expect(sample(text, 'sip_retransmissions_total{direction="absorbed",message="request"}')).toBe(4);
    expect(sample(text, 'sip_retransmissions_total{direction="sent",message="response"}')).toBe(4);
    // The non-2xx INVITE answers were ACKed: those ACKs were absorbed hop by hop.
    expect(sample(text, 'sip_retransmissions_total{direction="absorbed",message="ack"}')).toBe(3);
    expect(sample(text, 'sip_request_duration_seconds_count{method="OPTIONS"}')).toBe(50);
    expect(sample(text, 'sip_request_duration_seconds_bucket{method="OPTIONS",le="+Inf"}')).toBe(50);
    expect(sample(text, 'sip_transactions_live{kind="client"}')).toBe(0);
    expect(sample(text, 'sip_rejected_total{reason="parse",transport="udp"}')).toBe(0);
    expect(text).toMatch(/^sip_event_loop_delay_seconds\{stat="p99"\} [0-9.e-]+$/m);

    const registry = new Registry();
    const names = registerSipMetrics(app.server, { registry });
    expect(names).toContain('sip_requests_received_total');
    const served = await registry.metrics();
    expect(checkExposition(served)).toEqual([]);
    expect(sample(served, 'sip_requests_received_total{method="OPTIONS"}')).toBe(50);
    expect(sample(served, 'sip_responses_sent_total{method="INVITE",class="4xx"}')).toBe(3);
    expect(sample(served, 'sip_request_duration_seconds_count{method="OPTIONS"}')).toBe(50);
  });
});
