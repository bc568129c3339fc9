import { Logger } from '@nestjs/common';
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { EventEmitter } from 'node:events';
import { Observable } from 'rxjs';
import { networkInterfaces } from 'node:os';
import {
  generateBranch,
  generateCallId,
  generateTag,
  parseNameAddr,
  parseUri,
  SipRequest,
  type Body,
  type HeadersInit,
  type SipResponse,
  type SipUri,
} from '../message/index.js';
import { DialogLayer, localContact, SipDialog, type DialogFlow, type DialogSender } from '../dialog/index.js';
import {
  buildAckFor2xx,
  type ClientTransaction,
  type ServerTransaction,
  type SipDestination,
  type SipPeer,
  type TimerOptions,
} from '../transaction/index.js';
import type { LocalAddress, PoolLimitsInit, PoolTlsOptions, SocketPool } from '../transport/index.js';
import { SipEndpoint, type SipEndpointHost } from './sip-endpoint.js';
import { SipClientClosedError, SipResponseError } from './sip-response-error.js';
import { resolveLiteral, resolveTarget, systemDns, type ResolvedTarget, type SipDnsResolver, type SipTransportName } from './sip-resolver.js';

export interface SipClientOptions {
  /** Transport for URIs that do not name one (`;transport=`, `sips:`). Default 'udp'. */
  transport?: SipTransportName;
  /** Local address to bind the client's sockets to. Default '0.0.0.0' (IPv4) and '::' (IPv6). */
  localHost?: string;
  localHost6?: string;
  /** Host written into Via and Contact. Default: the bound address, or this machine's first external IPv4/IPv6 address for a wildcard bind. */
  publicHost?: string;
  /** TLS credentials (client certificate) and CAs for verifying servers. */
  tls?: PoolTlsOptions;
  limits?: PoolLimitsInit;
  /** T1/T2/T4 (ms) and the other transaction timers. With `server`, the server's timers apply. */
  timers?: TimerOptions;
  /** From for requests that have none, e.g. '"Nest" <sip:nest@example.com>'. A tag is always added. */
  from?: string;
  /** User-Agent header added to requests that have none. */
  userAgent?: string;
  /** Deliver final non-2xx responses as the last value instead of a SipResponseError. Default false. */
  non2xxAsValue?: boolean;
  /** ACK 2xx responses to INVITE automatically (RFC 3261 §13.2.2.4). Default true; false hands the 2xx to you (see `ack()`). */
  autoAck?: boolean;
  /** DNS look-ups for RFC 3263 resolution (SRV, A/AAAA); default node:dns. */
  dns?: SipDnsResolver;
  /**
   * Send from a SipServer's listening sockets (and its transaction layer) instead of sockets of the
   * client's own, so requests leave from the server's port and in-dialog requests reach its handlers.
   */
  server?: SipEndpointHost;
}

/** What `send(method, request)` takes: the Request-URI and what to add; everything RFC 3261 §8.1.1 requires is filled in. */
export interface SipClientRequest {
  uri: string;
  headers?: HeadersInit;
  body?: Body;
  /** Send to this host/port/transport instead of what the URI (or Route) resolves to. */
  host?: string;
  port?: number;
  transport?: SipTransportName;
}

export type SipClientStatus = 'connected' | 'disconnected' | 'closed';

export interface SipClientEvents {
  error: (err: unknown) => void;
  [event: string]: Function;
}

const NEEDS_CONTACT = new Set(['INVITE', 'REGISTER', 'SUBSCRIBE', 'REFER', 'NOTIFY']);
/** RFC 3261 `token` (a method name). */
const METHOD = /^[A-Za-z0-9.!%*_+`'~-]+$/;

/** Per-leg strings of the headers the client fills in. */
interface LegText {
  host: string;
  hostPort: string;
  /** Via up to the branch value. */
  viaPrefix: string;
  /** From up to the tag value. */
  from: string;
  fromUser: string | undefined;
  /** Contact for the default (or configured) From user, `sip:` URI. */
  contact: string;
  contactFor(user: string | undefined, secure: boolean): string;
}

/**
 * A Nest ClientProxy that sends SIP requests. `send(method, request)` returns an Observable that
 * emits every provisional response and completes with the final one (a 2xx; a non-2xx arrives as
 * a SipResponseError). Unsubscribing from an INVITE before its final response sends CANCEL.
 */
// Status stays `string` in the base type: ClientsModule's `customClass: Type<ClientProxy>` must accept the class.
export class SipClient extends ClientProxy<SipClientEvents> implements DialogSender {
  private readonly logger = new Logger(SipClient.name);
  private readonly options: SipClientOptions;
  private endpoint: SipEndpoint | undefined;
  private ownsEndpoint = false;
  private connecting: Promise<SipEndpoint> | undefined;
  private readonly legs = new Map<string, Promise<SocketPool>>();
  /** Legs bound (own endpoint), by transport + family: what the synchronous send path uses. */
  private readonly readyLegs = new Map<string, SocketPool>();
  /** Per leg, the strings fillHeaders writes (computed once: publicHost may list the interfaces). */
  private readonly legText = new WeakMap<SocketPool, LegText>();
  private readonly events = new EventEmitter();
  private cseq = Math.floor(Math.random() * 10000) + 1;
  private modeCache: PendingMode | undefined = undefined;
  /** Automatic ACKs of 2xx still being sent, by the 2xx. */
  private readonly acksSending = new WeakMap<SipResponse, Promise<void>>();
  private closed = false;
  private readonly pending = new Set<Pending>();
  /** ACKs sent for 2xx, by Call-ID/CSeq/To tag, to answer retransmitted 2xx (kept 64*T1). */
  private readonly acks = new Map<string, { ack: SipRequest; dst: SipDestination; until: number }>();
  /** ACKs for 2xx being addressed (DNS), by the same key: a retransmitted 2xx waits for them. */
  private readonly acking = new Map<string, Promise<SipDestination>>();
  /** autoAck false: INVITEs whose 2xx waits for the caller's `ack(response)`, by Call-ID/CSeq/To tag (kept 64*T1). */
  private readonly awaitingAck = new Map<string, { invite: SipRequest; until: number }>();

  constructor(options: SipClientOptions = {}) {
    super();
    this.options = options;
    this.events.on('error', () => {});
  }

  /** Ready the client (idempotent; `send()` calls it). Sockets are bound on first use per transport and IP family. */
  connect(): Promise<SipEndpoint> {
    if (this.closed) return Promise.reject(new SipClientClosedError());
    if (this.connecting !== undefined) return this.connecting;
    this.connecting = this.open();
    this.connecting.catch(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<SipEndpoint> {
    const server = this.options.server;
    if (server !== undefined) {
      const ep = server.getEndpoint();
      if (ep === undefined) throw new Error('SipClient: the SipServer given as `server` is not listening');
      this.endpoint = ep;
      this.ownsEndpoint = false;
      ep.addStrayListener(this.strayListener);
    } else {
      this.endpoint = new SipEndpoint(
        { limits: this.options.limits, timers: this.options.timers },
        {
          // A client alone has no handlers: it answers in-dialog requests through their dialog.
          onRequest: (txn) => this.answerRequest(txn),
          onStray: this.strayListener,
          onError: (err) => this.events.emit('error', err),
        },
      );
      this.ownsEndpoint = true;
    }
    this._status$.next('connected');
    return this.endpoint;
  }

  /** Fail every pending request with SipClientClosedError and release the client's sockets and timers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new SipClientClosedError();
    const ep = this.endpoint;
    for (const p of [...this.pending]) {
      p.fail(err);
      // A SipServer's endpoint stays open: end our transactions on it (an INVITE that rings is CANCELled).
      if (ep !== undefined && !this.ownsEndpoint) p.abandon(ep, err);
    }
    this.pending.clear();
    this.acks.clear();
    this.awaitingAck.clear();
    this.readyLegs.clear();
    this.endpoint = undefined;
    if (ep !== undefined) {
      if (this.ownsEndpoint) await ep.close(0);
      else ep.removeStrayListener(this.strayListener);
    }
    this._status$.next('closed');
  }

  override on<EventKey extends keyof SipClientEvents = keyof SipClientEvents, EventCallback extends SipClientEvents[EventKey] = SipClientEvents[EventKey]>(
    event: EventKey,
    callback: EventCallback,
  ): void {
    this.events.on(event as string, callback as unknown as (...args: unknown[]) => void);
  }

  /** The client's socket pools (`unwrap<SocketPool[]>()`); throws before connect(). */
  unwrap<T = SocketPool[]>(): T {
    if (this.endpoint === undefined) throw new Error('Not initialized. Please call the "connect" method first.');
    return this.endpoint.pools as T;
  }

  /** Local addresses of the sockets bound so far. */
  get addresses(): LocalAddress[] {
    return this.endpoint?.addresses ?? [];
  }

  /**
   * ACK a 2xx yourself (with `autoAck: false`), e.g. to carry an SDP answer in the ACK. The ACK is
   * remembered and repeated for retransmitted 2xx. `ack(response, opts)` finds the INVITE this
   * client sent (for 64*T1 after its 2xx); `ack(invite, response, opts)` takes it explicitly.
   */
  ack(response: SipResponse, opts?: SipAckOptions): Promise<void>;
  ack(invite: SipRequest, response: SipResponse, opts?: SipAckOptions): Promise<void>;
  async ack(a: SipRequest | SipResponse, b?: SipResponse | SipAckOptions, c?: SipAckOptions): Promise<void> {
    let invite: SipRequest;
    let response: SipResponse;
    let opts: SipAckOptions;
    if (a instanceof SipRequest) {
      invite = a;
      response = b as SipResponse;
      opts = c ?? {};
    } else {
      response = a;
      opts = (b as SipAckOptions | undefined) ?? {};
      const known = this.awaitingAck.get(ackKey(response));
      if (known === undefined) throw new Error('SipClient.ack(response): no INVITE of this client awaits an ACK for this response; use ack(invite, response)');
      invite = known.invite;
    }
    if (response.status < 200 || response.status >= 300) throw new TypeError(`ack(): only a 2xx is ACKed by the caller (got ${response.status}); non-2xx are ACKed by the transaction`);
    const ep = await this.connect();
    this.awaitingAck.delete(ackKey(response));
    const ack = buildAckFor2xx(invite, response, { body: opts.body as Buffer | string | undefined, contentType: opts.contentType });
    const dst = await this.ackDestination(ack, invite);
    this.rememberAck(ack, response, dst, ep);
    await ep.layer.sendStateless(ack, dst);
  }

  // --- ClientProxy ---------------------------------------------------------------------------

  /**
   * `send(method, request)`: an Observable of the responses (each provisional, then the final
   * one). Cold: each subscription sends the request once. Same contract as ClientProxy.send (the
   * dispatch hook sees every packet), without its per-request connect round trip: the client
   * connects inside, and a request to an IP address over a leg already bound leaves synchronously.
   */
  override send<TResult = SipResponse, TInput = SipClientRequest | SipRequest>(pattern: unknown, data: TInput): Observable<TResult> {
    // Nest's own error (InvalidMessageException) for a missing pattern or data.
    if (pattern === null || pattern === undefined || data === null || data === undefined) return super.send(pattern, data);
    return new Observable<TResult>((observer) => this.publish(this.createPacket(pattern, data), this.createObserver(observer)));
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const p = new Pending(this, callback, this.mode);
    this.pending.add(p);
    this.start(p, String(packet.pattern), packet.data as SipClientRequest | SipRequest);
    return () => p.unsubscribe();
  }

  // --- dialogs -------------------------------------------------------------------------------

  /**
   * The dialog a response to this client's INVITE created (a 1xx with a To tag: early; a 2xx:
   * confirmed). Use it to hang up (`bye()`), re-INVITE, or watch the peer's requests.
   */
  dialogOf(response: SipResponse): SipDialog | undefined {
    return this.endpoint?.dialogs.ofResponse(response);
  }

  /**
   * Place a call: send INVITE and resolve with its dialog once a 2xx came (and was ACKed, unless
   * `autoAck` is off); reject with a SipResponseError for a non-2xx. `signal` aborts it (CANCEL).
   */
  invite(request: SipClientRequest | SipRequest, opts: { signal?: AbortSignal; onProvisional?: (res: SipResponse) => void } = {}): Promise<SipDialog> {
    return new Promise<SipDialog>((resolve, reject) => {
      const signal = opts.signal;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        sub.unsubscribe();
        reject(signal!.reason);
      };
      const sub = this.send<SipResponse>('INVITE', request).subscribe({
        next: (res) => {
          if (res.status < 200) {
            opts.onProvisional?.(res);
            return;
          }
          signal?.removeEventListener('abort', onAbort);
          const d = this.dialogOf(res);
          if (d === undefined) reject(new Error(`INVITE answered ${res.status} without a usable dialog (no To tag, or the dialog table is full)`));
          // Resolve once our ACK left, so that what the caller sends next (a BYE) cannot pass it.
          else void (this.acksSending.get(res) ?? Promise.resolve()).then(() => resolve(d));
        },
        error: (err: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** @internal DialogSender: a dialog's request, sent as built (Via, Max-Forwards added); 2xx not ACKed here. */
  sendInDialog(req: SipRequest, transport: string, flow?: DialogFlow): Observable<SipResponse> {
    return new Observable<SipResponse>((observer) => {
      const p = new Pending(
        this,
        (packet) => {
          if (packet.err !== undefined && packet.err !== null) observer.error(packet.err);
          else {
            if (packet.response !== undefined) observer.next(packet.response as SipResponse);
            if (packet.isDisposed) observer.complete();
          }
        },
        IN_DIALOG,
      );
      p.transport = transportName(transport);
      this.pending.add(p);
      const go = (ep: SipEndpoint): void => {
        const direct = this.openFlow(ep, req, flow);
        if (direct !== undefined) this.launch(p, ep, req, direct);
        else this.start(p, req.method, req);
      };
      const ep = this.endpoint;
      if (ep === undefined || this.closed) this.connect().then(go).catch((err: unknown) => p.fail(err));
      else {
        try {
          go(ep);
        } catch (err) {
          p.fail(err);
        }
      }
      // An in-dialog request runs to its end: unsubscribing only stops listening.
      return undefined;
    });
  }

  /** @internal DialogSender: the ACK of a 2xx to a dialog's re-INVITE, remembered for retransmissions. */
  async sendAck(ack: SipRequest, response: SipResponse, transport: string, flow?: DialogFlow): Promise<void> {
    const ep = await this.connect();
    const dst = this.openFlow(ep, ack, flow) ?? (await this.destinationFor(ack, ack, transportName(transport)));
    this.rememberAck(ack, response, dst, ep);
    await ep.layer.sendStateless(ack, dst);
  }

  /** The dialog's connection as a destination, when it is a stream connection still open (its headers filled for its leg). */
  private openFlow(ep: SipEndpoint, req: SipRequest, flow: DialogFlow | undefined): SipDestination | undefined {
    if (flow === undefined || flow.proto === 'udp' || this.closed) return undefined;
    const socket = flow.socket as { destroyed?: boolean; writable?: boolean } | undefined;
    if (socket === undefined || socket.destroyed === true || socket.writable === false) return undefined;
    const dst: SipDestination = { addr: flow.addr, port: flow.port, proto: flow.proto as SipDestination['proto'], socket: flow.socket };
    if (flow.family !== undefined) dst.family = flow.family;
    const pool = ep.poolFor(dst);
    if (pool === undefined) return undefined;
    this.fillHeaders(req, pool, dst.proto);
    return dst;
  }

  /** @internal the automatic ACK of a 2xx is on its way (invite() resolves once it left). */
  ackSending(res: SipResponse, sending: Promise<void>): void {
    const settled = sending.catch((e: unknown) => this.reportError(e));
    this.acksSending.set(res, settled);
  }

  /** @internal a response to our INVITE that creates (or confirms) a dialog. */
  uacDialog(invite: SipRequest, res: SipResponse, dst: SipDestination): SipDialog | undefined {
    return this.endpoint?.dialogs.fromUacResponse(invite, res, this, dst.proto);
  }

  /**
   * A request reached a SipClient of its own (no `server`): in-dialog ones are answered through
   * their dialog (200; a re-INVITE gets our last session description back) and told to the
   * application (`dialog.requests`, the client's 'request' event); others get 481 / 405.
   */
  private answerRequest(txn: ServerTransaction): void {
    const req = txn.request;
    const dialogs = this.endpoint?.dialogs;
    if (dialogs === undefined || !DialogLayer.inDialog(req)) {
      void txn.respond(req.method === 'BYE' || req.method === 'NOTIFY' ? 481 : 405);
      return;
    }
    const matched = dialogs.receive(req) ?? { status: 481 };
    if (!(matched instanceof SipDialog)) {
      void txn.respond(txn.createResponse(matched.status, matched.reason, matched.headers === undefined ? undefined : { headers: matched.headers }));
      return;
    }
    if (req.method === 'INVITE') {
      const sdp = matched.localSdp;
      if (sdp === undefined) void txn.respond(488);
      else void txn.respond(txn.createResponse(200, undefined, { headers: { 'Content-Type': 'application/sdp' }, body: sdp }));
    } else void txn.respond(200);
    this.events.emit('request', req, matched);
  }

  /**
   * `emit(method, request)`: send without waiting for responses. ACK (e.g. `buildAckFor2xx(...)`)
   * goes out statelessly, over the transport of its Via unless the URI names one, and is repeated
   * for retransmitted 2xx; other methods run a client transaction whose outcome is dropped.
   */
  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const ep = await this.connect();
    const data = packet.data as SipClientRequest | SipRequest;
    const req = this.buildRequest(String(packet.pattern), data);
    const dst = await this.destinationFor(req, data);
    if (req.method === 'ACK') {
      let key: string | undefined;
      try {
        key = ackKey(req);
      } catch {
        key = undefined;
      }
      if (key !== undefined) {
        this.awaitingAck.delete(key);
        this.rememberAckByKey(key, req, dst, ep);
      }
      await ep.layer.sendStateless(req, dst);
    } else {
      const txn = ep.layer.request(req, dst, { onError: (err) => this.events.emit('error', err) });
      void txn.result.catch(() => undefined);
    }
    return undefined as T;
  }

  // --- internals -----------------------------------------------------------------------------

  /**
   * Build, address and send the request of `p`. Synchronous when the client is connected, the
   * target is an IP address and its leg is bound (the common case); otherwise through DNS and
   * binding the leg first. Failures go to `p`.
   */
  private start(p: Pending, method: string, data: SipClientRequest | SipRequest): void {
    const ep = this.endpoint;
    if (ep === undefined || this.closed) {
      this.startAsync(p, method, data).catch((err: unknown) => p.fail(err));
      return;
    }
    try {
      const req = this.buildRequest(method, data);
      const fast = this.destinationSync(req, data, p.transport);
      if (fast !== undefined) this.launch(p, ep, req, fast);
      else this.destinationFor(req, data, p.transport).then((dst) => this.launch(p, ep, req, dst)).catch((err: unknown) => p.fail(err));
    } catch (err) {
      p.fail(err); // e.g. a malformed URI, or a caller-given Via the transaction layer refuses
    }
  }

  private async startAsync(p: Pending, method: string, data: SipClientRequest | SipRequest): Promise<void> {
    const ep = await this.connect();
    const req = this.buildRequest(method, data);
    this.launch(p, ep, req, await this.destinationFor(req, data, p.transport));
  }

  /** Start the client transaction of `p` (unless it was unsubscribed or the client closed meanwhile). */
  private launch(p: Pending, ep: SipEndpoint, req: SipRequest, dst: SipDestination): void {
    if (p.done) return;
    if (this.endpoint !== ep) throw new SipClientClosedError();
    p.request = req;
    p.dst = dst;
    // A TCP/TLS connection dying under it fails it at once: SipEndpoint hears it from the pool.
    p.txn = ep.layer.request(req, dst, p);
  }

  /** Build the request (headers are filled in by destinationFor, once the leg is known). */
  private buildRequest(method: string, data: SipClientRequest | SipRequest): SipRequest {
    if (!METHOD.test(method)) throw new TypeError(`invalid SIP method ${method}`);
    if (data instanceof SipRequest) {
      if (data.method !== method) data.method = method;
      return data;
    }
    if (data === null || typeof data !== 'object' || typeof data.uri !== 'string') throw new TypeError('SipClient: send(method, { uri, headers?, body? }) needs a uri');
    return new SipRequest({ method, uri: data.uri, headers: data.headers, body: data.body });
  }

  /** Where the request is routed: its Request-URI, or the first Route (loose routing, RFC 3261 §8.1.2), unless a host is given. */
  private routeTarget(req: SipRequest, o: Partial<SipClientRequest>): SipUri {
    const route = o.host === undefined ? req.headers.get('route') : undefined;
    return route !== undefined ? parseUri(parseNameAddr(route, 'Route').uri) : req.requestUri; // both throw SipParseError when malformed
  }

  /** The transport for URIs that name none: a dialog's own; an ACK built from the INVITE (buildAckFor2xx) keeps the INVITE's. */
  private defaultTransport(req: SipRequest, fallback?: SipTransportName): SipTransportName {
    if (fallback !== undefined) return fallback;
    if (req.method === 'ACK') {
      const t = req.topVia?.transport.toLowerCase();
      if (t === 'udp' || t === 'tcp' || t === 'tls') return t;
    }
    return this.options.transport ?? 'udp';
  }

  /** destinationFor without DNS or binding: undefined when either is needed. */
  private destinationSync(req: SipRequest, data: SipClientRequest | SipRequest, fallback?: SipTransportName): SipDestination | undefined {
    const o: Partial<SipClientRequest> = data instanceof SipRequest ? {} : data;
    const r = resolveLiteral(this.routeTarget(req, o), this.defaultTransport(req, fallback), o);
    if (r === undefined) return undefined;
    const pool = this.readyLeg(r.proto, r.family);
    if (pool === undefined) return undefined;
    return this.addressed(req, pool, r);
  }

  /** Where the request goes, and the Via/Contact that follow from the leg it leaves on. */
  private async destinationFor(req: SipRequest, data: SipClientRequest | SipRequest, fallback?: SipTransportName): Promise<SipDestination> {
    const o: Partial<SipClientRequest> = data instanceof SipRequest ? {} : data;
    const r = await resolveTarget(this.routeTarget(req, o), this.defaultTransport(req, fallback), o, this.options.dns ?? systemDns);
    return this.addressed(req, await this.leg(r.proto, r.family), r);
  }

  private addressed(req: SipRequest, pool: SocketPool, r: ResolvedTarget): SipDestination {
    this.fillHeaders(req, pool, r.proto);
    return destinationOf(r);
  }

  /** What fillHeaders writes for a leg, computed once per leg. */
  private textFor(pool: SocketPool, proto: SipTransportName): LegText {
    let t = this.legText.get(pool);
    if (t === undefined) {
      const host = this.publicHost(pool.local);
      const bracketed = host.includes(':') ? `[${host}]` : host;
      const hostPort = `${bracketed}:${pool.local.port}`;
      const fromUser = this.options.from !== undefined ? parseUri(parseNameAddr(this.options.from, 'From').uri).user : 'nestjs-sip';
      const leg = { proto, host, port: pool.local.port };
      t = {
        host,
        hostPort,
        viaPrefix: `SIP/2.0/${proto.toUpperCase()} ${hostPort};branch=`,
        from: `${this.options.from ?? `<sip:nestjs-sip@${bracketed}>`};tag=`,
        fromUser,
        contact: localContact(leg, fromUser, false),
        contactFor: (user, secure) => localContact(leg, user, secure),
      };
      this.legText.set(pool, t);
    }
    return t;
  }

  private fillHeaders(req: SipRequest, pool: SocketPool, proto: SipTransportName): void {
    const h = req.headers;
    const method = req.method;
    const t = this.textFor(pool, proto);
    if (!h.has('via')) h.prepend('Via', t.viaPrefix + generateBranch() + ';rport');
    if (!h.has('max-forwards')) h.set('Max-Forwards', '70');
    let fromGiven = false;
    const from = h.get('from');
    if (from === undefined) h.set('From', t.from + generateTag());
    else {
      fromGiven = true;
      if (parseNameAddr(from, 'From').tag === undefined) h.set('From', `${from};tag=${generateTag()}`);
    }
    if (!h.has('to')) h.set('To', `<${req.uri}>`);
    if (!h.has('call-id')) h.set('Call-ID', generateCallId(t.host));
    if (!h.has('cseq')) h.set('CSeq', `${this.nextCSeq()} ${method}`);
    if (NEEDS_CONTACT.has(method) && !h.has('contact')) {
      // sips: only for a sips: target (RFC 5630): a sip: URI reached over TLS gets a sip: Contact.
      const secure = req.requestUri.scheme === 'sips';
      if (!fromGiven && !secure) h.set('Contact', t.contact);
      else h.set('Contact', t.contactFor(fromGiven ? parseUri(parseNameAddr(from!, 'From').uri).user : t.fromUser, secure));
    }
    if (this.options.userAgent !== undefined && !h.has('user-agent')) h.set('User-Agent', this.options.userAgent);
  }

  private nextCSeq(): number {
    const n = this.cseq;
    this.cseq = n >= 0x7fffffff ? 1 : n + 1;
    return n;
  }

  private publicHost(local: LocalAddress): string {
    if (this.options.publicHost !== undefined) return this.options.publicHost;
    if (local.addr !== '0.0.0.0' && local.addr !== '::') return local.addr;
    for (const list of Object.values(networkInterfaces())) {
      for (const i of list ?? []) if (!i.internal && (i.family === 'IPv6' ? 6 : 4) === local.family && !i.address.startsWith('fe80')) return i.address;
    }
    return local.family === 6 ? '::1' : '127.0.0.1';
  }

  /** The pool for a transport and family: the server's, or one of ours bound on first use. */
  private leg(proto: SipTransportName, family: 4 | 6): Promise<SocketPool> {
    const ep = this.endpoint!;
    if (!this.ownsEndpoint) {
      const pool = ep.poolFor({ addr: family === 6 ? '::1' : '127.0.0.1', port: 0, family, proto });
      if (pool === undefined) return Promise.reject(new Error(`the SipServer has no ${proto.toUpperCase()} IPv${family} leg to send from`));
      return Promise.resolve(pool);
    }
    const key = proto + family;
    let p = this.legs.get(key);
    if (p === undefined) {
      const host = family === 6 ? (this.options.localHost6 ?? '::') : (this.options.localHost ?? '0.0.0.0');
      p = ep.addLeg({ transport: proto, host, port: 0, tls: this.options.tls });
      p.then(
        (pool) => {
          if (this.endpoint === ep) this.readyLegs.set(key, pool);
          else void pool.close(); // bound while close() ran: the endpoint closed its pools without this one
        },
        () => this.legs.delete(key),
      );
      this.legs.set(key, p);
    }
    return p;
  }

  /** The leg for a transport and family if it is bound already. */
  private readyLeg(proto: SipTransportName, family: 4 | 6): SocketPool | undefined {
    const ep = this.endpoint!;
    if (!this.ownsEndpoint) return ep.poolFor({ addr: family === 6 ? '::1' : '127.0.0.1', port: 0, family, proto });
    const pool = this.readyLegs.get(proto + family);
    return pool !== undefined && !pool.closed ? pool : undefined;
  }

  /** Where an ACK for a 2xx goes: at once for an IP address (so it leaves before anything the caller sends next), else through DNS. */
  private ackDestination(ack: SipRequest, invite: SipRequest): SipDestination | Promise<SipDestination> {
    const route = ack.headers.get('route');
    const target = route !== undefined ? parseUri(parseNameAddr(route, 'Route').uri) : ack.requestUri;
    const proto = (invite.topVia?.transport.toLowerCase() ?? 'udp') as SipTransportName;
    const literal = resolveLiteral(target, proto);
    if (literal !== undefined) return destinationOf(literal);
    return resolveTarget(target, proto, {}, this.options.dns ?? systemDns).then(destinationOf);
  }

  /** @internal send the ACK for a 2xx (and remember it for retransmissions); with `bye`, end the call right away. */
  async ack2xx(invite: SipRequest, res: SipResponse, bye: boolean, ep: SipEndpoint | undefined = this.endpoint): Promise<void> {
    if (ep === undefined) return;
    const key = ackKey(res);
    const building = this.acking.get(key);
    if (building !== undefined) await building.catch(() => undefined); // a retransmission while the first ACK is being addressed
    const known = this.acks.get(key);
    if (known !== undefined) {
      // The same ACK again for a retransmitted 2xx (RFC 3261 §13.2.2.4).
      await ep.layer.sendStateless(known.ack, known.dst);
      return;
    }
    if (building !== undefined) return; // the first one failed (and was reported)
    const ack = buildAckFor2xx(invite, res);
    const addressing = this.ackDestination(ack, invite);
    let dst: SipDestination;
    if (addressing instanceof Promise) {
      this.acking.set(key, addressing);
      try {
        dst = await addressing;
      } finally {
        this.acking.delete(key);
      }
    } else dst = addressing;
    this.rememberAck(ack, res, dst, ep);
    await ep.layer.sendStateless(ack, dst);
    if (bye) {
      const byeReq = new SipRequest({ method: 'BYE', uri: ack.uri, headers: ack.headers.clone() });
      byeReq.headers.delete('via');
      byeReq.headers.delete('content-type');
      byeReq.headers.set('CSeq', `${invite.cseq.seq + 1} BYE`);
      const pool = ep.poolFor(dst);
      if (pool !== undefined) this.fillHeaders(byeReq, pool, dst.proto);
      const txn = ep.layer.request(byeReq, dst);
      void txn.result.catch(() => undefined);
    }
  }

  private rememberAck(ack: SipRequest, res: SipResponse, dst: SipDestination, ep: SipEndpoint): void {
    this.rememberAckByKey(ackKey(res), ack, dst, ep);
  }

  private rememberAckByKey(key: string, ack: SipRequest, dst: SipDestination, ep: SipEndpoint): void {
    const now = Date.now();
    // Expired entries leave in insertion order (all live 64*T1).
    for (const [k, v] of this.acks) {
      if (v.until >= now) break;
      this.acks.delete(k);
    }
    this.acks.delete(key);
    this.acks.set(key, { ack, dst, until: now + 64 * ep.layer.timers.unreliable.T1 });
  }

  /** @internal autoAck false: a 2xx the caller has to ACK; `ack(response)` finds its INVITE here. */
  awaitAck(invite: SipRequest, res: SipResponse): void {
    const ep = this.endpoint;
    if (ep === undefined) return;
    const now = Date.now();
    for (const [k, v] of this.awaitingAck) {
      if (v.until >= now) break;
      this.awaitingAck.delete(k);
    }
    this.awaitingAck.set(ackKey(res), { invite, until: now + 64 * ep.layer.timers.unreliable.T1 });
  }

  /** @internal a retransmitted 2xx during the INVITE's Accepted state: repeat an ACK already sent (by the caller, with autoAck false). */
  reAck(res: SipResponse): void {
    const known = this.acks.get(ackKey(res));
    if (known !== undefined && this.endpoint !== undefined) void this.endpoint.layer.sendStateless(known.ack, known.dst).catch((e: unknown) => this.reportError(e));
  }

  /** A 2xx retransmitted after its transaction ended: repeat our ACK (RFC 3261 §13.2.2.4). */
  private readonly strayListener = (res: SipResponse, _from: SipPeer): void => {
    if (res.status < 200 || res.status >= 300) return;
    let key: string;
    try {
      if (res.cseq.method !== 'INVITE') return;
      key = ackKey(res);
    } catch {
      return;
    }
    const known = this.acks.get(key);
    if (known !== undefined && this.endpoint !== undefined) void this.endpoint.layer.sendStateless(known.ack, known.dst).catch(() => undefined);
  };

  /** @internal how plain sends treat their responses (from the options). */
  get mode(): PendingMode {
    return (this.modeCache ??= { autoAck: this.options.autoAck !== false, non2xxAsValue: this.options.non2xxAsValue === true, inDialog: false });
  }
  /** @internal */
  settled(p: Pending): void {
    this.pending.delete(p);
  }
  /** @internal */
  reportError(err: unknown): void {
    this.logger.warn(err instanceof Error ? err.message : String(err));
    this.events.emit('error', err);
  }
}

/**
 * Where a resolved target is sent: its address (as resolved, so an injected resolver is obeyed for
 * TLS too), and for TLS the name the certificate must match (RFC 5922: the SIP domain).
 */
function destinationOf(r: ResolvedTarget): SipDestination {
  const d: SipDestination = { addr: r.addr, port: r.port, family: r.family, proto: r.proto };
  if (r.proto === 'tls' && r.servername !== undefined) d.servername = r.servername;
  return d;
}

/** Call-ID, CSeq number and To tag: what ties an ACK to the 2xx it acknowledges. */
const ackKey = (msg: SipResponse | SipRequest): string => `${msg.callId}\n${msg.cseq.seq}\n${msg.to.tag ?? ''}`;

export interface SipAckOptions {
  /** Body of the ACK (an SDP answer to an offer in the 2xx, or the offer of a late-offer INVITE). */
  body?: Body;
  contentType?: string;
}

/** How a Pending treats its responses: a plain send (the client's options), or a dialog's request. */
interface PendingMode {
  autoAck: boolean;
  non2xxAsValue: boolean;
  /** Sent by a SipDialog: it ACKs 2xx itself and makes no dialog. */
  inDialog: boolean;
}
const IN_DIALOG: PendingMode = { autoAck: false, non2xxAsValue: true, inDialog: true };

/** One request in flight: the transaction's handlers, mapped onto Nest's WritePacket callback. */
class Pending {
  request: SipRequest | undefined;
  dst: SipDestination | undefined;
  txn: ClientTransaction | undefined;
  done = false;
  /** Transport for URIs that name none (a dialog's), else the client's default. */
  transport: SipTransportName | undefined = undefined;
  private unsubscribed = false;
  /** Early dialogs this INVITE made (ended when it fails). */
  private early: SipDialog[] | undefined = undefined;

  constructor(
    private readonly client: SipClient,
    private readonly callback: (packet: WritePacket) => void,
    private readonly mode: PendingMode,
  ) {}

  onProvisional(res: SipResponse): void {
    if (res.status > 100 && !this.mode.inDialog && this.request!.method === 'INVITE') {
      const d = this.client.uacDialog(this.request!, res, this.dst!);
      if (d !== undefined && d.state === 'early' && !(this.early ??= []).includes(d)) this.early.push(d);
    }
    if (!this.unsubscribed && !this.done) this.callback({ response: res });
  }

  onFinal(res: SipResponse): void {
    const invite = this.request!.method === 'INVITE';
    const status = res.status;
    if (invite && !this.mode.inDialog) this.settleDialogs(res);
    if (invite && status >= 200 && status < 300) {
      // A 2xx after the caller unsubscribed (CANCEL crossed it): ACK, then hang up.
      if (this.unsubscribed) void this.client.ack2xx(this.request!, res, true).catch((e: unknown) => this.client.reportError(e));
      else if (this.mode.autoAck) this.client.ackSending(res, this.client.ack2xx(this.request!, res, false));
      else if (!this.mode.inDialog) this.client.awaitAck(this.request!, res);
    }
    if (this.done) return;
    this.finish();
    if (this.unsubscribed) return;
    if (status >= 300 && !this.mode.non2xxAsValue) this.callback({ err: new SipResponseError(res, this.request) });
    else this.callback({ response: res, isDisposed: true });
  }

  /** The INVITE's final response: a 2xx confirms its dialog (the other early ones end), a failure ends them all. */
  private settleDialogs(res: SipResponse): void {
    const status = res.status;
    const confirmed = status >= 200 && status < 300 && !this.unsubscribed ? this.client.uacDialog(this.request!, res, this.dst!) : undefined;
    const early = this.early;
    this.early = undefined;
    if (early === undefined) return;
    for (const d of early) {
      if (d === confirmed) continue;
      if (status >= 300) d._end(this.unsubscribed && status === 487 ? 'cancelled' : 'rejected', 'remote', status);
      else d._end('fork', 'remote');
    }
  }

  onLate2xx(res: SipResponse): void {
    // A retransmitted 2xx (or another fork's): ACK it; a second fork's 2xx is also ended with BYE.
    const first = this.txn?.finalResponse;
    const otherFork = first !== undefined && first.to.tag !== res.to.tag;
    if (this.mode.autoAck || otherFork || this.unsubscribed) void this.client.ack2xx(this.request!, res, otherFork).catch((e: unknown) => this.client.reportError(e));
    else this.client.reAck(res);
  }

  /**
   * The client closed while this request runs on a SipServer's transaction layer: stop its
   * timers, or for an INVITE already ringing, CANCEL it (a 2xx crossing the CANCEL is ACKed and
   * hung up; the layer ACKs the 487).
   */
  abandon(ep: SipEndpoint, err: Error): void {
    const txn = this.txn;
    if (txn === undefined || txn.terminated || txn.finalResponse !== undefined) return;
    // An INVITE may already ring at the far end even before its first provisional reached us:
    // CANCEL it (sent once a provisional arrives, §9.1) rather than drop it and leave it ringing.
    if (txn.isInvite && (txn.state === 'proceeding' || txn.state === 'calling')) {
      const client = this.client;
      const invite = this.request!;
      const hangUp = (res: SipResponse): void => {
        if (res.status >= 200 && res.status < 300) void client.ack2xx(invite, res, true, ep).catch(() => undefined);
      };
      txn.setHandlers({ onFinal: hangUp, onLate2xx: hangUp });
      txn.cancel();
    } else ep.layer.abandon(txn, err);
  }

  onError(err: unknown): void {
    this.fail(err);
  }

  fail(err: unknown): void {
    const early = this.early;
    this.early = undefined;
    if (early !== undefined) for (const d of early) d._end('gone', 'remote', 408);
    if (this.done) return;
    this.finish();
    if (!this.unsubscribed) this.callback({ err });
  }

  unsubscribe(): void {
    if (this.done || this.unsubscribed) return;
    this.unsubscribed = true;
    // INVITE: CANCEL (sent once a provisional arrived, §9.1); the transaction still takes the final response.
    if (this.txn !== undefined && this.txn.isInvite) this.txn.cancel();
    else this.finish();
  }

  private finish(): void {
    this.done = true;
    this.client.settled(this);
  }
}


/** A dialog's transport as a name the resolver knows (UDP for anything else). */
function transportName(t: string): SipTransportName {
  return t === 'tcp' || t === 'tls' ? t : 'udp';
}
