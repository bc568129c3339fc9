import type { SipUri } from '../message/index.js';
import type { ProxyHost, ProxyLeg } from '../proxy/index.js';
import type { SipDestination, SipPeer, TransactionLayer } from '../transaction/index.js';
import type { SipEndpoint } from './sip-endpoint.js';
import { resolveTarget, systemDns, type SipDnsResolver } from './sip-resolver.js';

/** Proxy settings of a SipServer. */
export interface SipProxyOptions {
  /**
   * Other names of this server (host or host:port) that Route headers and Request-URIs may use
   * for it, e.g. its DNS name; its legs' own addresses are always recognised.
   */
  aliases?: readonly string[];
  /** DNS look-ups for next hops (RFC 3263); default node:dns. */
  dns?: SipDnsResolver;
  /** Most branches one request forks into (targets past it are left out). Default 16. */
  maxForks?: number;
}

/** What the proxy needs of a SipServer's endpoint: its legs, its names, next-hop resolution. */
export class EndpointProxyHost implements ProxyHost {
  private readonly aliases: { host: string; port: number | undefined }[];

  constructor(
    private readonly endpoint: SipEndpoint,
    private readonly opts: SipProxyOptions = {},
  ) {
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

  async resolve(uri: SipUri): Promise<SipDestination[]> {
    const t = await resolveTarget(uri, 'udp', {}, this.opts.dns ?? systemDns);
    return [{ addr: t.addr, port: t.port, family: t.family, proto: t.proto, servername: t.servername }];
  }
}
