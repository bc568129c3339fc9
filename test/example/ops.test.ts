// The example's HTTP side (issue 18 §3): one hybrid Nest app serves SIP and, on HTTP_PORT,
// /metrics (Prometheus text showing what a sipp run did) and /health (@nestjs/terminus through
// nestjs-sip/terminus), which turns to 503 when a SIP leg is closed.
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipServer, SocketPool } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { sippOk } from '../client/support.js';

const sipp = peerTool('sipp');

describe('the example on HTTP: /metrics and /health', () => {
  let app: INestApplicationContext | undefined;
  let server: SipServer;
  let url: string;
  beforeAll(async () => {
    const started = await bootstrap({ HTTP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: '0' });
    ({ app, server } = started);
    url = started.httpUrl!;
  });
  afterAll(async () => {
    killAllSipp();
    await app?.close();
  });

  it.skipIf(!sipp.available)('/metrics counts a sipp run of 40 OPTIONS', async () => {
    const r = await runSipp({ scenario: 'options.xml', target: `127.0.0.1:${server.addresses.find((a) => a.proto === 'udp')!.port}`, calls: 40, rate: 400, timeout: 15 });
    expect(sippOk(r)).toMatchObject({ successful: 40, errors: '' });
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^sip_requests_received_total\{method="OPTIONS"\} 40$/m);
    expect(text).toMatch(/^sip_responses_sent_total\{method="OPTIONS",class="2xx"\} 40$/m);
    expect(text).toMatch(/^# TYPE sip_request_duration_seconds histogram$/m);
  });

  it('/health is up with every leg bound, and down (503) once a leg is closed', async () => {
    const ok = await fetch(`${url}/health`);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { status: string; info: { sip: { status: string; legs: string[] } } };
    expect(body.status).toBe('ok');
    expect(body.info.sip.status).toBe('up');
    expect(body.info.sip.legs).toHaveLength(3); // UDP, TCP, and SIP over WebSocket on the HTTP port
    await server.unwrap<SocketPool[]>().find((p) => p.proto === 'tcp')!.close();
    const down = await fetch(`${url}/health`);
    expect(down.status).toBe(503);
    const why = (await down.json()) as { status: string; error: { sip: { status: string; problems: string[] } } };
    expect(why.status).toBe('error');
    expect(why.error.sip.problems.join(' ')).toMatch(/leg tcp:127\.0\.0\.1:\d+ is closed/);
  });
});
