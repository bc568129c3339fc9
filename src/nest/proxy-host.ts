import type { SipUri } from '../message/index.js';
import { createDnsResolver, DnsCache, resolveLiteral, resolveTargets, type ResolvedTarget, type ProxyHost, type ProxyLeg, type SipDnsResolver } from '../proxy/index.js';
import type { SipDestination, SipPeer, TransactionLayer } from '../transaction/index.js';
import type { SipEndpoint } from './sip-endpoint.js';

/** Proxy settings of a SipServer. */
export interface SipProxyOptions {
  /**
   * Other names of this server (host or host:port) that Route headers and Request-URIs may use
   * for it, e.g. its DNS name; its legs' own addresses are always recognised.
   */
  aliases?: readonly string[];
  /** DNS look-ups for next hops (RFC 3263); default node:dns (or `dnsServers`) behind a TTL cache. */
  dns?: SipDnsResolver;
  /** DNS servers for next hops (`'127.0.0.1:5353'`), when not the system's. */
  dnsServers?: readonly string[];
  /** Most branches one request forks into (targets past it are left out). Default 16. */
  maxForks?: number;
}

/** What the proxy needs of a SipServer's endpoint: its legs, its names, next-hop resolution. */
export class EndpointProxyHost implements ProxyHost {
  private readonly aliases: { host: string; port: number | undefined }[];
  private readonly dns: SipDnsResolver;

  constructor(
    private readonly endpoint: SipEndpoint,
    opts: SipProxyOptions = {},
  ) {
    this.dns = opts.dns ?? new DnsCache(createDnsResolver({ servers: opts.dnsServers }));
    this.aliases = (opts.aliases ?? []).map((a) => {
      const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(a.trim());
      return { host: (m?.[1] ?? a).toLowerCase(), port: m?.[2] === undefined ? undefined : Number(m[2]) };
    });
  }

  get layer(): TransactionLayer {
    return this.endpoint.layer;
  }

  legFor(dst: SipDestination): ProxyLeg | undefined {
    const pool = this.endpoint.poolFor(dst);
    return pool === undefined ? undefined : this.endpoint.legAddress(pool, dst.socket, dst.addr);
  }

  legOf(from: SipPeer): ProxyLeg | undefined {
    const pool = this.endpoint.poolFor(from);
    return pool === undefined ? undefined : this.endpoint.legAddress(pool, from.socket, from.addr);
  }

  isLocal(uri: SipUri): boolean {
    if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return false;
    const host = uri.host.toLowerCase();
    const secure = uri.scheme === 'sips' || uri.params.get('transport')?.toLowerCase() === 'tls';
    const port = uri.port ?? (secure ? 5061 : 5060);
    for (const a of this.aliases) if (a.host === host && (a.port === undefined || a.port === port)) return true;
    return this.endpoint.isLocalAddress(host, port);
  }

  flowDestination(flow: string): SipDestination | undefined {
    for (const pool of this.endpoint.pools) {
      const peer = pool.peerOf(flow);
      if (peer !== undefined) return { addr: peer.addr, port: peer.port, family: peer.family, proto: peer.proto, flow };
    }
    return undefined;
  }

  /** RFC 3263: every target of the next hop in order (NAPTR, SRV by priority and weight, all addresses). */
  resolve(uri: SipUri): Promise<SipDestination[]> {
    // An IP address needs no DNS: no cache look-up, no async resolver (every in-dialog request of a call).
    let literal;
    try {
      literal = resolveLiteral(uri, 'udp');
    } catch (err) {
      return Promise.reject(err); // no host (tel:...): the branch answers as for any resolution failure
    }
    if (literal !== undefined) return Promise.resolve([toDestination(literal)]);
    return resolveTargets(uri, 'udp', {}, this.dns).then((list) => list.map(toDestination));
  }
}

/** A resolved target as the transaction layer addresses it. */
function toDestination(t: ResolvedTarget): SipDestination {
  return { addr: t.addr, port: t.port, family: t.family, proto: t.proto, servername: t.servername };
}
