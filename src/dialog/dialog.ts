import { Observable, ReplaySubject, Subject, throwError } from 'rxjs';
import type { SipRequest, SipResponse } from '../message/index.js';
import { buildInDialogRequest, type DialogRoute } from './in-dialog-request.js';
import { own } from './own-string.js';
import { SipDialogError, SipResponseError } from './response-error.js';
import type { DialogEnd, DialogEndReason, DialogFlow, DialogRequestOptions, DialogRole, DialogSender, DialogState } from './types.js';

/** What a dialog tells the table holding it. */
export interface DialogOwner {
  dialogEnded(dialog: SipDialog): void;
}

/** How a peer's in-dialog request is refused (RFC 3261 §12.2.2, §14.2). */
export interface DialogRefusal {
  status: number;
  reason?: string;
  headers?: Record<string, string>;
}

/** The fields a dialog starts with (see DialogLayer for where each comes from). */
export interface DialogInit {
  role: DialogRole;
  callId: string;
  localTag: string;
  remoteTag: string;
  localHeader: string;
  remoteHeader: string;
  remoteTarget: string;
  routeSet: string[];
  localCSeq: number | undefined;
  remoteCSeq: number | undefined;
  localContact: string | undefined;
  secure: boolean;
  /** Transport for URIs of this dialog that name none (the one the dialog was set up over). */
  transport: string;
  state: 'early' | 'confirmed';
  /** The connection the peer's dialog-creating request came over (stream transports; UAS side). */
  flow?: DialogFlow;
}

const REFRESHES_TARGET = new Set(['INVITE', 'UPDATE']);

/**
 * One SIP dialog (RFC 3261 §12), from either side. Build in-dialog requests with `request()` and
 * its shorthands; they go out at once (subscribing is optional) and return an Observable of the
 * responses: each provisional, then a 2xx (completes) or a SipResponseError. The peer's requests
 * in this dialog arrive on `requests` (and at the application's handlers, with `ctx.dialog`).
 */
export class SipDialog {
  readonly role: DialogRole;
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  /** Our From (UAC) / To (UAS) value, tag included: the From of every request we send in it. */
  readonly localHeader: string;
  /** The peer's, tag included. */
  readonly remoteHeader: string;
  /** Where our requests go (the peer's Contact; updated by target refresh requests). */
  remoteTarget: string;
  /** The Route values of our requests, in order (Record-Route as the dialog-creating exchange set it). */
  readonly routeSet: readonly string[];
  /** The Contact we gave the peer. */
  localContact: string | undefined;
  /** True for a sips: dialog over TLS end to end (RFC 3261 §12.1.1). */
  readonly secure: boolean;
  /** Transport for URIs that name none. */
  readonly transport: string;
  state: DialogState;
  /** The last CSeq we sent, the last the peer sent (undefined until the first). */
  localCSeq: number | undefined;
  remoteCSeq: number | undefined;
  /** The peer's last session description (the body of its last INVITE, UPDATE, 2xx or ACK that had one). */
  remoteSdp: string | undefined = undefined;
  /** Our last session description sent in it (the offer or answer of the last exchange). */
  localSdp: string | undefined = undefined;
  /** When it ended, and why (undefined while it lasts). */
  end: DialogEnd | undefined = undefined;
  readonly createdAt: number;
  /** The connection the dialog came over (TCP/TLS, UAS side): our requests reuse it while it is open and no proxy is in the path. */
  readonly flow: DialogFlow | undefined;

  /** @internal the table's key. */
  readonly key: string;
  /** @internal an INVITE we sent has no final response yet. */
  _outInvite = false;
  /** @internal an INVITE the peer sent has no final response yet. */
  _inInvite = false;
  private sender: DialogSender | undefined;
  /** The ACK of a re-INVITE's 2xx being sent: the next request waits for it. */
  private acking: Promise<void> | undefined = undefined;
  private owner: DialogOwner | undefined;
  private events: Subject<SipRequest> | undefined = undefined;
  private ended: Promise<DialogEnd> | undefined = undefined;
  private resolveEnded: ((e: DialogEnd) => void) | undefined = undefined;

  constructor(init: DialogInit, key: string, sender: DialogSender | undefined, owner: DialogOwner | undefined, now: number = Date.now()) {
    this.role = init.role;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localHeader = init.localHeader;
    this.remoteHeader = init.remoteHeader;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localContact = init.localContact;
    this.secure = init.secure;
    this.transport = init.transport;
    this.state = init.state;
    this.localCSeq = init.localCSeq;
    this.remoteCSeq = init.remoteCSeq;
    this.key = key;
    this.sender = sender;
    this.owner = owner;
    this.createdAt = now;
    this.flow = init.flow;
  }

  /** The peer's requests in this dialog (ACK for our 2xx included), as they arrive. Completes when the dialog ends. */
  get requests(): Observable<SipRequest> {
    if (this.events === undefined) {
      this.events = new Subject<SipRequest>();
      if (this.state === 'terminated') this.events.complete();
    }
    return this.events.asObservable();
  }

  /** Resolves when the dialog ends, with when and why. */
  get terminated(): Promise<DialogEnd> {
    if (this.ended === undefined) {
      const end = this.end;
      this.ended = end !== undefined ? Promise.resolve(end) : new Promise<DialogEnd>((resolve) => (this.resolveEnded = resolve));
    }
    return this.ended;
  }

  /**
   * Send a request in this dialog (RFC 3261 §12.2.1.1): Request-URI, Route, From, To, Call-ID and
   * CSeq (one more than the last) come from the dialog; `opts` adds headers and a body. It leaves
   * now; the Observable replays its responses to whoever subscribes. A 2xx to a re-INVITE is ACKed
   * by the dialog; `481`/`408` or a timeout end the dialog (§12.2.1.2).
   */
  request(method: string, opts: DialogRequestOptions = {}): Observable<SipResponse> {
    return this.send(method.toUpperCase(), opts, 'bye');
  }

  /** @internal hang up for a reason of our own (no ACK came, another fork answered). */
  _hangUp(reason: DialogEndReason): Observable<SipResponse> {
    return this.send('BYE', {}, reason);
  }

  private send(m: string, opts: DialogRequestOptions, endReason: DialogEndReason): Observable<SipResponse> {
    if (m === 'ACK' || m === 'CANCEL') return throwError(() => new TypeError(`${m} is sent by the dialog or transaction itself, not with request()`));
    if (this.state === 'terminated') return throwError(() => new SipDialogError('ERR_SIP_DIALOG_TERMINATED', `dialog ${this.callId} ended (${this.end?.reason})`));
    if (m === 'INVITE' && (this._outInvite || this._inInvite)) {
      return throwError(() => new SipDialogError('ERR_SIP_DIALOG_BUSY', 'an INVITE is already in progress in this dialog (RFC 3261 §14.1)'));
    }
    const sender = this.sender;
    if (sender === undefined) return throwError(() => new SipDialogError('ERR_SIP_DIALOG_NO_SENDER', 'this dialog has no user agent to send with'));
    const seq = this.nextCSeq();
    let req: SipRequest;
    try {
      req = buildInDialogRequest(this as DialogRoute, m, seq, opts);
    } catch (err) {
      return throwError(() => err);
    }
    if (m === 'BYE') this.finish(endReason, 'local');
    if (req.body.length > 0 && (m === 'INVITE' || m === 'UPDATE')) this.noteLocalSdp(req);
    if (m === 'INVITE') this._outInvite = true;
    const out = new ReplaySubject<SipResponse>();
    // An ACK of ours still on its way (DNS) goes first: a BYE must not pass the re-INVITE's ACK.
    const acking = this.acking;
    if (acking !== undefined) void acking.then(() => this.transmit(sender, req, m, out));
    else this.transmit(sender, req, m, out);
    return out.asObservable();
  }

  private transmit(sender: DialogSender, req: SipRequest, m: string, out: ReplaySubject<SipResponse>): void {
    sender.sendInDialog(req, this.transport, this.directFlow(), () => this.nextCSeq()).subscribe({
      next: (res) => {
        if (res.status < 200) {
          out.next(res);
          return;
        }
        this.finalResponse(req, res);
        if (res.status < 300) {
          out.next(res);
          out.complete();
        } else out.error(new SipResponseError(res, req));
      },
      error: (err: unknown) => {
        if (m === 'INVITE') this._outInvite = false;
        if ((err as { code?: string }).code === 'ERR_SIP_TIMEOUT') this.finish('gone', 'remote', 408);
        out.error(err);
      },
    });
  }

  /** End the dialog with BYE (RFC 3261 §15). */
  bye(opts?: DialogRequestOptions): Observable<SipResponse> {
    return this.request('BYE', opts);
  }

  /** A re-INVITE (target refresh, new session description: hold, resume, codec change). */
  reinvite(opts?: DialogRequestOptions): Observable<SipResponse> {
    return this.request('INVITE', opts);
  }

  /** UPDATE (RFC 3311): a target refresh or session change without a re-INVITE's three-way handshake. */
  update(opts?: DialogRequestOptions): Observable<SipResponse> {
    return this.request('UPDATE', opts);
  }

  /** INFO (RFC 6086), e.g. DTMF. */
  info(opts?: DialogRequestOptions): Observable<SipResponse> {
    return this.request('INFO', opts);
  }

  /** REFER (RFC 3515): ask the peer to contact `referTo` (a call transfer). */
  refer(referTo: string, opts: DialogRequestOptions = {}): Observable<SipResponse> {
    return this.request('REFER', { ...opts, headers: { 'Refer-To': referTo.includes('<') ? referTo : `<${referTo}>`, ...plainHeaders(opts.headers) } });
  }

  /** NOTIFY (RFC 6665); give its Event and Subscription-State in `opts.headers`. */
  notify(opts?: DialogRequestOptions): Observable<SipResponse> {
    return this.request('NOTIFY', opts);
  }

  /** MESSAGE (RFC 3428) in this dialog. */
  message(opts?: DialogRequestOptions): Observable<SipResponse> {
    return this.request('MESSAGE', opts);
  }

  /** A plain copy of its state (for logs, a shared store, a debugger). */
  toJSON(): Record<string, unknown> {
    return {
      role: this.role,
      state: this.state,
      callId: this.callId,
      localTag: this.localTag,
      remoteTag: this.remoteTag,
      localHeader: this.localHeader,
      remoteHeader: this.remoteHeader,
      remoteTarget: this.remoteTarget,
      routeSet: [...this.routeSet],
      localContact: this.localContact,
      localCSeq: this.localCSeq,
      remoteCSeq: this.remoteCSeq,
      secure: this.secure,
      transport: this.transport,
      end: this.end,
    };
  }

  // --- the dialog table and user agent call these -------------------------------------------

  /**
   * @internal A request of the peer in this dialog (To tag = ours). Undefined when it is accepted
   * (the CSeq rule, §12.2.2; one INVITE at a time, §14.2), else how to refuse it.
   */
  _receive(req: SipRequest): DialogRefusal | undefined {
    const seq = req.cseq.seq;
    const last = this.remoteCSeq;
    if (last !== undefined && seq <= last) return { status: 500, reason: 'CSeq Out of Order' };
    const method = req.method;
    if (method === 'INVITE') {
      if (this._outInvite) return { status: 491 };
      if (this._inInvite) return { status: 500, reason: 'Previous INVITE Pending', headers: { 'Retry-After': String(1 + Math.floor(Math.random() * 10)) } };
      this._inInvite = true;
    }
    this.remoteCSeq = seq;
    if (req.body.length > 0 && (method === 'INVITE' || method === 'UPDATE')) this.noteSdp(req);
    if (method === 'BYE') {
      this.emitRequest(req);
      this.finish('bye', 'remote');
      return undefined;
    }
    this.emitRequest(req);
    return undefined;
  }

  /** @internal the ACK for our 2xx. */
  _ack(ack: SipRequest): void {
    if (ack.body.length > 0) this.noteSdp(ack);
    this.emitRequest(ack);
  }

  /** @internal we are sending a final response to the peer's in-dialog `req`. */
  _answered(req: SipRequest, res: SipResponse): void {
    if (req.method === 'INVITE') this._inInvite = false;
    if (res.status >= 200 && res.status < 300 && REFRESHES_TARGET.has(req.method)) {
      const target = req.contacts[0]?.uri;
      if (target !== undefined) this.remoteTarget = own(target);
      if (res.body.length > 0) this.noteLocalSdp(res);
    }
  }

  /** @internal a 2xx (or a later 1xx) of the dialog-creating exchange: confirm, take the target it names. */
  _confirm(res: SipResponse | undefined, target: string | undefined): void {
    if (this.state === 'terminated') return;
    if (target !== undefined) this.remoteTarget = own(target);
    if (res !== undefined && res.status >= 200 && res.status < 300) {
      this.state = 'confirmed';
      if (res.body.length > 0 && this.role === 'uac') this.noteSdp(res);
    }
  }

  /** @internal end it (idempotent): the table forgets it, `terminated` resolves, `requests` completes. */
  _end(reason: DialogEndReason, by: 'local' | 'remote', status?: number): void {
    this.finish(reason, by, status);
  }

  /** @internal a session description of the peer's (`remote`) or ours. */
  _noteSdp(msg: SipRequest | SipResponse, remote = true): void {
    if (remote) this.noteSdp(msg);
    else this.noteLocalSdp(msg);
  }

  private finalResponse(req: SipRequest, res: SipResponse): void {
    const status = res.status;
    if (req.method === 'INVITE') this._outInvite = false;
    if (status === 481 || status === 408) {
      this.finish('gone', 'remote', status);
      return;
    }
    if (status >= 300) return;
    if (REFRESHES_TARGET.has(req.method)) {
      const target = res.contacts[0]?.uri;
      if (target !== undefined) this.remoteTarget = own(target);
      if (res.body.length > 0) this.noteSdp(res);
    }
    if (req.method === 'INVITE' && this.sender !== undefined) {
      // The 2xx's CSeq: the INVITE may have been sent again with a higher one (a challenge answered).
      const ack = buildInDialogRequest(this as DialogRoute, 'ACK', res.cseq.seq);
      const sending = this.sender.sendAck(ack, res, this.transport, this.directFlow()).catch(() => undefined);
      this.acking = sending;
      void sending.then(() => {
        if (this.acking === sending) this.acking = undefined;
      });
    }
  }

  /** The flow to reuse: only with no proxy in the path (a route set names the next hop). */
  private directFlow(): DialogFlow | undefined {
    return this.routeSet.length === 0 ? this.flow : undefined;
  }

  private nextCSeq(): number {
    // RFC 3261 §8.1.1.5: an initial value below 2**31, then +1.
    const next = this.localCSeq === undefined ? 1 + Math.floor(Math.random() * 0x7fff) : this.localCSeq + 1;
    this.localCSeq = next;
    return next;
  }

  private noteSdp(msg: SipRequest | SipResponse): void {
    if (isSdp(msg)) this.remoteSdp = msg.body.toString('utf8');
  }

  private noteLocalSdp(msg: SipRequest | SipResponse): void {
    if (isSdp(msg)) this.localSdp = msg.body.toString('utf8');
  }

  private emitRequest(req: SipRequest): void {
    this.events?.next(req);
  }

  private finish(reason: DialogEndReason, by: 'local' | 'remote', status?: number): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    const end: DialogEnd = status === undefined ? { reason, by, at: new Date() } : { reason, by, status, at: new Date() };
    this.end = end;
    this.owner?.dialogEnded(this);
    this.owner = undefined;
    this.resolveEnded?.(end);
    this.resolveEnded = undefined;
    this.events?.complete();
  }
}

function plainHeaders(h: DialogRequestOptions['headers']): Record<string, string> {
  if (h === undefined) return {};
  if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') {
    const out: Record<string, string> = {};
    for (const [k, v] of h as Iterable<readonly [string, string]>) out[k] = v;
    return out;
  }
  return h as Record<string, string>;
}

function isSdp(msg: SipRequest | SipResponse): boolean {
  const type = msg.contentType;
  return type !== undefined && type.toLowerCase().startsWith('application/sdp');
}
