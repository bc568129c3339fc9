import { Subject, type Observable } from 'rxjs';
import { SipRequest, SipResponse } from '../message/index.js';
import { SipTimeoutError, type ServerTransaction } from '../transaction/index.js';
import { bestResponse, collectChallenges } from './best-response.js';
import { UDP_SIZE_LIMIT, wireSize } from './udp-size.js';
import { proxyBranch } from './loop-branch.js';
import { ProxyBranch, type BranchOwner } from './proxy-branch.js';
import type { ProxyHost, ProxyOptions, ProxyOutcome, ProxyBranchInfo, ProxyTarget } from './proxy-types.js';
import { nextHop, recordRouteFor, viaFor } from './route-set.js';

/** Bytes our Via (and Record-Route) add to a forwarded request, about. */
const OUR_VIA = 160;

/** Methods whose requests create a dialog: record-routed by default. */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);

/** A response of one branch, as `ProxyRun.responses` emits it. */
export interface BranchResponse {
  response: SipResponse;
  branch: ProxyBranchInfo;
}

/**
 * One proxied request (RFC 3261 §16): the server transaction it arrived on, a branch per target
 * (in parallel or one after another), provisional and 2xx answers relayed at once, the best of the
 * other final answers relayed when every branch is done (§16.7), CANCEL passed on (§16.10).
 * Awaitable: resolves with the outcome once a final response went upstream; never rejects.
 */
export class ProxyRun implements PromiseLike<ProxyOutcome>, BranchOwner {
  private readonly branches: ProxyBranch[] = [];
  private readonly queue: ProxyTarget[];
  private readonly first: readonly ProxyTarget[];
  private readonly subject = new Subject<BranchResponse>();
  private readonly outcome: Promise<ProxyOutcome>;
  private settle!: (o: ProxyOutcome) => void;
  private answered = false;
  private stopped = false;
  private readonly recordRoute: boolean;
  private readonly hash: string;
  /** Targets onFailure may still add (bounds a failure route that keeps answering with more). */
  private maxMore = 16;

  constructor(
    private readonly host: ProxyHost,
    private readonly txn: ServerTransaction,
    targets: readonly ProxyTarget[],
    private readonly opts: ProxyOptions,
    hash: string,
    /** A signed token for a connection id, for our Record-Route when a branch leaves down a client's connection. */
    private readonly tokenFor: (flow: string) => string,
  ) {
    this.hash = hash;
    this.outcome = new Promise((resolve) => (this.settle = resolve));
    this.recordRoute = opts.recordRoute ?? (DIALOG_CREATING.has(txn.method) && txn.request.to.tag === undefined);
    this.queue = opts.forking === 'sequential' ? targets.slice(1) : [];
    this.first = opts.forking === 'sequential' ? targets.slice(0, 1) : targets;
  }

  /** @internal start the branches, or answer `refusal` (483, 482...) without any. */
  _start(refusal?: SipResponse): this {
    const txn = this.txn;
    if (refusal !== undefined || this.first.length === 0) {
      this.finishUpstream(refusal ?? txn.createResponse(480, 'Temporarily Unavailable'));
      this.subject.complete();
      return this;
    }
    txn.on('cancel', () => this.cancel());
    txn.once('terminated', () => this.serverGone());
    for (const t of this.first) this.launch(t);
    return this;
  }

  /** Every response of every branch (100 Trying included); completes when the run is over. */
  get responses(): Observable<BranchResponse> {
    return this.subject.asObservable();
  }

  then<A = ProxyOutcome, B = never>(onOk?: ((o: ProxyOutcome) => A | PromiseLike<A>) | null, onErr?: ((e: unknown) => B | PromiseLike<B>) | null): PromiseLike<A | B> {
    return this.outcome.then(onOk, onErr);
  }

  /** Give up on every branch still running (CANCEL), as the caller's CANCEL does; their answers still count. */
  cancel(): void {
    this.stopped = true;
    this.queue.length = 0;
    for (const b of this.branches) this.cancelBranch(b);
  }

  // --- branches ---------------------------------------------------------------------------------

  private launch(t: ProxyTarget): void {
    const target = typeof t === 'string' ? t : t.uri;
    const req = this.copyFor(target);
    const b = new ProxyBranch(target, req, this);
    this.branches.push(b);
    let hop;
    try {
      hop = nextHop(req);
    } catch {
      this.branchDone(b, this.synthetic(b, 400, 'Bad Next Hop'));
      return;
    }
    const given = typeof t === 'string' ? undefined : t.destination;
    (given !== undefined ? Promise.resolve([given]) : this.host.resolve(hop)).then(
      (dests) => {
        if (dests.length === 0) throw new Error('no destination');
        // RFC 3261 §18.1.1: too big for UDP (our Via included) goes over TCP to the same place first.
        const big = dests.some((d) => d.proto === 'udp') && wireSize(b.request) + OUR_VIA > UDP_SIZE_LIMIT;
        b.destinations = big ? dests.flatMap((d) => (d.proto === 'udp' ? [{ ...d, proto: 'tcp' as const }, d] : [d])) : dests;
        if (b.cancelled || this.txn.state === 'terminated') this.branchDone(b, this.synthetic(b, 487));
        else this.send(b);
      },
      (err: unknown) => this.branchDone(b, unresolvable(this.txn, err)),
    ).catch((err: unknown) => {
      if (!b.finished) this.branchDone(b, unresolvable(this.txn, err));
      else this.host.layer.reportError(err);
    });
    const ms = this.opts.branchTimeout;
    if (ms !== undefined && ms > 0) b.timer = this.host.layer.queue.schedule(ms, b);
  }

  /** The request as it goes to `target` (§16.6 steps 1-5): copy, Request-URI, Max-Forwards, Record-Route, headers. */
  private copyFor(target: string): SipRequest {
    const orig = this.txn.request;
    const req = new SipRequest({ method: orig.method, uri: target, headers: orig.headers.clone(), body: orig.body });
    const h = req.headers;
    const mf = orig.maxForwards;
    h.set('Max-Forwards', String(mf === undefined ? 70 : mf - 1));
    const extra = this.opts.headers;
    if (extra !== undefined) {
      for (const name of Object.keys(extra)) {
        const v = extra[name];
        if (v === null || v === undefined) h.delete(name);
        else h.set(name, v);
      }
    }
    return req;
  }

  /** Send (or re-send, to the next destination) with our Via and Record-Route for the leg it leaves on. */
  private send(b: ProxyBranch): void {
    const layer = this.host.layer;
    for (;;) {
      const dst = b.destinations[b.index]!;
      const leg = this.host.legFor(dst);
      if (leg === undefined) {
        if (++b.index < b.destinations.length) continue;
        this.branchDone(b, this.synthetic(b, 503, 'No Route To Destination'));
        return;
      }
      const req = b.request;
      const h = req.headers;
      const via = viaFor(leg, proxyBranch(this.hash));
      if (b.txn !== undefined) h.replaceFirst('Via', via);
      else h.prepend('Via', via);
      if (this.recordRoute) this.addRecordRoute(b, leg, dst.flow);
      if (b.txn === undefined) this.opts.beforeSend?.(req, b.target);
      try {
        b.txn = layer.request(req, dst, b);
      } catch (err) {
        layer.reportError(err);
        this.branchDone(b, this.synthetic(b, 500));
      }
      return;
    }
  }

  private addRecordRoute(b: ProxyBranch, out: NonNullable<ReturnType<ProxyHost['legFor']>>, flow: string | undefined): void {
    const h = b.request.headers;
    if (b.recordRoutes > 0) {
      const rest = h.getAll('record-route').slice(b.recordRoutes);
      if (rest.length === 0) h.delete('record-route');
      else h.set('Record-Route', rest);
    }
    const inbound = this.host.legOf(this.txn.from);
    const secure = this.txn.request.requestUri.scheme === 'sips';
    // RFC 5658: a request that changes transport or address family gets one Record-Route per side.
    // A branch down a client's connection: the dialog's later requests must take it too (flow token).
    const token = flow === undefined ? undefined : this.tokenFor(flow);
    // A caller on a WebSocket is reachable only down its connection: its side gets a token too.
    const from = this.txn.from;
    const inToken = (from.proto === 'ws' || from.proto === 'wss') && from.flow !== undefined ? this.tokenFor(from.flow) : undefined;
    if (token !== undefined || inToken !== undefined || (inbound !== undefined && (inbound.proto !== out.proto || inbound.host !== out.host || inbound.port !== out.port))) {
      if (inbound !== undefined) h.prepend('Record-Route', recordRouteFor(inbound, secure, true, inToken));
      h.prepend('Record-Route', recordRouteFor(out, secure, inbound !== undefined, token));
      b.recordRoutes = inbound !== undefined ? 2 : 1;
    } else {
      h.prepend('Record-Route', recordRouteFor(out, secure, false));
      b.recordRoutes = 1;
    }
  }

  private cancelBranch(b: ProxyBranch): void {
    if (b.finished || b.cancelled) return;
    b.cancelled = true;
    // Before its first provisional response the transaction holds the CANCEL back (§9.1).
    b.txn?.cancel();
  }

  // --- what branches report ---------------------------------------------------------------------

  branchProvisional(b: ProxyBranch, res: SipResponse): void {
    this.observe(b, res);
    if (res.status === 100) return;
    b.ringing = true;
    if (this.answered || !popVia(res)) return;
    void this.txn.respond(res).catch(() => undefined);
  }

  branchFinal(b: ProxyBranch, res: SipResponse): void {
    this.observe(b, res);
    const status = res.status;
    if (status === 503 && this.nextDestination(b)) return;
    if (status >= 200 && status < 300) {
      b.final = res;
      this.clearTimer(b);
      if (!popVia(res)) return;
      if (!this.answered) {
        // Every other branch is cancelled; their 2xx, should one cross the CANCEL, still go up (RFC 6026).
        this.finishUpstream(res);
        this.cancel();
      } else this.txn.relayLate2xx(res);
      this.checkDone();
      return;
    }
    if (status >= 600) this.cancel();
    // §16.8: a branch ended by Timer C (its CANCEL is the transaction's, not ours) or by our
    // branch timeout counts as 408, whatever its 487 says.
    if (status === 487 && (b.timedOut || !b.cancelled)) {
      this.branchDone(b, this.synthetic(b, 408));
      return;
    }
    this.branchDone(b, res, true);
  }

  branchLate2xx(b: ProxyBranch, res: SipResponse): void {
    this.observe(b, res);
    if (popVia(res)) this.txn.relayLate2xx(res);
  }

  branchFailed(b: ProxyBranch, err: unknown): void {
    const timeout = err instanceof SipTimeoutError;
    if (!b.cancelled && this.nextDestination(b)) return;
    // §16.7: a timeout counts as a 408 from that branch, a transport failure as a 503 (§16.9).
    this.branchDone(b, timeout ? this.synthetic(b, 408) : this.synthetic(b, 503, 'Transport Failure'));
  }

  branchTimedOut(b: ProxyBranch): void {
    if (b.finished) return;
    b.timedOut = true;
    if (b.ringing) this.cancelBranch(b);
    else {
      b.cancelled = true;
      if (b.txn === undefined || !this.host.layer.abandon(b.txn, new SipTimeoutError(b.txn.isInvite ? 'B' : 'F', b.request, this.opts.branchTimeout ?? 0))) this.branchDone(b, this.synthetic(b, 408));
    }
  }

  /** Move a branch to its next destination (RFC 3263 fail-over): false when there is none. */
  private nextDestination(b: ProxyBranch): boolean {
    if (b.cancelled || this.stopped || b.index + 1 >= b.destinations.length) return false;
    b.index++;
    b.txn?.setHandlers({});
    this.send(b);
    return true;
  }

  /** A branch ended with `res`: its own answer (`wire`, our Via still on top) or a synthetic one. */
  private branchDone(b: ProxyBranch, res: SipResponse, wire = false): void {
    if (b.finished) return;
    this.clearTimer(b);
    if (wire) popVia(res);
    b.final = res;
    if (!this.answered && !this.stopped && this.queue.length > 0) this.launch(this.queue.shift()!);
    this.checkDone();
  }

  private checkDone(): void {
    if (this.branches.some((b) => !b.finished) || this.queue.length > 0) return;
    if (!this.answered) {
      const finals = this.branches.map((b) => b.final!).filter((r) => r.status >= 300);
      let best = bestResponse(finals) ?? this.txn.createResponse(408);
      collectChallenges(best, finals);
      const instead = this.failureRoute(best);
      if (instead === 'retried') return;
      if (instead !== undefined) best = instead;
      this.finishUpstream(best.status === 503 && !OWN.has(best) ? toServerError(best) : best);
    }
    this.subject.complete();
  }

  /** The application's onFailure: new targets launched ('retried'), or a replacement answer. */
  private failureRoute(best: SipResponse): SipResponse | 'retried' | undefined {
    const f = this.opts.onFailure;
    if (f === undefined || this.stopped || best.status >= 600) return undefined;
    let r;
    try {
      r = f(best, this.branches);
    } catch (err) {
      this.host.layer.reportError(err);
      return undefined;
    }
    if (typeof r === 'number') return this.txn.createResponse(r);
    if (Array.isArray(r)) {
      const more = (r as readonly string[]).slice(0, this.maxMore);
      this.maxMore -= more.length;
      if (more.length === 0) return undefined;
      for (const t of more) this.launch(t);
      return 'retried';
    }
    return r instanceof SipResponse ? r : undefined;
  }

  private finishUpstream(res: SipResponse): void {
    this.answered = true;
    if (this.txn.state !== 'terminated' && !this.txn.finalSent) void this.txn.respond(res).catch(() => undefined);
    this.settle({ response: res, branches: this.branches.map((b) => ({ target: b.target, response: b.final })) });
  }

  /** The server transaction ended (transport failure, shutdown): nobody is left to answer. */
  private serverGone(): void {
    if (this.answered) return;
    this.cancel();
  }

  private observe(b: ProxyBranch, res: SipResponse): void {
    const br = { response: res, branch: b };
    this.subject.next(br);
    const f = this.opts.onResponse;
    if (f !== undefined) {
      try {
        f(res, b);
      } catch (err) {
        this.host.layer.reportError(err);
      }
    }
  }

  private clearTimer(b: ProxyBranch): void {
    if (b.timer !== undefined) this.host.layer.queue.cancel(b.timer);
    b.timer = undefined;
  }

  /** A final answer standing for a branch that gave none (§16.7), ready to go upstream. */
  private synthetic(_b: ProxyBranch, status: number, reason?: string): SipResponse {
    return this.txn.createResponse(status, reason);
  }
}

/** Our own 503s (a DNS failure): sent as they are, unlike a 503 a branch received (§16.7 step 6). */
const OWN = new WeakSet<SipResponse>();

/** A target whose next hop resolves nowhere: 404 when the name does not exist, else 503 (RFC 3263 §4.3). */
function unresolvable(txn: ServerTransaction, err: unknown): SipResponse {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'ENOTFOUND' || code === 'ENODATA') return txn.createResponse(404, 'Not Found');
  const res = txn.createResponse(503, 'Unresolvable Destination', { headers: { 'Retry-After': 30 } });
  OWN.add(res);
  return res;
}

/** Remove our Via from a branch's response (§16.7 step 3); false when none would be left (it was for us). */
function popVia(res: SipResponse): boolean {
  const h = res.headers;
  // Ours alone on the first of several lines (the usual case): drop that line, the rest untouched.
  if (h.lineCount('via') >= 2 && h.removeFirst('via')) return true;
  const vias = h.getAll('via');
  if (vias.length < 2) return false;
  h.set('Via', vias.slice(1));
  return true;
}

/** §16.7 step 6: a 503 chosen for upstream goes as 500 (the caller must not take it for our overload). */
function toServerError(res: SipResponse): SipResponse {
  res.status = 500;
  res.reason = 'Server Internal Error';
  res.headers.delete('retry-after');
  return res;
}
