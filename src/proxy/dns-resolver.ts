import { promises as dns } from 'node:dns';
import { parseServer, queryRecords, TYPE_NAPTR, TYPE_SRV, type WireServer } from './dns-wire.js';

export type { SipSrvRecord, SipNaptrRecord, SipAddressRecord } from './dns-records.js';
import type { SipAddressRecord, SipNaptrRecord, SipSrvRecord } from './dns-records.js';

/**
 * The DNS look-ups RFC 3263 resolution makes; `node:dns` by default. Inject another one (SipClient
 * option `dns`) for a custom resolver, a cache of your own, or tests. Only `resolveSrv` and `lookup`
 * are required (the interface before NAPTR): without `resolveNaptr` no NAPTR query is made, without
 * `resolveAddresses` a host yields the one address `lookup` gives.
 */
export interface SipDnsResolver {
  /** SRV records of `name` (e.g. `_sip._udp.example.com`); reject or return [] when there are none. */
  resolveSrv(name: string): Promise<SipSrvRecord[]>;
  /** One address of `host` (A or AAAA), like `dns.promises.lookup(host)`. */
  lookup(host: string): Promise<{ address: string; family: number }>;
  /** NAPTR records of a domain (RFC 3263 §4.1); reject or return [] when there are none. */
  resolveNaptr?(name: string): Promise<SipNaptrRecord[]>;
  /** Every address of `host`, A and AAAA, with their TTLs; reject when there is none. */
  resolveAddresses?(host: string): Promise<SipAddressRecord[]>;
}

export interface DnsResolverOptions {
  /** DNS servers to ask (`'192.0.2.53'`, `'127.0.0.1:5353'`, `'[::1]:53'`); default the system's (/etc/resolv.conf). */
  servers?: readonly string[];
  /** Per-try timeout in ms (default 2000) and tries per server (default 2). */
  timeout?: number;
  tries?: number;
}

/** The codes node:dns uses for "the name has no such records" (as opposed to a server failure). */
export const NO_DATA_CODES: ReadonlySet<string> = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

/** Errors that are DNS's answer (not a failure of our own client): not retried with node:dns. */
const ANSWERS = new Set(['ENOTFOUND', 'ENODATA', 'ETIMEOUT', 'ESERVFAIL', 'EREFUSED', 'EBADNAME']);

/**
 * A resolver on a node:dns `Resolver` (its own servers, e.g. a test's dnsmasq). SRV and NAPTR are
 * asked by a small client of our own (dns-wire.ts), because c-ares does not report their TTLs; if
 * that client fails (not DNS saying no), node:dns asks instead. A/AAAA come from node:dns with TTLs.
 * A host DNS does not know (`/etc/hosts`) is looked up with getaddrinfo; `localhost` is loopback
 * without asking (RFC 6761).
 */
export function createDnsResolver(o: DnsResolverOptions = {}): SipDnsResolver {
  const timeout = o.timeout ?? 2000;
  const tries = o.tries ?? 2;
  const r = new dns.Resolver({ timeout, tries });
  if (o.servers !== undefined && o.servers.length > 0) r.setServers([...o.servers]);
  let servers: WireServer[] | undefined;
  const records = async <T>(name: string, type: number, fallback: () => Promise<T[]>): Promise<T[]> => {
    servers ??= r.getServers().flatMap((s) => parseServer(s) ?? []);
    if (servers.length === 0) return fallback();
    try {
      return (await queryRecords(servers, name, type, { timeout, tries })) as T[];
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && ANSWERS.has(code)) throw err;
      return fallback();
    }
  };
  const resolveAddresses = async (host: string): Promise<SipAddressRecord[]> => {
    if (host.toLowerCase() === 'localhost') return [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }];
    const [a, aaaa] = await Promise.allSettled([r.resolve4(host, { ttl: true }), r.resolve6(host, { ttl: true })]);
    const out: SipAddressRecord[] = [];
    if (a.status === 'fulfilled') for (const x of a.value) out.push({ address: x.address, family: 4, ttl: x.ttl });
    if (aaaa.status === 'fulfilled') for (const x of aaaa.value) out.push({ address: x.address, family: 6, ttl: x.ttl });
    if (out.length > 0) return out;
    try {
      return (await dns.lookup(host, { all: true })).map((x) => ({ address: x.address, family: x.family }));
    } catch {
      throw a.status === 'rejected' ? a.reason : new Error(`no address for ${host}`);
    }
  };
  return {
    resolveSrv: (name) => records<SipSrvRecord>(name, TYPE_SRV, () => r.resolveSrv(name)),
    resolveNaptr: (name) => records<SipNaptrRecord>(name, TYPE_NAPTR, () => r.resolveNaptr(name)),
    resolveAddresses,
    lookup: async (host) => {
      const all = await resolveAddresses(host);
      return { address: all[0]!.address, family: all[0]!.family };
    },
  };
}

let system: SipDnsResolver | undefined;
/** Made on first use (no resolver is set up by importing the package). */
const sys = (): SipDnsResolver => (system ??= createDnsResolver());

/** node:dns with the system's servers, no cache (SipClient puts a DnsCache in front of its own). */
export const systemDns: SipDnsResolver = {
  resolveSrv: (name) => sys().resolveSrv(name),
  lookup: (host) => sys().lookup(host),
  resolveNaptr: (name) => sys().resolveNaptr!(name),
  resolveAddresses: (host) => sys().resolveAddresses!(host),
};
