import type { SipRequest, SipResponse } from '../message/index.js';
import type { ObservedClientTransaction, ObservedServerTransaction, TransactionMetrics } from '../transaction/index.js';

/** The span context of W3C trace context (`traceparent`). */
export interface SpanContextLike {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
}

/** The parts of an OpenTelemetry span used here (structural: @opentelemetry/api's Span fits). */
export interface SpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  spanContext(): SpanContextLike;
  end(): void;
}

/** The parts of `@opentelemetry/api` used here, so that nothing of ours needs its types. */
export interface OtelApiLike {
  trace: {
    getTracer(name: string, version?: string): { startSpan(name: string, options?: { kind?: number; attributes?: Record<string, string | number | boolean> }, context?: unknown): SpanLike };
    setSpan(context: unknown, span: SpanLike): unknown;
    setSpanContext(context: unknown, spanContext: SpanContextLike): unknown;
  };
  context: { active(): unknown; with<T>(context: unknown, fn: () => T): T };
  ROOT_CONTEXT: unknown;
}

export interface SipTracingOptions {
  /** Read `traceparent` from incoming requests and write it into outgoing ones (W3C trace context across a proxy or B2BUA hop). Default false. */
  propagate?: boolean;
  /** The tracer's name. Default `nestjs-sip`. */
  tracerName?: string;
}

const SERVER = 1; // SpanKind.SERVER
const CLIENT = 2; // SpanKind.CLIENT
const ERROR = 2; // SpanStatusCode.ERROR
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * OpenTelemetry spans for SIP: one per server transaction (kind SERVER, from the request to its
 * final response) and per client transaction (kind CLIENT, the span of the handler that sent it
 * as parent), with the method, status, Call-ID and transport; W3C `traceparent` carried across
 * hops when `propagate` is on. Without an SDK registered, the API's tracer is a no-op.
 */
export class SipTracing implements TransactionMetrics {
  private readonly tracer;

  constructor(
    private readonly api: OtelApiLike,
    private readonly opts: SipTracingOptions = {},
  ) {
    this.tracer = api.trace.getTracer(opts.tracerName ?? 'nestjs-sip');
  }

  /** Run `fn` (a handler) with the server transaction's span active, so what it sends is a child. */
  within<T>(txn: ObservedServerTransaction, fn: () => T): T {
    const span = txn.traceSpan as SpanLike | undefined;
    if (span === undefined) return fn();
    return this.api.context.with(this.api.trace.setSpan(this.api.context.active(), span), fn);
  }

  serverRequest(txn: ObservedServerTransaction): void {
    const req = txn.request;
    const parent = (this.opts.propagate === true && remoteParent(this.api, req)) || this.api.ROOT_CONTEXT;
    txn.traceSpan = this.tracer.startSpan(
      `SIP ${txn.method}`,
      { kind: SERVER, attributes: { 'sip.method': txn.method, 'sip.call_id': safeCallId(req), 'network.transport': txn.from.proto, 'network.peer.address': txn.from.addr, 'network.peer.port': txn.from.port } },
      parent,
    );
  }

  serverResponse(txn: ObservedServerTransaction, res: SipResponse): void {
    const span = txn.traceSpan as SpanLike | undefined;
    if (span === undefined || res.status < 200) return;
    txn.traceSpan = undefined;
    finish(span, res.status);
  }

  serverEnd(txn: ObservedServerTransaction): void {
    const span = txn.traceSpan as SpanLike | undefined;
    if (span === undefined) return;
    txn.traceSpan = undefined;
    span.setAttribute('sip.outcome', 'no final response');
    span.end();
  }

  clientStart(txn: ObservedClientTransaction): void {
    const req = txn.request;
    const span = this.tracer.startSpan(
      `SIP ${txn.method}`,
      { kind: CLIENT, attributes: { 'sip.method': txn.method, 'sip.call_id': safeCallId(req), 'network.transport': txn.dst.proto, 'network.peer.address': txn.dst.addr, 'network.peer.port': txn.dst.port } },
      this.api.context.active(),
    );
    txn.traceSpan = span;
    if (this.opts.propagate === true) {
      const c = span.spanContext();
      req.headers.set('traceparent', `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, '0')}`);
    }
  }

  clientFinal(txn: ObservedClientTransaction, res: SipResponse | undefined): void {
    const span = txn.traceSpan as SpanLike | undefined;
    if (span === undefined) return;
    txn.traceSpan = undefined;
    if (res === undefined) {
      span.setStatus({ code: ERROR, message: 'no response (timeout or transport failure)' });
      span.end();
    } else finish(span, res.status);
  }
}

function finish(span: SpanLike, status: number): void {
  span.setAttribute('sip.status_code', status);
  if (status >= 500) span.setStatus({ code: ERROR, message: String(status) });
  span.end();
}

/** The parent a `traceparent` header names (W3C trace context), when it is well-formed. */
function remoteParent(api: OtelApiLike, req: SipRequest): unknown {
  const v = req.headers.get('traceparent');
  const m = v === undefined ? null : TRACEPARENT.exec(v.trim());
  if (m === null) return undefined;
  return api.trace.setSpanContext(api.ROOT_CONTEXT, { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16), isRemote: true });
}

function safeCallId(req: SipRequest): string {
  try {
    return req.callId;
  } catch {
    return '';
  }
}
