// OpenTelemetry (issue 18 §2): with `tracing: { propagate: true }`, a sipp INVITE through a proxying
// SipServer (A) to a second SipServer (B) that answers 486 gives three spans in the SDK's in-memory
// exporter, one trace: A's server span (the root), A's client span for the forwarded INVITE (its
// child: the handler ran in the server span), and B's server span (a child of A's client span,
// through the `traceparent` header A wrote).
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, MessagePattern } from '@nestjs/microservices';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipContext } from 'nestjs-sip';
import { peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { sippOk } from '../client/support.js';
import { startApp, type RunningApp } from '../server/support.js';
import { waitUntil } from '../helpers/wait.js';

const sipp = peerTool('sipp');
const exporter = new InMemorySpanExporter();
let bPort = 0;

@Controller()
class ProxyA {
  @MessagePattern('INVITE')
  invite(@Ctx() ctx: SipContext) {
    return ctx.proxy(`sip:bob@127.0.0.1:${bPort}`);
  }
}

@Controller()
class BusyB {
  @MessagePattern('INVITE')
  invite() {
    return 486;
  }
}

@Module({ controllers: [ProxyA] })
class ModuleA {}

@Module({ controllers: [BusyB] })
class ModuleB {}

const parentOf = (s: ReadableSpan): string | undefined =>
  (s as unknown as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId ?? (s as unknown as { parentSpanId?: string }).parentSpanId;

describe.skipIf(!sipp.available)('OpenTelemetry spans across a proxy hop', () => {
  let a: RunningApp;
  let b: RunningApp;
  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    b = await startApp(ModuleB, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], tracing: { propagate: true } });
    bPort = b.port('udp');
    a = await startApp(ModuleA, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], tracing: { propagate: true } });
  });
  afterAll(async () => {
    killAllSipp();
    await a?.close();
    await b?.close();
    trace.disable();
    context.disable();
  });

  it('A server -> A client -> B server, one trace, with method, status and transport', async () => {
    const r = await runSipp({ scenario: 'busy.xml', target: `127.0.0.1:${a.port('udp')}`, calls: 1, timeout: 15 });
    expect(sippOk(r)).toMatchObject({ successful: 1, errors: '' });
    await waitUntil(() => exporter.getFinishedSpans().filter((s) => s.name === 'SIP INVITE').length >= 3, 3000, 'three INVITE spans');
    const spans = exporter.getFinishedSpans().filter((s) => s.name === 'SIP INVITE');
    const servers = spans.filter((s) => s.kind === 1);
    const clients = spans.filter((s) => s.kind === 2);
    expect(servers).toHaveLength(2);
    expect(clients).toHaveLength(1);
    const client = clients[0]!;
    const aServer = servers.find((s) => s.attributes['network.peer.port'] !== client.attributes['network.peer.port'] && parentOf(s) === undefined)!;
    const bServer = servers.find((s) => s !== aServer)!;
    expect(aServer).toBeDefined();
    expect(parentOf(client)).toBe(aServer.spanContext().spanId);
    expect(parentOf(bServer)).toBe(client.spanContext().spanId);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    for (const s of spans) {
      expect(s.attributes).toMatchObject({ 'sip.method': 'INVITE', 'sip.status_code': 486, 'network.transport': 'udp' });
      expect(s.attributes['sip.call_id']).toBeTruthy();
    }
  });
});
