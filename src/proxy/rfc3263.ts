import { isIP } from 'node:net';
import type { SipUri } from '../message/index.js';
import type { SipTransportProto } from '../transaction/index.js';
import { systemDns, type SipAddressRecord, type SipDnsResolver, type SipNaptrRecord, type SipSrvRecord } from './dns-resolver.js';

/**
 * The transports a resolution yields. DNS picks between UDP, TCP and TLS only (there are no
 * WebSocket services we follow); `ws`/`wss` come only from the caller (`;transport=ws`, the
 * transport override, the default transport) and resolve to the host's addresses (RFC 7118).
 */
export type ResolvedTransport = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface ResolvedTarget {
  addr: string;
  port: number;
  family: 4 | 6;
  proto: ResolvedTransport;
  /**
   * Host name to verify a TLS certificate against (and send as SNI), when the URI named one: the
   * domain that was resolved, also when an SRV record led elsewhere (RFC 5922 §4).
   */
  servername?: string;
}

export interface ResolveOverrides {
  host?: string;
  port?: number;
  transport?: SipTransportProto;
}

/** The most targets one resolution yields (a domain publishing more gets its first ones tried). */
export const MAX_TARGETS = 32;

const srvPrefix = (p: ResolvedTransport): string => (p === 'tls' ? '_sips._tcp.' : p === 'tcp' ? '_sip._tcp.' : '_sip._udp.');
const defaultPort = (p: ResolvedTransport): number => (p === 'tls' ? 5061 : p === 'wss' ? 443 : p === 'ws' ? 80 : 5060);

/**
 * Every place to send a request for `uri`, in the order to try them (RFC 3263 §4):
 *
 * - an IP literal (or `maddr`): that address, no DNS; default port 5060 (5061 TLS).
 * - a name with an explicit port: its A/AAAA addresses (§4.2).
 * - transport: the override, else the URI's `transport` parameter, else TLS for `sips:`; else NAPTR
 *   (when the resolver does them): the records with flag `s` and a service we speak (`SIP+D2U`,
 *   `SIP+D2T`, `SIPS+D2T`; a `sips:` URI only `SIPS+D2T`), by order then preference, each followed
 *   through its SRV name. No usable NAPTR: the first transport of the client's order
 *   (`defaultTransport`, then UDP, TCP; `sips:` TLS) that has SRV records (§4.1).
 * - SRV records by priority, then weighted at random (RFC 2782), each target with all its addresses
 *   (IPv4 and IPv6); no SRV records: the host's own addresses on the default port.
 *
 * Rejects when nothing resolves (with the address look-up's error).
 */
export async function resolveTargets(
  uri: SipUri,
  defaultTransport: SipTransportProto,
  o: ResolveOverrides = {},
  resolver: SipDnsResolver = systemDns,
): Promise<ResolvedTarget[]> {
  const literal = resolveLiteral(uri, defaultTransport, o);
  if (literal !== undefined) return [literal];
  const forced = transportOf(uri, o.transport);
  const host = (o.host ?? (uri.params.get('maddr') || uri.host))!; // resolveLiteral threw if there is none
  const explicitPort = o.port ?? uri.port;
  const fallback = forced ?? asResolved(defaultTransport);
  if (explicitPort !== undefined) return addressTargets(host, explicitPort, fallback, host, resolver);
  if (fallback === 'ws' || fallback === 'wss') return addressTargets(host, defaultPort(fallback), fallback, host, resolver);

  const secure = uri.scheme === 'sips';
  let services: { proto: ResolvedTransport; name: string }[] = [];
  if (forced === undefined && resolver.resolveNaptr !== undefined) services = naptrServices(await orNone(() => resolver.resolveNaptr!(host)), secure);
  let lists: SipSrvRecord[][];
  if (services.length > 0) {
    lists = await Promise.all(services.map((s) => srv(resolver, s.name)));
  } else {
    // §4.1 without NAPTR: the first transport (in our order) with SRV records; one query at a time.
    const order: ResolvedTransport[] = forced !== undefined ? [forced] : [...new Set<ResolvedTransport>([fallback, 'udp', 'tcp'])];
    lists = [];
    for (const p of order) {
      const records = await srv(resolver, srvPrefix(p) + host);
      if (records.length === 0) continue;
      services = [{ proto: p, name: srvPrefix(p) + host }];
      lists = [records];
      break;
    }
  }
  const out: ResolvedTarget[] = [];
  for (let i = 0; i < services.length && out.length < MAX_TARGETS; i++) {
    const ordered = orderSrv(lists[i]!);
    // The addresses of every target at once (the cache makes repeats cheap); failed names are skipped.
    const addrs = await Promise.all(ordered.map((r) => addressesOf(r.name, resolver).catch(() => [] as SipAddressRecord[])));
    for (let j = 0; j < ordered.length; j++) {
      // The certificate must name the SIP domain, not the SRV target (RFC 5922 §4): an SRV answer
      // is not authenticated, so trusting its target would let DNS pick the identity.
      for (const a of addrs[j]!) if (out.length < MAX_TARGETS) out.push(target(a, ordered[j]!.port, services[i]!.proto, host));
    }
  }
  if (out.length > 0) return out;
  // No SRV (or no SRV target resolved): A/AAAA of the host, over the transport SRV/NAPTR chose if any.
  const p = services[0]?.proto ?? fallback;
  return addressTargets(host, defaultPort(p), p, host, resolver);
}

/** The first target of resolveTargets (what to try first). */
export async function resolveTarget(
  uri: SipUri,
  defaultTransport: SipTransportProto,
  o: ResolveOverrides = {},
  resolver: SipDnsResolver = systemDns,
): Promise<ResolvedTarget> {
  return (await resolveTargets(uri, defaultTransport, o, resolver))[0]!;
}

/**
 * The synchronous part of resolveTargets: the target when the host is an IP literal (no DNS
 * needed), undefined when it is a name. Throws for what resolveTargets rejects (bad transport, no host).
 */
export function resolveLiteral(uri: SipUri, defaultTransport: SipTransportProto, o: ResolveOverrides = {}): ResolvedTarget | undefined {
  const proto = transportOf(uri, o.transport);
  const host = o.host ?? (uri.params.get('maddr') || uri.host);
  if (!host) throw new Error(`cannot route to ${uri.scheme}: URI without a host`);
  const fam = isIP(host);
  if (fam === 0) return undefined;
  const p = proto ?? asResolved(defaultTransport);
  return { addr: host, port: o.port ?? uri.port ?? defaultPort(p), family: fam as 4 | 6, proto: p };
}

/** NAPTR records we can follow (RFC 3263 §4.1), in order: terminal (`s`) SRV pointers for services we speak. */
export function naptrServices(records: readonly SipNaptrRecord[], secure: boolean): { proto: ResolvedTransport; name: string }[] {
  const usable: { rec: SipNaptrRecord; proto: ResolvedTransport }[] = [];
  for (const rec of records) {
    if (rec.flags.toLowerCase() !== 's' || rec.replacement === '' || rec.replacement === '.') continue;
    const svc = rec.service.toUpperCase();
    const proto: ResolvedTransport | undefined = svc === 'SIPS+D2T' ? 'tls' : secure ? undefined : svc === 'SIP+D2T' ? 'tcp' : svc === 'SIP+D2U' ? 'udp' : undefined;
    if (proto !== undefined) usable.push({ rec, proto });
  }
  usable.sort((a, b) => a.rec.order - b.rec.order || a.rec.preference - b.rec.preference);
  const seen = new Set<string>();
  const out: { proto: ResolvedTransport; name: string }[] = [];
  for (const u of usable) {
    const key = u.proto + ' ' + u.rec.replacement.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ proto: u.proto, name: u.rec.replacement });
  }
  return out;
}

/** The SRV records of `name` that name a service ("." means none, RFC 2782); none on any error. */
async function srv(resolver: SipDnsResolver, name: string): Promise<SipSrvRecord[]> {
  return (await orNone(() => resolver.resolveSrv(name))).filter((r) => r.name !== '' && r.name !== '.');
}

/** What an (injected) resolver answers, or none when it fails in any way (rejects, throws, answers no list). */
async function orNone<T>(ask: () => Promise<T[]>): Promise<T[]> {
  try {
    const r = await ask();
    return Array.isArray(r) ? r : [];
  } catch {
    return [];
  }
}

/** Every address of `host` (an IP literal as itself): the resolver's full list, else its one lookup. */
async function addressesOf(host: string, resolver: SipDnsResolver): Promise<SipAddressRecord[]> {
  const fam = isIP(host);
  if (fam !== 0) return [{ address: host, family: fam }];
  if (resolver.resolveAddresses !== undefined) return resolver.resolveAddresses(host);
  return [await resolver.lookup(host)];
}

async function addressTargets(host: string, port: number, proto: ResolvedTransport, servername: string, resolver: SipDnsResolver): Promise<ResolvedTarget[]> {
  const all = await addressesOf(host, resolver);
  if (all.length === 0) throw Object.assign(new Error(`no address for ${host}`), { code: 'ENODATA' });
  return all.slice(0, MAX_TARGETS).map((a) => target(a, port, proto, servername));
}

function target(a: SipAddressRecord, port: number, proto: ResolvedTransport, servername: string): ResolvedTarget {
  return { addr: a.address, port, family: a.family === 6 ? 6 : 4, proto, servername };
}

/** A transport name as one DNS resolution can pick (anything else: UDP). */
function asResolved(t: SipTransportProto | string): ResolvedTransport {
  return t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss' ? t : 'udp';
}

/** The transport the URI (or the override) asks for, if any. `sips:` means TLS, with `;transport=tcp` too (TLS over TCP). */
function transportOf(uri: SipUri, override: SipTransportProto | undefined): ResolvedTransport | undefined {
  if (override !== undefined) return asResolved(override);
  const param = uri.params.get('transport')?.toLowerCase();
  if (uri.scheme === 'sips') {
    if (param === 'wss') return 'wss';
    if (param !== undefined && param !== 'tcp' && param !== 'tls') throw new Error(`a sips: URI cannot be reached over ${param.toUpperCase()} (RFC 3261 §26.2.2)`);
    return 'tls';
  }
  if (param === undefined || param === '') return undefined;
  if (param !== 'udp' && param !== 'tcp' && param !== 'tls' && param !== 'ws' && param !== 'wss') throw new Error(`unsupported transport ${param}`);
  return param;
}

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
