// The records DNS look-ups give, shared by the resolver interface and the wire client.

/** An SRV record as `dns.promises.resolveSrv` gives it; `ttl` (seconds) when the resolver knows it. */
export interface SipSrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
  ttl?: number;
}

/** A NAPTR record as `dns.promises.resolveNaptr` gives it; `ttl` (seconds) when the resolver knows it. */
export interface SipNaptrRecord {
  order: number;
  preference: number;
  flags: string;
  service: string;
  regexp: string;
  replacement: string;
  ttl?: number;
}

/** One address of a host (A or AAAA); `ttl` in seconds when known. */
export interface SipAddressRecord {
  address: string;
  family: number;
  ttl?: number;
}
