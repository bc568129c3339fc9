import { hash as cryptoHash } from 'node:crypto';
import { BRANCH_COOKIE, SipParseError, type SipRequest, type Via } from '../message/index.js';
import { SipTransactionError, type ServerTransaction, type SipPeer } from '../transaction/index.js';
import { isLoop, loopHash } from './loop-branch.js';
import { ProxyRun } from './proxy-run.js';
import type { ProxyHost, ProxyOptions } from './proxy-types.js';
import { nextHop, preprocessRoute } from './route-set.js';

/**
 * A stateful proxy (RFC 3261 §16) over the transaction layer, as Kamailio's `t_relay` is:
 * `forward()` relays a request a handler chose targets for; `routeRequest()` / `routeAck()`
 * forward what a route set sends through us (requests inside record-routed dialogs) with no
 * application code.
 */
export class SipProxy {
  /** Most branches one request forks into; targets past it are left out. */
  readonly maxForks: number;

  constructor(
    private readonly host: ProxyHost,
    opts: { maxForks?: number } = {},
  ) {
    this.maxForks = opts.maxForks ?? 16;
  }

  /**
   * Forward the request of `txn` to `targets` (Request-URIs). §16.3: Max-Forwards 0 is answered
   * 483 and a request that comes back unchanged 482; else the transaction relays its branches'
   * answers from now on.
   */
  forward(txn: ServerTransaction, targets: readonly string[], opts: ProxyOptions = {}): ProxyRun {
    if (txn.proxied) throw new SipTransactionError('ERR_SIP_TXN_STATE', `${txn.method} is already being proxied`);
    const req = txn.request;
    const vias = req.via;
    const raw = req.headers.getAll('via');
    const max = this.maxForks;
    const run = new ProxyRun(this.host, txn, targets.length > max ? targets.slice(0, max) : targets, opts, loopHash(req, raw[0]));
    txn.relayMode();
    // §16.2: a stateful proxy answers an INVITE 100 Trying at once (the caller stops retransmitting).
    if (txn.isInvite && txn.lastResponse === undefined) void txn.respond(100).catch(() => undefined);
    const mf = req.maxForwards;
    if (mf !== undefined && mf <= 0) return run._start(txn.createResponse(483));
    try {
      // An initial request may come with a preloaded route through us (an outbound proxy): ours goes.
      if (req.headers.has('route')) preprocessRoute(req, (u) => this.host.isLocal(u));
      if (isLoop(req, vias, raw, (v) => this.isOurVia(v))) return run._start(txn.createResponse(482));
    } catch (err) {
      return run._start(txn.createResponse(400, err instanceof SipParseError ? err.reason : 'Bad Route'));
    }
    return run._start();
  }

  /**
   * A request whose top Route named us (§16.4), inside a dialog (To tag) and not for us: forwarded
   * along its route set (or to its Request-URI). False when it is not such a request: the
   * application handles it. Call before any dialog matching.
   */
  routeRequest(txn: ServerTransaction): boolean {
    const req = txn.request;
    if (req.to.tag === undefined || !req.headers.has('route')) return false;
    try {
      if (!preprocessRoute(req, (u) => this.host.isLocal(u))) return false;
      if (!req.headers.has('route') && this.host.isLocal(req.requestUri)) return false;
    } catch (err) {
      void txn.respond(400, err instanceof SipParseError ? err.reason : 'Bad Route');
      return true;
    }
    this.forward(txn, [req.uri], { recordRoute: false });
    return true;
  }

  /**
   * The same for an ACK of a 2xx (§16.11: forwarded statelessly, no transaction). Its branch is
   * derived from the one it came with, so a retransmitted ACK leaves with the same branch.
   */
  routeAck(ack: SipRequest, from: SipPeer): boolean {
    let hop;
    try {
      if (!ack.headers.has('route') || !preprocessRoute(ack, (u) => this.host.isLocal(u))) return false;
      if (!ack.headers.has('route') && this.host.isLocal(ack.requestUri)) return false;
      const mf = ack.maxForwards;
      if (mf !== undefined && mf <= 0) return true;
      ack.headers.set('Max-Forwards', String(mf === undefined ? 70 : mf - 1));
      hop = nextHop(ack);
    } catch {
      return true; // an ACK gets no answer: a garbled route set drops it
    }
    const incoming = ack.topVia?.branch ?? `${from.addr}:${from.port}`;
    const branch = BRANCH_COOKIE + cryptoHash('sha1', incoming, 'base64url').slice(0, 20);
    const layer = this.host.layer;
    this.host.resolve(hop).then(
      (dests) => {
        const dst = dests[0];
        const leg = dst === undefined ? undefined : this.host.legFor(dst);
        if (leg === undefined) return;
        const host = leg.host.includes(':') ? `[${leg.host}]` : leg.host;
        ack.headers.prepend('Via', `SIP/2.0/${leg.proto.toUpperCase()} ${host}:${leg.port};branch=${branch};rport`);
        layer.sendStateless(ack, dst!).catch((err: unknown) => layer.reportError(err));
      },
      () => undefined,
    );
    return true;
  }

  private isOurVia(v: Via): boolean {
    return this.host.isLocal({ scheme: 'sip', host: v.host, port: v.port, params: new Map(), headers: new Map() }) && v.branch !== undefined && v.branch.startsWith(BRANCH_COOKIE);
  }
}
