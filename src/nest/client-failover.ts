import { formatVia, generateBranch, SipRequest, type SipResponse } from '../message/index.js';
import type { SipDestination } from '../transaction/index.js';
import { isConnectFailure, TargetSet, type ResolvedTarget } from '../proxy/index.js';
import type { Addressed, ClientRouting } from './client-routing.js';
import type { Pending, PendingFailover } from './pending-request.js';
import type { SipEndpoint } from './sip-endpoint.js';
import type { SipClientRequest } from './sip-client-options.js';
import type { SipTransportName } from './sip-resolver.js';
import { SipClientClosedError } from './sip-response-error.js';

/** What a failover needs from the client: the endpoint it sends from now, and starting a transaction. */
export interface FailoverHost {
  readonly endpoint: SipEndpoint | undefined;
  launch(p: Pending, ep: SipEndpoint, req: SipRequest, dst: SipDestination): void;
}

/**
 * Resolve `req`'s targets (RFC 3263) and send it to the first; `p` fails over to the next ones
 * (see ClientFailover). Rejects when nothing resolves or the first leg cannot be bound.
 */
export async function startWithFailover(
  host: FailoverHost,
  routing: ClientRouting,
  p: Pending,
  ep: SipEndpoint,
  req: SipRequest,
  data: SipClientRequest | SipRequest,
  fallback: SipTransportName | undefined,
): Promise<void> {
  const targets = await routing.targetsFor(req, data, fallback);
  const f = new ClientFailover(host, routing, p, ep, req, new TargetSet(targets, routing.down));
  await f.first(req);
}

/**
 * The attempts of one request along its targets (RFC 3263 §4.3), in front of its Pending (as
 * AuthRetry is for challenges): a transport failure, a Timer B/F timeout or a 503 sends the
 * request again, as a new client transaction (new Via branch, CSeq + 1, Via and Contact for the
 * leg it now leaves on), to the next target; the last target's outcome is the result. A 503 with
 * Retry-After puts its target on the client's down list. A request sent over TCP because it was
 * too large for UDP (RFC 3261 §18.1.1) goes to the same target over UDP when TCP cannot connect.
 */
export class ClientFailover implements PendingFailover {
  /** The current attempt left UDP for TCP for its size. */
  private enlarged = false;
  /** The caller gave the Via (then only its branch changes) / the Contact (kept). */
  private readonly ownVia: boolean;
  private readonly ownContact: boolean;

  constructor(
    private readonly host: FailoverHost,
    private readonly routing: ClientRouting,
    private readonly p: Pending,
    private readonly ep: SipEndpoint,
    req: SipRequest,
    private readonly targets: TargetSet,
  ) {
    this.ownVia = !req.headers.has('via');
    this.ownContact = !req.headers.has('contact');
  }

  /** Send to the first target; only a request with somewhere else to go keeps this as its failover. */
  async first(req: SipRequest): Promise<void> {
    const t = this.targets.next()!;
    await this.go(req, t, true);
  }

  /** Pending: this outcome of the live attempt; true when another attempt took over. */
  retry(res: SipResponse | undefined, err: unknown): boolean {
    const p = this.p;
    if (p.stopped || this.host.endpoint !== this.ep) return false;
    let next: ResolvedTarget | undefined;
    let enlarge = true;
    if (this.enlarged && res === undefined && isConnectFailure(err)) {
      next = this.targets.current; // TCP could not connect: the same target over UDP, as it was
      enlarge = false;
    } else {
      next = this.targets.after(res, err);
    }
    if (next === undefined) return false;
    const req = this.again(p.request!);
    p.request = req;
    this.go(req, next, enlarge).catch((e: unknown) => p.fail(e));
    return true;
  }

  private async go(req: SipRequest, t: ResolvedTarget, enlarge: boolean): Promise<void> {
    let a: Addressed;
    for (;;) {
      try {
        a = await this.routing.address(req, t, enlarge);
        break;
      } catch (err) {
        // No leg for this target's transport or family (e.g. no IPv6 here): the next target, if any.
        const next = this.targets.next();
        if (next === undefined || this.p.stopped) throw err;
        t = next;
        enlarge = true;
      }
    }
    const p = this.p;
    if (p.stopped) {
      p.fail(new Error('request stopped before it was sent to the next target'));
      return;
    }
    if (this.host.endpoint !== this.ep) throw new SipClientClosedError();
    this.enlarged = a.enlarged;
    // Keep this failover only while there is somewhere else to go (or UDP to fall back to).
    p.failover = this.targets.remaining > 0 || a.enlarged ? this : undefined;
    this.host.launch(p, this.ep, req, a.dst);
  }

  /** The request as a new transaction: CSeq + 1, and our Via and Contact out (address() writes them for the next leg), or a new branch in the caller's Via. */
  private again(prev: SipRequest): SipRequest {
    const h = prev.headers.clone();
    const seq = this.p.nextCSeq?.() ?? prev.cseq.seq + 1;
    h.set('CSeq', `${seq} ${prev.method}`);
    if (this.ownVia) h.delete('via');
    else {
      const top = prev.topVia!;
      const params = new Map(top.params);
      params.set('branch', generateBranch());
      const vias = h.getAll('via');
      vias[0] = formatVia({ protocol: top.protocol, transport: top.transport, host: top.host, port: top.port, sentBy: top.sentBy, params });
      h.set('Via', vias);
    }
    if (this.ownContact) h.delete('contact');
    return new SipRequest({ method: prev.method, uri: prev.uri, headers: h, body: prev.body });
  }
}
