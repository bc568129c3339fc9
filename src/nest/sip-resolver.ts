import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import type { SipUri } from '../message/index.js';
import type { TransportName } from '../transport/index.js';

export type SipTransportName = TransportName;

export interface ResolvedTarget {
  addr: string;
  port: number;
  family: 4 | 6;
  proto: SipTransportName;
  /**
   * Host name to verify a TLS certificate against (and send as SNI), when the URI named one: the
   * domain that was resolved, also when an SRV record led elsewhere (RFC 5922 §4).
   */
  servername?: string;
}

export interface ResolveOverrides {
  host?: string;
  port?: number;
  transport?: SipTransportName;
}

/** An SRV record as `dns.promises.resolveSrv` gives it. */
export interface SipSrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/**
 * The DNS look-ups the resolver makes; `node:dns` by default. Inject another one (SipClientOptions
 * `dns`) for a custom resolver, a cache, or tests.
 */
export interface SipDnsResolver {
  /** SRV records of `name` (e.g. `_sip._udp.example.com`); reject or return [] when there are none. */
  resolveSrv(name: string): Promise<SipSrvRecord[]>;
  /** One address of `host` (A or AAAA), like `dns.promises.lookup(host)`. */
  lookup(host: string): Promise<{ address: string; family: number }>;
}

export const systemDns: SipDnsResolver = {
  resolveSrv: (name) => dns.resolveSrv(name),
  lookup: (host) => dns.lookup(host),
};

const SRV_SERVICE: Record<SipTransportName, string> = { udp: '_sip._udp.', tcp: '_sip._tcp.', tls: '_sips._tcp.', ws: '_sip._ws.', wss: '_sips._ws.' };

/**
 * Where to send a request for `uri`, RFC 3263 as far as A/AAAA and SRV go (NAPTR is not consulted):
 *
 * - transport: the override, else the URI's `transport` parameter, else TLS for `sips:`; else,
 *   for a host name without a port, the first transport in the client's order (`defaultTransport`,
 *   then UDP, TCP) that has SRV records (§4.1); else `defaultTransport`.
 * - an IP literal, or a name with an explicit port: A/AAAA only (§4.2), default port 5060 (5061 TLS).
 * - a name without a port: `_sip._udp` / `_sip._tcp` / `_sips._tcp` SRV, by priority then weighted
 *   (RFC 2782), first target that resolves; no usable SRV: A/AAAA on the default port.
 */
export async function resolveTarget(
  uri: SipUri,
  defaultTransport: SipTransportName,
  o: ResolveOverrides = {},
  resolver: SipDnsResolver = systemDns,
): Promise<ResolvedTarget> {
  const literal = resolveLiteral(uri, defaultTransport, o);
  if (literal !== undefined) return literal;
  const proto0 = transportOf(uri, o.transport);
  let proto = proto0;
  const host = (o.host ?? (uri.params.get('maddr') || uri.host))!; // resolveLiteral threw if there is none
  const explicitPort = o.port ?? uri.port;
  if (explicitPort === undefined) {
    // §4.1: no transport given and no NAPTR: the first transport (in our order) with SRV records.
    const order: SipTransportName[] = proto0 !== undefined ? [proto0] : [...new Set<SipTransportName>([defaultTransport, 'udp', 'tcp'])];
    for (const p of order) {
      const records = (await resolver.resolveSrv(SRV_SERVICE[p] + host).catch(() => [] as SipSrvRecord[])).filter((r) => r.name !== '' && r.name !== '.');
      if (records.length === 0) continue;
      for (const r of orderSrv(records)) {
        try {
          const a = await resolver.lookup(r.name);
          // The certificate must name the SIP domain, not the SRV target (RFC 5922 §4): an SRV
          // answer is not authenticated, so trusting its target would let DNS pick the identity.
          return { addr: a.address, port: r.port, family: a.family === 6 ? 6 : 4, proto: p, servername: host };
        } catch {
          // next target
        }
      }
      if (proto === undefined) proto = p; // SRV found for this transport but no target resolved: A/AAAA below, same transport
      break;
    }
  }
  const p = proto ?? defaultTransport;
  const a = await resolver.lookup(host);
  return { addr: a.address, port: explicitPort ?? defaultPort(p), family: a.family === 6 ? 6 : 4, proto: p, servername: host };
}

/**
 * The synchronous part of resolveTarget: the target when the host is an IP literal (no DNS
 * needed), undefined when it is a name. Throws for what resolveTarget rejects (bad transport, no host).
 */
export function resolveLiteral(uri: SipUri, defaultTransport: SipTransportName, o: ResolveOverrides = {}): ResolvedTarget | undefined {
  const proto = transportOf(uri, o.transport);
  const host = o.host ?? (uri.params.get('maddr') || uri.host);
  if (!host) throw new Error(`cannot route to ${uri.scheme}: URI without a host`);
  const fam = isIP(host);
  if (fam === 0) return undefined;
  const p = proto ?? defaultTransport;
  return { addr: host, port: o.port ?? uri.port ?? defaultPort(p), family: fam as 4 | 6, proto: p };
}

/** The transport the URI (or the override) asks for, if any. `sips:` means TLS, with `;transport=tcp` too (TLS over TCP). */
function transportOf(uri: SipUri, override: SipTransportName | undefined): SipTransportName | undefined {
  if (override !== undefined) return override;
  const param = uri.params.get('transport')?.toLowerCase();
  if (uri.scheme === 'sips') {
    if (param !== undefined && param !== 'tcp' && param !== 'tls') throw new Error(`a sips: URI cannot be reached over ${param.toUpperCase()} (RFC 3261 §26.2.2)`);
    return 'tls';
  }
  if (param === undefined || param === '') return undefined;
  if (param !== 'udp' && param !== 'tcp' && param !== 'tls' && param !== 'ws' && param !== 'wss') throw new Error(`unsupported transport ${param}`);
  return param;
}

const defaultPort = (p: SipTransportName): number => (p === 'tls' ? 5061 : 5060);

/** RFC 2782 order: lowest priority first; within a priority, weighted random (weight 0 rarely first). */
export function orderSrv<T extends { priority: number; weight: number }>(records: T[], random: () => number = Math.random): T[] {
  const byPrio = new Map<number, T[]>();
  for (const r of records) {
    const g = byPrio.get(r.priority);
    if (g === undefined) byPrio.set(r.priority, [r]);
    else g.push(r);
  }
  const out: T[] = [];
  for (const prio of [...byPrio.keys()].sort((a, b) => a - b)) {
    // Zero-weight records first in the list, as RFC 2782 asks, so they are picked only when their turn comes.
    const group = byPrio.get(prio)!.sort((a, b) => (a.weight === 0 ? -1 : 0) - (b.weight === 0 ? -1 : 0));
    while (group.length > 0) {
      const total = group.reduce((s, r) => s + r.weight, 0);
      const pick = Math.floor(random() * (total + 1)); // 0..total inclusive
      let sum = 0;
      let i = 0;
      for (; i < group.length - 1; i++) {
        sum += group[i]!.weight;
        if (sum >= pick) break;
      }
      out.push(group.splice(i, 1)[0]!);
    }
  }
  return out;
}
