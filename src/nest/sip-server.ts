import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, Server, type MessageHandler } from '@nestjs/microservices';
import { EventEmitter } from 'node:events';
import { isObservable, Observable, throwError } from 'rxjs';
import { DialogLayer, SipDialog, type DialogSender } from '../dialog/index.js';
import { printable, type SipRequest, type SipResponse } from '../message/index.js';
import type { InviteServerTransaction, ServerTransaction, SipPeer } from '../transaction/index.js';
import type { LocalAddress, SocketPool } from '../transport/index.js';
import { SipClient } from './sip-client.js';
import { SipContext } from './sip-context.js';
import { SipEndpoint, type SipLeg } from './sip-endpoint.js';
import type { SipServerEvents, SipServerOptions, SipServerStatus } from './sip-server-options.js';
import { SipProxy } from '../proxy/index.js';
import { EndpointProxyHost } from './proxy-host.js';
import { ServerMetrics } from './server-metrics.js';
import { combineObservers, HepMirror, SipTracing } from '../observe/index.js';
import { transactionLogFor } from './transaction-log-sink.js';
import { loadOtel } from './load-otel.js';
import { allowHeader, precheck } from './request-checks.js';
import { ServerHealth, type SipHealthOptions, type SipHealthReport } from './server-health.js';
import { errorKind, RateLimitedLog } from './rate-limited-log.js';
import { ReplySink, untilAborted } from './reply-sink.js';

export type { SipServerOptions, SipServerStatus, SipServerEvents } from './sip-server-options.js';

const DEFAULT_LEGS: SipLeg[] = [
  { transport: 'udp', host: '127.0.0.1', port: 5060 },
  { transport: 'tcp', host: '127.0.0.1', port: 5060 },
];

/**
 * A Nest microservice transport that speaks SIP. Requests dispatch to `@MessagePattern('<METHOD>')`
 * handlers through Nest's own pipeline (guards, pipes, interceptors, filters); the handler's result
 * becomes the response, sent back on the connection the request came in on. ACKs for 2xx responses
 * go to `@EventPattern('ACK')`.
 */
export class SipServer extends Server<SipServerEvents, SipServerStatus> implements CustomTransportStrategy {
  protected override readonly logger = new Logger(SipServer.name);
  /** Per-message warnings and errors, escaped (wire values) and rate-limited with a summary (floods). */
  private readonly log = new RateLimitedLog((kind, line, stack) => (kind === 'unacked' ? this.logger.warn(line) : this.logger.error(line, stack)));
  private endpoint: SipEndpoint | undefined;
  /** Counters and their Prometheus text (undefined with `metrics: false`). */
  readonly metrics: ServerMetrics | undefined;
  private readonly healthState = new ServerHealth(() => this.endpoint);
  /** Spans per transaction, when `tracing` is on (made at listen()). */
  private tracing: SipTracing | undefined;
  /** The stateful proxy (ctx.proxy(), in-dialog routing); made at listen(). */
  private proxy: SipProxy | undefined;
  private readonly events = new EventEmitter();
  private readonly supported: Set<string>;
  private readonly schemes: Set<string>;
  private allow = '';
  private closing: Promise<void> | undefined;
  /** listen() in progress (binding the legs). */
  private starting: Promise<void> | undefined;
  /** Sends the requests of the dialogs this server answered (BYE, re-INVITE...), from its own legs. */
  private dialogClient: SipClient | undefined;

  /** Nest's default processing start hook, to see whether anyone replaced it. */
  private readonly defaultStartHook: unknown;

  constructor(private readonly options: SipServerOptions = {}) {
    super();
    this.defaultStartHook = (this as unknown as { onProcessingStartHook?: unknown }).onProcessingStartHook;
    this.supported = new Set((options.supported ?? []).map((s) => s.toLowerCase()));
    this.schemes = new Set((options.schemes ?? ['sip', 'sips', 'tel']).map((s) => s.toLowerCase()));
    this.metrics = options.metrics === false ? undefined : new ServerMetrics();
    // Node's EventEmitter throws on an 'error' without listener; our errors are also logged.
    this.events.on('error', () => {});
  }

  /** Bind every leg, then call `callback()` once; a bind error (EADDRINUSE...) goes to `callback(err)` and nothing stays bound. */
  listen(callback: (err?: unknown, ...info: unknown[]) => void): void {
    const starting = this.start();
    this.starting = starting;
    starting.then(
      () => callback(),
      (err: unknown) => callback(err),
    );
    // A close() meanwhile waits for this start to end (and undo itself) before it resolves.
    void starting.catch(() => {}).then(() => {
      if (this.starting === starting) this.starting = undefined;
    });
  }

  private async start(): Promise<void> {
    if (this.endpoint !== undefined || this.starting !== undefined) throw new Error('SipServer is already listening');
    this.closing = undefined;
    this.allow = allowHeader(this.messageHandlers);
    const t = this.options.tracing;
    this.tracing = t === undefined || t === false ? undefined : new SipTracing(await loadOtel(), t === true ? {} : t);
    const observer = combineObservers([this.metrics?.counters, this.tracing, transactionLogFor(this.options.transactionLog)]);
    const endpoint = new SipEndpoint(
      {
        limits: this.options.limits,
        timers: this.options.timers,
        serverHeader: this.options.serverHeader,
        dialogs: this.options.dialogs,
        admission: this.options.overload === false ? undefined : (this.options.overload ?? {}),
        metrics: observer,
        hep: this.options.hep === undefined ? undefined : new HepMirror(this.options.hep),
      },
      {
        onRequest: (txn) => this.onRequest(txn),
        onAck: (ack, from, txn) => this.onAck(ack, from, txn),
        onUnacked: (txn, res) => this.onUnacked(txn, res),
        onError: (err) => this.reportError(err),
      },
    );
    try {
      for (const leg of this.options.listen ?? DEFAULT_LEGS) await endpoint.addLeg(leg);
    } catch (err) {
      await endpoint.close(0);
      this._status$.next('error');
      throw err;
    }
    if (this.closing !== undefined) {
      // close() was called while the legs were being bound: undo, and tell listen() it failed.
      await endpoint.close(0);
      throw new Error('SipServer was closed before it finished listening');
    }
    this.endpoint = endpoint;
    this.metrics?._attach(endpoint);
    this.proxy = new SipProxy(new EndpointProxyHost(endpoint, this.options.proxy), { maxForks: this.options.proxy?.maxForks });
    endpoint.dialogs.sender = this.lazySender(endpoint);
    endpoint.dialogs.onCreated = (d, req) => this.events.emit('dialog', d, req);
    for (const a of endpoint.addresses) this.logger.log(`SIP listening on ${a.proto.toUpperCase()} ${a.family === 6 ? `[${a.addr}]` : a.addr}:${a.port}`);
    this._status$.next('listening');
  }

  /**
   * Health for a probe: every leg bound, the event loop not stuck (`maxLoopDelayMs`), and the
   * application's `checks` (e.g. its location store) passing. Never rejects.
   */
  health(opts?: SipHealthOptions): Promise<SipHealthReport> {
    return this.healthState.report(opts);
  }

  /** The bound addresses, one per leg (read the real port here when you listened on port 0). */
  get addresses(): LocalAddress[] {
    return this.endpoint?.addresses ?? [];
  }

  /**
   * Stop: new requests get 503, running transactions get up to `closeTimeout` ms to finish, then
   * every socket and timer is released. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    const endpoint = this.endpoint;
    if (endpoint === undefined) {
      const starting = this.starting;
      if (starting === undefined) {
        this.closing = Promise.resolve();
        this._status$.next('closed');
        return this.closing;
      }
      // Still binding: start() sees `closing`, releases what it bound and fails listen().
      this._status$.next('closing');
      this.closing = starting.then(
        () => undefined,
        () => undefined,
      ).then(() => this._status$.next('closed'));
      return this.closing;
    }
    this._status$.next('closing');
    const client = this.dialogClient;
    this.dialogClient = undefined;
    this.closing = endpoint.close(this.options.closeTimeout ?? 5000).then(async () => {
      await client?.close();
      this.endpoint = undefined;
      this.log.flushAll();
      this.metrics?._detach();
      this.healthState.stop();
      this.logger.log('SIP server closed');
      this._status$.next('closed');
    });
    return this.closing;
  }

  on<EventKey extends keyof SipServerEvents = keyof SipServerEvents, EventCallback extends SipServerEvents[EventKey] = SipServerEvents[EventKey]>(
    event: EventKey,
    callback: EventCallback,
  ): void {
    this.events.on(event as string, callback as unknown as (...args: unknown[]) => void);
  }

  /** The socket pools, one per leg (`unwrap<SocketPool[]>()`). Throws before listen(). */
  unwrap<T = SocketPool[]>(): T {
    if (this.endpoint === undefined) throw new Error('Not initialized. Please call the "listen"/"startAllMicroservices" method before accessing the server.');
    return this.endpoint.pools as T;
  }

  /** @internal The pools and transaction layer, for a SipClient sending from this server's ports. */
  getEndpoint(): SipEndpoint | undefined {
    return this.closing === undefined ? this.endpoint : undefined;
  }

  /** The dialog table (live dialogs, lookups); undefined before listen(). */
  get dialogs(): DialogLayer | undefined {
    return this.endpoint?.dialogs;
  }

  /**
   * The sender of this server's UAS dialogs: a SipClient on the server's own legs, made when the
   * first dialog sends (most servers never send a BYE of their own).
   */
  private lazySender(endpoint: SipEndpoint): DialogSender {
    const get = (): SipClient => {
      if (this.dialogClient === undefined) {
        this.dialogClient = new SipClient({ server: { getEndpoint: () => (this.endpoint === endpoint ? endpoint : undefined) }, userAgent: this.options.serverHeader });
        this.dialogClient.on('error', (err: unknown) => this.reportError(err));
      }
      return this.dialogClient;
    };
    return {
      sendInDialog: (req, transport, flow) => get().sendInDialog(req, transport, flow),
      sendAck: (ack, res, transport, flow) => get().sendAck(ack, res, transport, flow),
    };
  }

  /** The transaction layer (stats, timers); undefined before listen(). */
  get transactions(): SipEndpoint['layer'] | undefined {
    return this.endpoint?.layer;
  }

  // --- dispatch -------------------------------------------------------------------------------

  private onRequest(txn: ServerTransaction): void {
    // With tracing, the handler runs in its transaction's span: what it sends becomes a child span.
    if (this.tracing !== undefined) this.tracing.within(txn, () => this.handle(txn));
    else this.handle(txn);
  }

  private handle(txn: ServerTransaction): void {
    const req = txn.request;
    if (this.closing !== undefined) {
      void txn.respond(txn.createResponse(503, undefined, { headers: { 'Retry-After': 5 } }));
      return;
    }
    const early = precheck(req, txn, this.schemes, this.supported);
    if (early !== undefined) {
      void txn.respond(early);
      return;
    }
    const dialogs = this.endpoint!.dialogs;
    let dialog: SipDialog | undefined;
    if (DialogLayer.inDialog(req)) {
      // Routed through us (we record-routed the dialog) and not for us: on to the next hop.
      if (this.proxy!.routeRequest(txn)) return;
      const matched = dialogs.receive(req);
      if (matched !== undefined && !(matched instanceof SipDialog)) {
        void txn.respond(txn.createResponse(matched.status, matched.reason, matched.headers === undefined ? undefined : { headers: matched.headers }));
        return;
      }
      dialog = matched;
    } else if ((req.method === 'INVITE' || req.method === 'SUBSCRIBE' || req.method === 'REFER') && dialogs.full) {
      void txn.respond(txn.createResponse(503, 'Too Many Dialogs', { headers: { 'Retry-After': 10 } }));
      return;
    }
    const handler = this.messageHandlers.get(req.method);
    if (handler === undefined || handler.isEventHandler) {
      if (req.method === 'BYE' && req.to.tag !== undefined) {
        void txn.respond(200); // the dialog ended when the BYE came (RFC 3261 §15.1.2)
        return;
      }
      if (req.method === 'OPTIONS') {
        void txn.respond(txn.createResponse(200, undefined, { headers: { Allow: this.allow, Accept: 'application/sdp' } }));
      } else {
        void txn.respond(txn.createResponse(405, undefined, { headers: { Allow: this.allow } }));
      }
      return;
    }
    const ctx = new SipContext([req, txn.from, txn, dialogs, dialog, this.proxy]);
    const reply = new ReplySink(this, txn);
    if (this.plainHooks()) void this.dispatch(handler, req, ctx, reply);
    else if (typeof this.handleRequest === 'function') this.handleRequest(ctx, () => this.produce(handler, req, ctx), reply.respond);
    // Nest 11 has no handleRequest(): its processing hooks are not run, the stream is sent as it is.
    else void this.produce(handler, req, ctx).then((out) => this.send(out, reply.respond));
  }

  /** No processing hooks set (Nest's tracing hooks): the lean dispatch needs none of handleRequest's wrapping. */
  private plainHooks(): boolean {
    const self = this as unknown as { onProcessingStartHook?: unknown; onProcessingEndHook?: unknown };
    return self.onProcessingStartHook === this.defaultStartHook && self.onProcessingEndHook === undefined;
  }

  /**
   * The lean dispatch: the handler Nest built (guards, interceptors, pipes, filters all inside it)
   * is awaited, and a plain result (what most handlers return) becomes the response at once,
   * without the Observable, the subscription and the next-tick queue that Nest's handleRequest()
   * and send() spend on every request. Streams (an interceptor, an Observable returned, an
   * exception filter's error) still go through send(). Never rejects.
   */
  private async dispatch(handler: MessageHandler, req: SipRequest, ctx: SipContext, reply: ReplySink): Promise<void> {
    let result: unknown;
    try {
      result = await handler(req, ctx);
    } catch (err) {
      reply.write({ err })?.catch((e: unknown) => this.reportError(e));
      return;
    }
    if (isObservable(result)) this.send(untilAborted(result, ctx.getTransaction()), reply.respond);
    else reply.write({ response: result, isDisposed: true })?.catch((e: unknown) => this.reportError(e));
  }

  /**
   * Never rejects: Nest's handler proxy rejects when an exception filter itself throws on an error
   * raised before the handler's stream (a guard, a pipe); handleRequest() would then leave an
   * unhandled rejection and no response. The error goes down the stream instead (500, logged).
   */
  private async produce(handler: MessageHandler, req: SipRequest, ctx: SipContext): Promise<Observable<unknown>> {
    try {
      const result = await handler(req, ctx);
      const out = isObservable(result) ? result : this.transformToObservable(result);
      // CANCEL, application timeout, transport failure or shutdown: the transaction has its final
      // answer (or none is possible); stop the handler's stream so its teardown runs now.
      return untilAborted(out, ctx.getTransaction());
    } catch (err) {
      return throwError(() => err);
    }
  }

  private onAck(ack: SipRequest, from: SipPeer, txn: InviteServerTransaction | undefined): void {
    if (txn === undefined) {
      // The ACK of a 2xx we relayed, routed through us (§16.11); else an ACK for nothing we know
      // (its transaction ended): RFC 3261 §17.2.3 drops it.
      this.proxy?.routeAck(ack, from);
      return;
    }
    const dialogs = this.endpoint?.dialogs;
    const dialog = dialogs?.ack(ack);
    const handler = this.messageHandlers.get('ACK');
    if (handler === undefined) return;
    const ctx = new SipContext([ack, from, txn, dialogs, dialog]);
    this.handleEvent('ACK', { pattern: 'ACK', data: ack }, ctx).catch((err: unknown) => this.reportError(err));
  }

  private onUnacked(txn: InviteServerTransaction, res: SipResponse): void {
    if (res.status < 300) {
      this.log.log('unacked', `${res.status} to INVITE ${printable(txn.request.callId)} was never acknowledged (64*T1)`);
      // RFC 3261 §13.3.1.4: the dialog stands, but the session should end: BYE.
      const dialog = this.endpoint?.dialogs.get(res.callId, res.to.tag ?? '', res.from.tag ?? '');
      if (dialog !== undefined && dialog.state !== 'terminated') dialog._hangUp('no-ack').subscribe({ error: () => undefined });
      this.events.emit('unacked', txn.request, res);
    }
  }

  private reportError(err: unknown): void {
    this.log.log(errorKind(err), printable(err instanceof Error ? err.message : String(err), 500), err instanceof Error && err.stack !== undefined ? printable(err.stack, 4000, true) : undefined);
    this.events.emit('error', err);
  }

  /** @internal */
  logHandlerError(message: string, stack?: string): void {
    this.log.log('handler', printable(message, 500), stack === undefined ? undefined : printable(stack, 4000, true));
  }
}
