import type { SipDialog } from '../dialog/index.js';
import type { Body, HeadersInit, SipRequest, SipResponse } from '../message/index.js';

/** The incoming side of a bridged call: what a server handler's context offers (SipContext). */
export interface B2buaInbound {
  getRequest(): SipRequest;
  /** The dialog this request belongs to (a re-INVITE on a bridged leg), else undefined. */
  readonly dialog: SipDialog | undefined;
  readonly cancelled: boolean;
  onCancel(fn: () => void): void;
  sendProvisional(reply: { status: number; reason?: string; headers?: HeadersInit; body?: Body }): Promise<void>;
  whenAcknowledged(): Promise<SipRequest | undefined>;
}

/** The outgoing side: what places the B leg's INVITE (SipClient.invite). */
export interface B2buaOutbound {
  invite(
    request: { uri: string; flow?: string; headers?: HeadersInit; body?: Body },
    opts: { signal?: AbortSignal; onProvisional?: (res: SipResponse) => void },
  ): Promise<SipDialog>;
}

/** What the handler returns to the caller (a SipResponseDescription). */
export interface B2buaAnswer {
  status: number;
  reason?: string;
  headers?: Record<string, string>;
  body?: Body;
}

export interface BridgeOptions {
  /**
   * The B leg's Request-URI (and To). Several: all are called at once (parallel forking, a user's
   * registered phones); the first to answer 2xx wins and the others are cancelled; when none does,
   * the caller gets the best of their answers (a 6xx first, else the lowest class, RFC 3261 §16.7).
   */
  to: string | BridgeTarget | readonly (string | BridgeTarget)[];
  /** The B leg's From; default the caller's From URI (or a From in `headers`). */
  from?: string;
  /** Caller's headers copied onto the B leg (lower-case names). Default none but the body's Content-Type. */
  copyHeaders?: readonly string[];
  /** Extra headers of the B leg's INVITE. */
  headers?: Record<string, string>;
  /** Give up on the callee after this many ms without a final answer: the caller gets `480 No Answer`. */
  ringTimeout?: number;
  /** Rewrite a session description on its way across (either direction), e.g. to anchor media. */
  rewriteSdp?: (sdp: Buffer, direction: 'a-to-b' | 'b-to-a') => Body;
}

/**
 * A callee reached down a connection of ours rather than at its URI: a WebSocket client, whose
 * Contact (`sip:x@abc.invalid;transport=ws`) has no address (its registration's flow).
 */
export interface BridgeTarget {
  uri: string;
  flow?: string;
}

/** A bridge's two dialogs, once both exist. */
export interface BridgedCall {
  a: SipDialog;
  b: SipDialog;
}

/** The peer of a bridged dialog, and the bridge's rewrite hook. */
interface Leg {
  peer: SipDialog;
  rewrite: BridgeOptions['rewriteSdp'];
  side: 'a' | 'b';
}

/**
 * A back-to-back user agent (RFC 3261 §6, RFC 7092): answers an incoming INVITE by placing one of
 * its own and joins the two dialogs. Provisional responses go back to the caller (180, 183 with
 * early media), the callee's final answer becomes the caller's (its SDP carried, or rewritten),
 * a CANCEL from the caller cancels the B leg, a BYE on either dialog ends the other, and a
 * re-INVITE, UPDATE or INFO on either leg is carried to the other (its answer back: `bridge()` does
 * it for INVITE, `carry()` for the other methods' handlers). The two calls have their own
 * Call-IDs, tags and CSeqs: nothing of one leg's signalling leaks to the other unless copied.
 */
export class B2bua {
  private readonly legs = new WeakMap<SipDialog, Leg>();
  /** Calls bridged (both dialogs up) and not yet ended. */
  private live = 0;

  constructor(private readonly out: B2buaOutbound) {}

  /** Bridged calls up now. */
  get active(): number {
    return this.live;
  }

  /** The other leg of a bridged dialog. */
  peerOf(dialog: SipDialog): SipDialog | undefined {
    return this.legs.get(dialog)?.peer;
  }

  /**
   * Bridge the INVITE of `ctx` to `opts.to` and resolve with the caller's answer. A re-INVITE on a
   * dialog this bridge joined goes to the other leg instead (`opts` then unused). `onBridged` is
   * told the two dialogs once the caller's ACK came.
   */
  async bridge(ctx: B2buaInbound, opts: BridgeOptions, onBridged?: (call: BridgedCall) => void): Promise<B2buaAnswer> {
    const req = ctx.getRequest();
    const existing = ctx.dialog;
    if (existing !== undefined) return this.carryTo(req, existing);
    const ac = new AbortController();
    ctx.onCancel(() => ac.abort(new Error('the caller cancelled')));
    let noAnswer = false;
    const ring = opts.ringTimeout === undefined ? undefined : setTimeout(() => {
      noAnswer = true;
      ac.abort(new Error('no answer'));
    }, opts.ringTimeout);
    const headers: Record<string, string> = {};
    for (const name of opts.copyHeaders ?? []) {
      const v = req.headers.getAll(name);
      if (v.length > 0) headers[name] = v.join(', ');
    }
    const type = req.headers.get('content-type');
    if (type !== undefined) headers['Content-Type'] = type;
    Object.assign(headers, opts.headers);
    if (opts.from !== undefined) headers.From = opts.from;
    else if (!Object.keys(headers).some((k) => k.toLowerCase() === 'from')) headers.From = `<${req.from.uri}>`;
    const body = req.body.length > 0 && opts.rewriteSdp !== undefined ? opts.rewriteSdp(req.body, 'a-to-b') : req.body;
    let b: SipDialog;
    const onProvisional = (res: SipResponse): void => {
      if (res.status === 100 || ctx.cancelled) return;
      void ctx.sendProvisional(this.carried(res, opts.rewriteSdp, 'b-to-a')).catch(() => undefined);
    };
    try {
      const to = opts.to;
      const targets = (typeof to === 'string' || !Array.isArray(to) ? [to as string | BridgeTarget] : (to as readonly (string | BridgeTarget)[])).map(asTarget);
      if (targets.length === 0) return { status: 480, reason: 'Temporarily Unavailable' };
      const request = (t: BridgeTarget) => ({ uri: t.uri, ...(t.flow !== undefined ? { flow: t.flow } : {}), headers: { ...headers }, body });
      b =
        targets.length === 1
          ? await this.out.invite(request(targets[0]!), { signal: ac.signal, onProvisional })
          : await fork(this.out, targets, request, ac.signal, onProvisional);
    } catch (err) {
      // The B leg's non-2xx is the caller's answer (6xx, 486, 404...); anything else: the callee is unreachable.
      const res = (err as { response?: SipResponse }).response;
      if (res !== undefined && res.status >= 300) return { status: res.status, reason: res.reason };
      if (ctx.cancelled) return { status: 487 };
      return { status: 480, reason: noAnswer ? 'No Answer' : 'Temporarily Unavailable' };
    } finally {
      if (ring !== undefined) clearTimeout(ring);
    }
    if (ctx.cancelled) {
      // Answered as the caller gave up: that call must not stand.
      b.bye().subscribe({ error: () => undefined });
      return { status: 487 };
    }
    void this.join(ctx, b, opts.rewriteSdp, onBridged);
    const sdp = b.remoteSdp;
    const answer: B2buaAnswer = { status: 200 };
    if (sdp !== undefined) {
      answer.headers = { 'Content-Type': 'application/sdp' };
      answer.body = opts.rewriteSdp !== undefined ? opts.rewriteSdp(Buffer.from(sdp), 'b-to-a') : sdp;
    }
    return answer;
  }

  /** Once the caller's ACK made its dialog, tie the two together; no ACK: hang up the B leg. */
  private async join(ctx: B2buaInbound, b: SipDialog, rewrite: BridgeOptions['rewriteSdp'], onBridged?: (call: BridgedCall) => void): Promise<void> {
    const ack = await ctx.whenAcknowledged();
    const a = ctx.dialog;
    if (ack === undefined || a === undefined || a.state === 'terminated') {
      if (b.state !== 'terminated') b.bye().subscribe({ error: () => undefined });
      return;
    }
    this.legs.set(a, { peer: b, rewrite, side: 'a' });
    this.legs.set(b, { peer: a, rewrite, side: 'b' });
    this.live++;
    let ended = false;
    const end = (gone: SipDialog, other: SipDialog): void => {
      if (ended) return;
      ended = true;
      this.live--;
      this.legs.delete(gone);
      this.legs.delete(other);
      if (other.state !== 'terminated') other.bye().subscribe({ error: () => undefined });
    };
    void a.terminated.then(() => end(a, b));
    void b.terminated.then(() => end(b, a));
    onBridged?.({ a, b });
  }

  /**
   * An in-dialog request on a bridged leg (re-INVITE, UPDATE, INFO, MESSAGE...): the same to the
   * other leg, its final answer back. Call it from the handler of that method; `481` when the
   * request's dialog is not one this bridge joined.
   */
  carry(ctx: Pick<B2buaInbound, 'getRequest' | 'dialog'>): Promise<B2buaAnswer> {
    const dialog = ctx.dialog;
    if (dialog === undefined) return Promise.resolve({ status: 481, reason: 'Call Leg Not Bridged' });
    return this.carryTo(ctx.getRequest(), dialog);
  }

  private async carryTo(req: SipRequest, dialog: SipDialog): Promise<B2buaAnswer> {
    const leg = this.legs.get(dialog);
    if (leg === undefined) return { status: 481, reason: 'Call Leg Not Bridged' };
    const dir = leg.side === 'a' ? 'a-to-b' : 'b-to-a';
    const back = leg.side === 'a' ? 'b-to-a' : 'a-to-b';
    const type = req.headers.get('content-type');
    const body = req.body.length > 0 && leg.rewrite !== undefined ? leg.rewrite(req.body, dir) : req.body;
    const final = await new Promise<SipResponse | Error>((resolve) => {
      let last: SipResponse | undefined;
      const sent = req.method === 'INVITE' ? leg.peer.reinvite({ body, contentType: type }) : leg.peer.request(req.method, { body, contentType: type });
      sent.subscribe({
        next: (res) => {
          if (res.status >= 200) last = res;
        },
        error: (err: unknown) => resolve(err instanceof Error ? err : new Error(String(err))),
        complete: () => resolve(last ?? new Error('no final response')),
      });
    });
    if (final instanceof Error) {
      const res = (final as { response?: SipResponse }).response;
      return res !== undefined ? { status: res.status, reason: res.reason } : { status: 500, reason: 'Other Leg Failed' };
    }
    return this.carried(final, leg.rewrite, back);
  }

  /** A response of one leg as an answer on the other: status, reason, and its session description. */
  private carried(res: SipResponse, rewrite: BridgeOptions['rewriteSdp'], dir: 'a-to-b' | 'b-to-a'): B2buaAnswer {
    const out: B2buaAnswer = { status: res.status, reason: res.reason };
    const type = res.headers.get('content-type');
    if (res.body.length > 0 && type !== undefined) {
      out.headers = { 'Content-Type': type };
      out.body = rewrite !== undefined && type.toLowerCase().startsWith('application/sdp') ? rewrite(res.body, dir) : res.body;
    }
    return out;
  }
}

/**
 * INVITE every target at once; the first dialog answered wins and the other branches are
 * cancelled (one that answers 2xx as well is hung up). Rejects with the best failure when none
 * answers: a 6xx first, else the lowest status class, else the first error.
 */
const asTarget = (t: string | BridgeTarget): BridgeTarget => (typeof t === 'string' ? { uri: t } : t);

function fork(
  out: B2buaOutbound,
  targets: readonly BridgeTarget[],
  request: (target: BridgeTarget) => { uri: string; flow?: string; headers?: HeadersInit; body?: Body },
  signal: AbortSignal,
  onProvisional: (res: SipResponse) => void,
): Promise<SipDialog> {
  return new Promise<SipDialog>((resolve, reject) => {
    const branches = targets.map(() => new AbortController());
    const abortAll = (): void => {
      for (const b of branches) b.abort(signal.reason);
    };
    if (signal.aborted) abortAll();
    else signal.addEventListener('abort', abortAll, { once: true });
    let winner: SipDialog | undefined;
    let left = targets.length;
    const failures: unknown[] = [];
    targets.forEach((target, i) => {
      out.invite(request(target), { signal: branches[i]!.signal, onProvisional }).then(
        (dialog) => {
          left--;
          if (winner !== undefined) {
            dialog.bye().subscribe({ error: () => undefined });
            return;
          }
          winner = dialog;
          signal.removeEventListener('abort', abortAll);
          branches.forEach((b, j) => {
            if (j !== i) b.abort(new Error('answered on another branch'));
          });
          resolve(dialog);
        },
        (err: unknown) => {
          left--;
          failures.push(err);
          if (left === 0 && winner === undefined) {
            signal.removeEventListener('abort', abortAll);
            reject(bestFailure(failures));
          }
        },
      );
    });
  });
}

/** RFC 3261 §16.7 step 6, for a B2BUA's branches: a 6xx, else the lowest class (4xx before 5xx). */
function bestFailure(failures: unknown[]): unknown {
  let best: unknown = failures[0];
  let bestStatus = Infinity;
  for (const f of failures) {
    const status = (f as { response?: SipResponse }).response?.status;
    if (status === undefined) continue;
    const rank = status >= 600 ? 0 : status;
    if (rank < bestStatus) {
      bestStatus = rank;
      best = f;
    }
  }
  return best;
}
