import { Logger } from '@nestjs/common';
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { EventEmitter } from 'node:events';
import { Observable } from 'rxjs';
import { DigestSessionCache } from '../auth/client-challenge.js';
import { printable, SipRequest, type SipResponse } from '../message/index.js';
import type { DialogFlow, DialogSender, SipDialog } from '../dialog/index.js';
import type { ServerTransaction, SipDestination } from '../transaction/index.js';
import type { LocalAddress, SocketPool } from '../transport/index.js';
import { startAuthenticated } from './auth-retry.js';
import { ClientAcks } from './client-acks.js';
import { errorKind, RateLimitedLog } from './rate-limited-log.js';
import { answerInDialog, placeCall, type PlaceCallOptions } from './client-dialogs.js';
import { ClientRouting } from './client-routing.js';
import { startWithFailover } from './client-failover.js';
import { OutboundHeaders } from './outbound-headers.js';
import { IN_DIALOG, Pending, type BuiltRequestOptions, type PendingMode, type PendingOwner } from './pending-request.js';
import { SipEndpoint } from './sip-endpoint.js';
import { SipRegistration, stopRegistrations, type RegistrationHost, type SipRegisterOptions } from './sip-registration.js';
import type { SipAckOptions, SipClientEvents, SipClientOptions, SipClientRequest } from './sip-client-options.js';
import { SipClientClosedError } from './sip-response-error.js';
import { buildClientRequest, transportName } from './client-request.js';

/**
 * A Nest ClientProxy that sends SIP requests. `send(method, request)` returns an Observable that
 * emits every provisional response and completes with the final one (a 2xx; a non-2xx arrives as
 * a SipResponseError). Unsubscribing from an INVITE before its final response sends CANCEL.
 */
// Status stays `string` in the base type: ClientsModule's `customClass: Type<ClientProxy>` must accept the class.
export class SipClient extends ClientProxy<SipClientEvents> implements DialogSender, PendingOwner, RegistrationHost {
  private readonly logger = new Logger(SipClient.name);
  /** Warnings escaped (wire values) and rate-limited with a summary. */
  private readonly log = new RateLimitedLog((_kind, line) => this.logger.warn(line));
  private readonly options: SipClientOptions;
  /** @internal the endpoint it sends from (undefined before connect() and after close()). */
  endpoint: SipEndpoint | undefined;
  /** @internal the client bound its own sockets (no `server`). */
  ownsEndpoint = false;
  private connecting: Promise<SipEndpoint> | undefined;
  /** The headers the client fills in for the leg a request leaves on. */
  private readonly headers: OutboundHeaders;
  private readonly routing: ClientRouting;
  private readonly events = new EventEmitter();
  private modeCache: PendingMode | undefined = undefined;
  private closed = false;
  private readonly pending = new Set<Pending>();
  /** ACKs of 2xx: sent (repeated for retransmissions), being addressed, or awaited from the caller. */
  private readonly acks: ClientAcks;
  /** Nonces of answered challenges, reused by following requests (made on the first authenticated request). */
  private digests: DigestSessionCache | undefined = undefined;
  private readonly registrations = new Set<SipRegistration>();
  private unregistering: Promise<void> | undefined = undefined;

  constructor(options: SipClientOptions = {}) {
    super();
    this.options = options;
    this.headers = new OutboundHeaders(options);
    this.routing = new ClientRouting(options, this.headers, this);
    this.acks = new ClientAcks(this, this.routing, this.headers);
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
      ep.addStrayListener(this.acks.strayListener);
    } else {
      this.endpoint = new SipEndpoint(
        { limits: this.options.limits, timers: this.options.timers },
        {
          // A client alone has no handlers: it answers in-dialog requests through their dialog.
          onRequest: (txn) => this.answerRequest(txn),
          onStray: this.acks.strayListener,
          onError: (err) => this.events.emit('error', err),
        },
      );
      this.ownsEndpoint = true;
    }
    this._status$.next('connected');
    return this.endpoint;
  }

  /**
   * Remove the bindings of the registrations (`Expires: 0`, waiting at most 2 s for the answers),
   * fail every pending request with SipClientClosedError, and release the client's sockets and timers.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.registrations.size > 0) {
      await (this.unregistering ??= stopRegistrations(this.registrations, 2000));
      if (this.closed) return;
    }
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
    this.routing.reset();
    this.endpoint = undefined;
    if (ep !== undefined) {
      if (this.ownsEndpoint) await ep.close(0);
      else ep.removeStrayListener(this.acks.strayListener);
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
  ack(a: SipRequest | SipResponse, b?: SipResponse | SipAckOptions, c?: SipAckOptions): Promise<void> {
    if (a instanceof SipRequest) return this.acks.ack(a, b as SipResponse, c ?? {});
    return this.acks.ack(undefined, a, (b as SipAckOptions | undefined) ?? {});
  }

  /**
   * `send(method, request)`: an Observable of the responses (each provisional, then the final
   * one). Cold: each subscription sends the request once. Same contract as ClientProxy.send (the
   * dispatch hook sees every packet), without its per-request connect round trip: the client
   * connects inside, and a request to an IP address over a leg already bound leaves synchronously.
   */
  override send<TResult = SipResponse, TInput = SipClientRequest | SipRequest>(pattern: unknown, data: TInput): Observable<TResult> {
    // Nest's own error (InvalidMessageException) for a missing pattern or data.
    if (pattern === null || pattern === undefined || data === null || data === undefined) return super.send(pattern, data);
    // Nest 12 builds packets with createPacket(); Nest 11 has none (a plain { pattern, data }).
    const self = this as unknown as { createPacket?: (p: unknown, d: unknown) => ReadPacket };
    return new Observable<TResult>((observer) =>
      this.publish(typeof self.createPacket === 'function' ? self.createPacket(pattern, data) : { pattern, data }, this.createObserver(observer)),
    );
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const p = new Pending(this, callback, this.mode);
    this.pending.add(p);
    this.start(p, String(packet.pattern), packet.data as SipClientRequest | SipRequest);
    return () => p.unsubscribe();
  }

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
  invite(request: SipClientRequest | SipRequest, opts: PlaceCallOptions = {}): Promise<SipDialog> {
    return placeCall(this, request, opts);
  }

  /**
   * Register `aor` and keep the binding alive (refreshed before it expires, re-registered after a
   * failure with back-off, or at once when its TCP/TLS connection breaks) until `stop()` or
   * `close()`; `status$` tells its state and the time granted.
   */
  register(opts: SipRegisterOptions): SipRegistration {
    if (this.closed || this.unregistering !== undefined) throw new SipClientClosedError();
    const reg = new SipRegistration(this, opts);
    this.registrations.add(reg);
    reg.start();
    return reg;
  }

  /** @internal */
  registrationEnded(reg: SipRegistration): void {
    this.registrations.delete(reg);
  }

  /** @internal a registration's flow (see SipEndpoint.watchFlow). */
  watchFlow(res: SipResponse, onLost: () => void): (() => void) | undefined {
    return this.endpoint?.watchFlow(res, onLost);
  }

  /** @internal DialogSender: a dialog's request, sent as built (Via, Max-Forwards added); 2xx not ACKed here. */
  sendInDialog(req: SipRequest, transport: string, flow?: DialogFlow, nextCSeq?: () => number): Observable<SipResponse> {
    return this.sendBuilt(req, { transport: transportName(transport), flow, nextCSeq });
  }

  /** @internal a request its sender built (a dialog's, a registration's): every response a value, 2xx not ACKed, runs to its end. */
  sendBuilt(req: SipRequest, o: BuiltRequestOptions): Observable<SipResponse> {
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
      p.transport = o.transport;
      p.nextCSeq = o.nextCSeq;
      p.auth = o.auth;
      this.pending.add(p);
      const go = (ep: SipEndpoint): void => {
        const direct = this.routing.openFlow(ep, req, o.flow);
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
  sendAck(ack: SipRequest, response: SipResponse, transport: string, flow?: DialogFlow): Promise<void> {
    return this.acks.sendAck(ack, response, transportName(transport), flow);
  }

  /** @internal the automatic ACK of a 2xx is on its way (invite() resolves once it left). */
  ackSending(res: SipResponse, sending: Promise<void>): void {
    this.acks.ackSending(res, sending);
  }

  /** @internal */
  get keepsForks(): boolean {
    return this.options.keepForks === true;
  }

  /** @internal */
  dialogOfResponse(res: SipResponse): SipDialog | undefined {
    return this.dialogOf(res);
  }

  /** @internal another fork's 2xx made a dialog we keep. */
  forked(dialog: SipDialog, res: SipResponse): void {
    this.events.emit('fork', dialog, res);
  }

  /** @internal the automatic ACK of this 2xx, settled when it left (or failed). */
  ackSent(res: SipResponse): Promise<void> {
    return this.acks.ackSent(res);
  }

  /** @internal a response to our INVITE that creates (or confirms) a dialog. */
  uacDialog(invite: SipRequest, res: SipResponse, dst: SipDestination): SipDialog | undefined {
    return this.endpoint?.dialogs.fromUacResponse(invite, res, this, dst.proto, dst.flow !== undefined ? dst : undefined);
  }

  /**
   * A request reached a SipClient of its own (no `server`): in-dialog ones are answered through
   * their dialog (200; a re-INVITE gets our last session description back) and told to the
   * application (`dialog.requests`, the client's 'request' event); others get 481 / 405.
   */
  private answerRequest(txn: ServerTransaction): void {
    answerInDialog(this.endpoint?.dialogs, txn, (req, dialog) => this.events.emit('request', req, dialog));
  }

  /**
   * `emit(method, request)`: send without waiting for responses. ACK (e.g. `buildAckFor2xx(...)`)
   * goes out statelessly, over the transport of its Via unless the URI names one, and is repeated
   * for retransmitted 2xx; other methods run a client transaction whose outcome is dropped.
   */
  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const ep = await this.connect();
    const data = packet.data as SipClientRequest | SipRequest;
    const req = buildClientRequest(String(packet.pattern), data);
    const dst = await this.routing.destinationFor(req, data);
    if (req.method === 'ACK') {
      this.acks.emitted(req, dst, ep);
      await ep.layer.sendStateless(req, dst);
    } else {
      const txn = ep.layer.request(req, dst, { onError: (err) => this.events.emit('error', err) });
      void txn.result.catch(() => undefined);
    }
    return undefined as T;
  }

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
      const req = buildClientRequest(method, data);
      const fast = this.routing.destinationSync(req, data, p.transport);
      if (fast !== undefined) this.launch(p, ep, req, fast);
      else startWithFailover(this, this.routing, p, ep, req, data, p.transport).catch((err: unknown) => p.fail(err));
    } catch (err) {
      p.fail(err); // e.g. a malformed URI, or a caller-given Via the transaction layer refuses
    }
  }

  private async startAsync(p: Pending, method: string, data: SipClientRequest | SipRequest): Promise<void> {
    const ep = await this.connect();
    const req = buildClientRequest(method, data);
    // As start(): an IP literal on a bound leg, or a connection (`flow`), needs no resolution.
    const fast = this.routing.destinationSync(req, data, p.transport);
    if (fast !== undefined) this.launch(p, ep, req, fast);
    else await startWithFailover(this, this.routing, p, ep, req, data, p.transport);
  }

  /** @internal start the client transaction of `p` (unless it was unsubscribed or the client closed meanwhile). */
  launch(p: Pending, ep: SipEndpoint, req: SipRequest, dst: SipDestination): void {
    if (p.done) return;
    if (this.endpoint !== ep) throw new SipClientClosedError();
    p.request = req;
    p.dst = dst;
    // A TCP/TLS connection dying under it fails it at once: SipEndpoint hears it from the pool.
    const auth = p.auth ?? this.options.auth;
    p.txn = auth === undefined ? ep.layer.request(req, dst, p) : startAuthenticated(p, ep, req, dst, { credentials: auth, cache: (this.digests ??= new DigestSessionCache()) }, this);
  }

  /** @internal send the ACK for a 2xx (and remember it for retransmissions); with `bye`, end the call right away. */
  ack2xx(invite: SipRequest, res: SipResponse, bye: boolean, ep?: SipEndpoint): Promise<void> {
    return this.acks.ack2xx(invite, res, bye, ep);
  }

  /** @internal autoAck false: a 2xx the caller has to ACK; `ack(response)` finds its INVITE here. */
  awaitAck(invite: SipRequest, res: SipResponse): void {
    this.acks.awaitAck(invite, res);
  }

  /** @internal a dialog's re-INVITE got a 2xx: its ACK will carry the credentials the INVITE went with. */
  inDialog2xx(invite: SipRequest, res: SipResponse): void {
    this.acks.inDialog2xx(invite, res);
  }

  /** @internal a retransmitted 2xx during the INVITE's Accepted state: repeat an ACK already sent. */
  reAck(res: SipResponse): void {
    this.acks.reAck(res);
  }

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
    this.log.log(errorKind(err), printable(err instanceof Error ? err.message : String(err), 500));
    this.events.emit('error', err);
  }
}
