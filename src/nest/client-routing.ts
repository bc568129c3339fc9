import { parseNameAddr, parseUri, SipRequest, type SipUri } from '../message/index.js';
import type { DialogFlow } from '../dialog/index.js';
import type { SipDestination } from '../transaction/index.js';
import { ConnectionClosedError, type SocketPool } from '../transport/index.js';
import type { OutboundHeaders } from './outbound-headers.js';
import type { SipClientOptions, SipClientRequest } from './sip-client-options.js';
import type { SipEndpoint } from './sip-endpoint.js';
import { createDnsResolver, DnsCache, DownList, tooLargeForUdp, type SipDnsResolver } from '../proxy/index.js';
import { resolveLiteral, resolveTarget, resolveTargets, type ResolvedTarget, type SipTransportName } from './sip-resolver.js';

/** A request addressed for one target: where it goes, and whether it left UDP for TCP for its size. */
export interface Addressed {
  dst: SipDestination;
  /** Sent over TCP instead of UDP (RFC 3261 §18.1.1): a TCP connect failure retries over UDP. */
  enlarged: boolean;
}

/** The endpoint a client sends from now (undefined once closed), and whether it bound it itself. */
export interface RoutingHost {
  readonly endpoint: SipEndpoint | undefined;
  readonly ownsEndpoint: boolean;
}

/**
 * Where a SipClient's requests go (RFC 3263 through the resolver; the first Route, else the
 * Request-URI) and which leg they leave on: the server's legs, or the client's own, bound on first
 * use per transport and IP family. Filling the headers that depend on the leg is part of it.
 */
export class ClientRouting {
  private readonly legs = new Map<string, Promise<SocketPool>>();
  /** Legs bound (own endpoint), by transport + family: what the synchronous send path uses. */
  private readonly readyLegs = new Map<string, SocketPool>();
  private dnsResolver: SipDnsResolver | undefined = undefined;
  /** Targets that answered 503 with Retry-After, avoided for that long (RFC 3261 §21.5.4). */
  readonly down = new DownList();

  constructor(
    private readonly options: SipClientOptions,
    private readonly headers: OutboundHeaders,
    private readonly host: RoutingHost,
  ) {}

  /** Forget the bound legs (the client closed; its endpoint closes them). */
  reset(): void {
    this.readyLegs.clear();
  }

  /** The dialog's connection as a destination, when it is a stream connection still open (its headers filled for its leg). */
  openFlow(ep: SipEndpoint, req: SipRequest, flow: DialogFlow | undefined): SipDestination | undefined {
    if (flow === undefined || flow.proto === 'udp') return undefined;
    const socket = flow.socket as { destroyed?: boolean; writable?: boolean } | undefined;
    if (socket === undefined || socket.destroyed === true || socket.writable === false) return undefined;
    const dst: SipDestination = { addr: flow.addr, port: flow.port, proto: flow.proto as SipDestination['proto'], socket: flow.socket };
    if (flow.family !== undefined) dst.family = flow.family;
    if (flow.flow !== undefined) dst.flow = flow.flow;
    const pool = ep.poolFor(dst);
    if (pool === undefined) return undefined;
    this.headers.fill(req, pool, dst.proto);
    return dst;
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
      if (t === 'udp' || t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss') return t;
    }
    return this.options.transport ?? 'udp';
  }

  /** The DNS the client resolves with: the `dns` option, else node:dns (`dnsServers`) behind a TTL cache, made on first use. */
  get dns(): SipDnsResolver {
    return (this.dnsResolver ??= this.options.dns ?? new DnsCache(createDnsResolver({ servers: this.options.dnsServers })));
  }

  /**
   * destinationFor without DNS or binding: undefined when either is needed, or when a UDP request
   * is too large for UDP (its TCP leg may need binding; targetsFor/address decide).
   */
  destinationSync(req: SipRequest, data: SipClientRequest | SipRequest, fallback?: SipTransportName): SipDestination | undefined {
    const o: Partial<SipClientRequest> = data instanceof SipRequest ? {} : data;
    if (o.flow !== undefined && o.host === undefined) return this.flowDestination(req, o.flow);
    const r = resolveLiteral(this.routeTarget(req, o), this.defaultTransport(req, fallback), o);
    if (r === undefined) return undefined;
    const pool = this.readyLeg(r.proto, r.family);
    if (pool === undefined) return undefined;
    if (r.proto === 'udp' && !req.headers.has('via')) {
      const hadContact = req.headers.has('contact');
      this.headers.fill(req, pool, 'udp');
      if (!tooLargeForUdp(req)) return destinationOf(r);
      this.unfill(req, hadContact);
      return undefined;
    }
    this.headers.fill(req, pool, r.proto);
    const d = destinationOf(r);
    if (o.flow !== undefined) d.flow = o.flow;
    return d;
  }

  /**
   * A request through a connection of this endpoint's pools (`flow` without a host: a WebSocket
   * client's, whose Contact cannot be resolved): its leg and peer. Throws when it is gone.
   */
  private flowDestination(req: SipRequest, flow: string): SipDestination {
    for (const pool of this.host.endpoint!.pools) {
      const peer = pool.peerOf(flow);
      if (peer === undefined) continue;
      this.headers.fill(req, pool, peer.proto);
      return { addr: peer.addr, port: peer.port, family: peer.family, proto: peer.proto, socket: peer.socket, flow };
    }
    throw new ConnectionClosedError(`connection ${flow} is gone`);
  }

  /** Every target of the request in the order to try them (RFC 3263); TargetSet puts those marked down last. */
  async targetsFor(req: SipRequest, data: SipClientRequest | SipRequest, fallback?: SipTransportName): Promise<ResolvedTarget[]> {
    const o: Partial<SipClientRequest> = data instanceof SipRequest ? {} : data;
    return resolveTargets(this.routeTarget(req, o), this.defaultTransport(req, fallback), o, this.dns);
  }

  /**
   * Address `req` for target `t`: bind its leg, fill the headers that follow from the leg (Via,
   * Contact...). A UDP request larger than UDP_SIZE_LIMIT (1300 bytes) goes over TCP to the same address and
   * port when `enlarge` (the Via is ours), and stays on UDP when no TCP leg can be bound.
   */
  async address(req: SipRequest, t: ResolvedTarget, enlarge: boolean): Promise<Addressed> {
    const hadContact = req.headers.has('contact');
    const ownVia = !req.headers.has('via');
    const pool = await this.leg(t.proto, t.family);
    this.headers.fill(req, pool, t.proto);
    if (t.proto !== 'udp' || !enlarge || !ownVia || !tooLargeForUdp(req)) return { dst: destinationOf(t), enlarged: false };
    let tcp: SocketPool;
    try {
      tcp = await this.leg('tcp', t.family);
    } catch {
      return { dst: destinationOf(t), enlarged: false };
    }
    this.unfill(req, hadContact);
    this.headers.fill(req, tcp, 'tcp');
    return { dst: destinationOf({ ...t, proto: 'tcp' }), enlarged: true };
  }

  /** Take out the leg's own headers fill() wrote (our Via, and the Contact unless the caller gave one), to fill them for another leg. */
  unfill(req: SipRequest, keepContact: boolean): void {
    req.headers.delete('via');
    if (!keepContact) req.headers.delete('contact');
  }

  /** Where the request goes (its first target), and the Via/Contact that follow from the leg it leaves on. */
  async destinationFor(req: SipRequest, data: SipClientRequest | SipRequest, fallback?: SipTransportName): Promise<SipDestination> {
    if (!(data instanceof SipRequest) && data.flow !== undefined && data.host === undefined) return this.flowDestination(req, data.flow);
    const targets = await this.targetsFor(req, data, fallback);
    return (await this.address(req, targets[0]!, false)).dst;
  }

  /** The pool for a transport and family: the server's, or one of ours bound on first use. */
  private leg(proto: SipTransportName, family: 4 | 6): Promise<SocketPool> {
    const ep = this.host.endpoint!;
    if (!this.host.ownsEndpoint) {
      const pool = ep.poolFor({ addr: family === 6 ? '::1' : '127.0.0.1', port: 0, family, proto });
      if (pool === undefined) return Promise.reject(new Error(`the SipServer has no ${proto.toUpperCase()} IPv${family} leg to send from`));
      return Promise.resolve(pool);
    }
    const key = proto + family;
    let p = this.legs.get(key);
    if (p === undefined) {
      const host = family === 6 ? (this.options.localHost6 ?? '::') : (this.options.localHost ?? '0.0.0.0');
      p = ep.addLeg({ transport: proto, host, port: 0, tls: this.options.tls, ws: this.options.ws });
      p.then(
        (pool) => {
          if (this.host.endpoint === ep) this.readyLegs.set(key, pool);
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
    const ep = this.host.endpoint!;
    if (!this.host.ownsEndpoint) return ep.poolFor({ addr: family === 6 ? '::1' : '127.0.0.1', port: 0, family, proto });
    const pool = this.readyLegs.get(proto + family);
    return pool !== undefined && !pool.closed ? pool : undefined;
  }

  /** Where an ACK for a 2xx goes: at once for an IP address (so it leaves before anything the caller sends next), else through DNS. */
  ackDestination(ack: SipRequest, invite: SipRequest): SipDestination | Promise<SipDestination> {
    const route = ack.headers.get('route');
    const target = route !== undefined ? parseUri(parseNameAddr(route, 'Route').uri) : ack.requestUri;
    const proto = (invite.topVia?.transport.toLowerCase() ?? 'udp') as SipTransportName;
    const literal = resolveLiteral(target, proto);
    if (literal !== undefined) return destinationOf(literal);
    return resolveTarget(target, proto, {}, this.dns).then(destinationOf);
  }
}

/**
 * Where a resolved target is sent: its address (as resolved, so an injected resolver is obeyed for
 * TLS too), and for TLS the name the certificate must match (RFC 5922: the SIP domain).
 */
export function destinationOf(r: ResolvedTarget): SipDestination {
  const d: SipDestination = { addr: r.addr, port: r.port, family: r.family, proto: r.proto };
  if (r.proto === 'tls' && r.servername !== undefined) d.servername = r.servername;
  return d;
}
