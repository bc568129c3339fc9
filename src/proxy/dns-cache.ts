import { NO_DATA_CODES, type SipAddressRecord, type SipDnsResolver, type SipNaptrRecord, type SipSrvRecord } from './dns-resolver.js';

export interface DnsCacheOptions {
  /** Most answers kept (oldest dropped first). Default 2000. */
  maxEntries?: number;
  /** Seconds an answer is kept when the resolver gives no TTL (an injected resolver's, or node:dns's SRV/NAPTR). Default 60. */
  defaultTtl?: number;
  /** Upper bound of any TTL, seconds. Default 3600. */
  maxTtl?: number;
  /** Longest a "no such name / no such record" answer is kept, seconds (less when the zone's SOA says so). Default 30; 0: not kept. */
  negativeTtl?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

interface Entry {
  /** ms; the answer (or refusal) is used until then. */
  until: number;
  value?: unknown;
  error?: unknown;
  /** The query in flight: callers that ask meanwhile share it. */
  pending?: Promise<unknown>;
}

/**
 * A DNS answer cache in front of a SipDnsResolver: each answer is kept for its TTL (the lowest TTL
 * of its records; `defaultTtl` when the resolver does not say, capped by `maxTtl`; TTL 0 is not
 * kept), "no such name/record" answers for `negativeTtl`, server failures not at all. Concurrent
 * questions share one query. Bounded: at most `maxEntries`, the oldest dropped first.
 */
export class DnsCache implements SipDnsResolver {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly defaultTtl: number;
  private readonly maxTtl: number;
  private readonly negativeTtl: number;
  private readonly now: () => number;
  /** Queries that reached the resolver below (not answered from the cache). */
  misses = 0;
  hits = 0;

  constructor(
    private readonly inner: SipDnsResolver,
    o: DnsCacheOptions = {},
  ) {
    this.maxEntries = Math.max(1, o.maxEntries ?? 2000);
    this.defaultTtl = o.defaultTtl ?? 60;
    this.maxTtl = o.maxTtl ?? 3600;
    this.negativeTtl = o.negativeTtl ?? 30;
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  resolveSrv(name: string): Promise<SipSrvRecord[]> {
    return this.cached('SRV ' + name.toLowerCase(), () => this.inner.resolveSrv(name));
  }

  resolveNaptr(name: string): Promise<SipNaptrRecord[]> {
    const inner = this.inner;
    if (inner.resolveNaptr === undefined) return Promise.resolve([]);
    return this.cached('NAPTR ' + name.toLowerCase(), () => inner.resolveNaptr!(name));
  }

  resolveAddresses(host: string): Promise<SipAddressRecord[]> {
    const inner = this.inner;
    return this.cached<SipAddressRecord[]>('ADDR ' + host.toLowerCase(), () =>
      inner.resolveAddresses !== undefined ? inner.resolveAddresses(host) : inner.lookup(host).then((a): SipAddressRecord[] => [a]),
    );
  }

  async lookup(host: string): Promise<{ address: string; family: number }> {
    const all = await this.resolveAddresses(host);
    if (all.length === 0) throw Object.assign(new Error(`no address for ${host}`), { code: 'ENODATA' });
    return { address: all[0]!.address, family: all[0]!.family };
  }

  private cached<T extends { ttl?: number }[]>(key: string, ask: () => Promise<T>): Promise<T> {
    const now = this.now();
    const e = this.entries.get(key);
    if (e !== undefined) {
      if (e.pending !== undefined) {
        this.hits++;
        return e.pending as Promise<T>;
      }
      if (e.until > now) {
        this.hits++;
        return e.error !== undefined ? Promise.reject(e.error) : Promise.resolve(e.value as T);
      }
      this.entries.delete(key);
    }
    this.misses++;
    const entry: Entry = { until: 0 };
    let asked: Promise<T>;
    try {
      asked = ask();
    } catch (err) {
      asked = Promise.reject(err); // a resolver that throws instead of rejecting
    }
    const pending = asked.then(
      (value) => {
        entry.pending = undefined;
        const ttl = this.ttlOf(value);
        if (ttl > 0 && this.entries.get(key) === entry) {
          entry.value = value;
          entry.until = this.now() + ttl * 1000;
        } else if (this.entries.get(key) === entry) this.entries.delete(key);
        return value;
      },
      (err: unknown) => {
        entry.pending = undefined;
        const code = (err as { code?: unknown } | null)?.code;
        if (this.negativeTtl > 0 && typeof code === 'string' && NO_DATA_CODES.has(code) && this.entries.get(key) === entry) {
          entry.error = err;
          // RFC 2308: as long as the zone's SOA says, at most negativeTtl.
          const said = (err as { ttl?: unknown }).ttl;
          entry.until = this.now() + Math.min(typeof said === 'number' ? said : this.negativeTtl, this.negativeTtl, this.maxTtl) * 1000;
        } else if (this.entries.get(key) === entry) this.entries.delete(key);
        throw err;
      },
    );
    entry.pending = pending;
    this.store(key, entry);
    return pending;
  }

  /** Seconds to keep an answer: its lowest record TTL, else the default; capped. An empty answer counts as "no data". */
  private ttlOf(records: { ttl?: number }[]): number {
    if (records.length === 0) return Math.min(this.negativeTtl, this.maxTtl);
    let ttl = Infinity;
    for (const r of records) if (typeof r.ttl === 'number' && r.ttl < ttl) ttl = r.ttl;
    if (ttl === Infinity) ttl = this.defaultTtl;
    return Math.min(Math.max(0, ttl), this.maxTtl);
  }

  private store(key: string, entry: Entry): void {
    const map = this.entries;
    // The oldest out (Map keeps insertion order); expired ones go when next asked for.
    while (map.size >= this.maxEntries) map.delete(map.keys().next().value!);
    map.set(key, entry);
  }
}
