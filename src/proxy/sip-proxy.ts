import { hash as cryptoHash } from 'node:crypto';
import { BRANCH_COOKIE, SipParseError, type SipRequest, type SipUri, type Via } from '../message/index.js';
import { SipTransactionError, type ServerTransaction, type SipPeer } from '../transaction/index.js';
import { isLoop, loopHash } from './loop-branch.js';
import { ProxyRun } from './proxy-run.js';
import type { ProxyHost, ProxyOptions, ProxyTarget } from './proxy-types.js';
import { FlowTokens } from './flow-tokens.js';
import { FLOW_USER, nextHop, preprocessRoute, viaFor } from './route-set.js';

/**
 * A stateful proxy (RFC 3261 §16) over the transaction layer, as Kamailio's `t_relay` is:
 * `forward()` relays a request a handler chose targets for; `routeRequest()` / `routeAck()`
 * forward what a route set sends through us (requests inside record-routed dialogs) with no
 * application code.
 */
export class SipProxy {
  /** Most branches one request forks into; targets past it are left out. */
  readonly maxForks: number;
  private readonly tokens = new FlowTokens();
  private readonly tokenFor = (flow: string): string => this.tokens.tokenFor(flow);

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
  forward(txn: ServerTransaction, targets: readonly ProxyTarget[], opts: ProxyOptions = {}): ProxyRun {
    if (txn.proxied) throw new SipTransactionError('ERR_SIP_TXN_STATE', `${txn.method} is already being proxied`);
    const req = txn.request;
    const vias = req.via;
    const raw = req.headers.getAll('via');
    const max = this.maxForks;
    const run = new ProxyRun(this.host, txn, targets.length > max ? targets.slice(0, max) : targets, opts, loopHash(req, raw[0]), this.tokenFor);
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
    let flow: string | undefined;
    try {
      if (!preprocessRoute(req, (u) => this.host.isLocal(u), (u) => (flow = this.flowIn(u)))) return false;
      if (!req.headers.has('route') && this.host.isLocal(req.requestUri)) return false;
    } catch (err) {
      void txn.respond(400, err instanceof SipParseError ? err.reason : 'Bad Route');
      return true;
    }
    // A flow token in our Route: the next hop is that client's connection (its Contact is unreachable).
    if (flow !== undefined && !req.headers.has('route')) {
      const destination = this.host.flowDestination(flow);
      if (destination === undefined) {
        void txn.respond(430, 'Flow Failed'); // RFC 5626 §5.3
        return true;
      }
      this.forward(txn, [{ uri: req.uri, destination }], { recordRoute: false });
      return true;
    }
    this.forward(txn, [req.uri], { recordRoute: false });
    return true;
  }

  /**
   * The connection a popped Route of ours names with a valid flow token, if any. The last of ours
   * popped is the one facing where the request goes (caller side or callee side of a double Record-Route).
   */
  private flowIn(u: SipUri): string | undefined {
    const user = u.user;
    return user !== undefined && user.startsWith(FLOW_USER) ? this.tokens.flowOf(user.slice(FLOW_USER.length)) : undefined;
  }

  /**
   * The same for an ACK of a 2xx (§16.11: forwarded statelessly, no transaction). Its branch is
   * derived from the one it came with, so a retransmitted ACK leaves with the same branch.
   */
  routeAck(ack: SipRequest, from: SipPeer): boolean {
    let hop;
    let flow: string | undefined;
    try {
      if (!ack.headers.has('route') || !preprocessRoute(ack, (u) => this.host.isLocal(u), (u) => (flow = this.flowIn(u)))) return false;
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
    const toFlow = flow !== undefined && !ack.headers.has('route') ? this.host.flowDestination(flow) : undefined;
    if (flow !== undefined && toFlow === undefined && !ack.headers.has('route')) return true; // the flow is gone: nothing to send it on
    (toFlow !== undefined ? Promise.resolve([toFlow]) : this.host.resolve(hop)).then(
      (dests) => {
        const dst = dests[0];
        const leg = dst === undefined ? undefined : this.host.legFor(dst);
        if (leg === undefined) return;
        ack.headers.prepend('Via', viaFor(leg, branch));
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
