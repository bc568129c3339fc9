import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import type { SipUri } from '../message/index.js';

export type SipTransportName = 'udp' | 'tcp' | 'tls';

export interface ResolvedTarget {
  addr: string;
  port: number;
  family: 4 | 6;
  proto: SipTransportName;
  /** Host name to verify a TLS certificate against (and send as SNI), when the URI named one. */
  servername?: string;
}

export interface ResolveOverrides {
  host?: string;
  port?: number;
  transport?: SipTransportName;
}

/**
 * Where to send a request for `uri`, RFC 3263 as far as A/AAAA and SRV go: the transport from the
 * override, the URI's `transport` parameter, `sips:` (TLS) or the default; an IP literal or a
 * name with an explicit port is used directly (A/AAAA); a name without a port is looked up as
 * `_sip._udp` / `_sip._tcp` / `_sips._tcp` SRV first, by priority then weight, then A/AAAA on the
 * default port (5060, 5061 for TLS). NAPTR is not consulted.
 */
export async function resolveTarget(uri: SipUri, defaultTransport: SipTransportName, o: ResolveOverrides = {}): Promise<ResolvedTarget> {
  const param = uri.params.get('transport');
  const proto: SipTransportName =
    o.transport ?? (param ? (param.toLowerCase() as SipTransportName) : uri.scheme === 'sips' ? 'tls' : defaultTransport);
  if (proto !== 'udp' && proto !== 'tcp' && proto !== 'tls') throw new Error(`unsupported transport ${String(param)}`);
  const host = o.host ?? (uri.params.get('maddr') || uri.host);
  if (!host) throw new Error(`cannot route to ${uri.scheme}: URI without a host`);
  const explicitPort = o.port ?? uri.port;
  const defaultPort = proto === 'tls' ? 5061 : 5060;
  const fam = isIP(host);
  if (fam !== 0) return { addr: host, port: explicitPort ?? defaultPort, family: fam as 4 | 6, proto };
  if (explicitPort === undefined) {
    const service = proto === 'tls' ? '_sips._tcp.' : proto === 'tcp' ? '_sip._tcp.' : '_sip._udp.';
    const records = await dns.resolveSrv(service + host).catch(() => []);
    for (const r of orderSrv(records)) {
      try {
        const a = await dns.lookup(r.name);
        return { addr: a.address, port: r.port, family: a.family as 4 | 6, proto, servername: r.name };
      } catch {
        // next target
      }
    }
  }
  const a = await dns.lookup(host);
  return { addr: a.address, port: explicitPort ?? defaultPort, family: a.family as 4 | 6, proto, servername: host };
}

/** RFC 2782 order: lowest priority first; within a priority, weighted random. */
function orderSrv<T extends { priority: number; weight: number }>(records: T[]): T[] {
  const byPrio = new Map<number, T[]>();
  for (const r of records) byPrio.set(r.priority, [...(byPrio.get(r.priority) ?? []), r]);
  const out: T[] = [];
  for (const prio of [...byPrio.keys()].sort((a, b) => a - b)) {
    const group = byPrio.get(prio)!;
    while (group.length > 0) {
      const total = group.reduce((s, r) => s + r.weight, 0);
      let pick = Math.random() * total;
      let i = 0;
      while (i < group.length - 1 && pick >= group[i]!.weight) pick -= group[i++]!.weight;
      out.push(group.splice(i, 1)[0]!);
    }
  }
  return out;
}
