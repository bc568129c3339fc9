import { InvalidOptionsError } from './errors.js';

/**
 * Per-pool limits, with the seed's names and defaults. Times are in seconds and may be fractional
 * (tests use tiny values).
 */
export interface PoolLimits {
  /** Largest SIP header section, bytes (seed: 2**14). */
  readonly MAX_SIP_HEADER: number;
  /** Largest SIP body, bytes (seed: 2**16). */
  readonly MAX_SIP_BODY: number;
  /** Request ids remembered per connection, to send responses back the way requests came (seed: 30). */
  readonly MAX_TIDLIST: number;
  /** Shortest idle time before a connection expires, seconds (seed: 15). */
  readonly MIN_EXPIRE: number;
  /** Longest idle time before a connection expires, seconds (seed: 120). */
  readonly MAX_EXPIRE: number;
  /** Bound on establishing an outgoing connection, TLS handshake included, seconds (seed: 10). */
  readonly CONNECT_TIMEOUT: number;
  /** Read size hint for stream sockets, bytes (seed: 2**16); used as the sockets' read high-water mark. */
  readonly TCP_READSIZE: number;
  /** Most TCP/TLS connections (inbound + outgoing) a pool keeps at once; more are refused. */
  readonly MAX_CONNECTIONS: number;
  /**
   * Most inbound TCP/TLS connections from one source address at once (so that one host cannot take
   * every connection); more from it are closed at once. Default a quarter of MAX_CONNECTIONS (1024).
   */
  readonly MAX_CONNECTIONS_PER_SOURCE: number;
  /** Most bytes queued for writing on one connection; a send beyond it fails with QueueFullError. */
  readonly MAX_QUEUED_BYTES: number;
  /**
   * SO_RCVBUF / SO_SNDBUF of a UDP socket, bytes; 0 keeps the system's default (about 208 KiB on
   * Linux, which drops datagrams in bursts of a few thousand requests: raise it for load).
   * The kernel caps them at net.core.rmem_max / wmem_max.
   */
  readonly UDP_RCVBUF: number;
  readonly UDP_SNDBUF: number;
}

export type PoolLimitsInit = Partial<PoolLimits>;

export const DEFAULT_LIMITS: PoolLimits = Object.freeze({
  MAX_SIP_HEADER: 16384,
  MAX_SIP_BODY: 65536,
  MAX_TIDLIST: 30,
  MIN_EXPIRE: 15,
  MAX_EXPIRE: 120,
  CONNECT_TIMEOUT: 10,
  TCP_READSIZE: 65536,
  MAX_CONNECTIONS: 4096,
  MAX_CONNECTIONS_PER_SOURCE: 1024,
  MAX_QUEUED_BYTES: 262144,
  UDP_RCVBUF: 0,
  UDP_SNDBUF: 0,
});

const INTEGER_KEYS = ['MAX_SIP_HEADER', 'MAX_SIP_BODY', 'MAX_TIDLIST', 'TCP_READSIZE', 'MAX_CONNECTIONS', 'MAX_CONNECTIONS_PER_SOURCE', 'MAX_QUEUED_BYTES', 'UDP_RCVBUF', 'UDP_SNDBUF'] as const;
const SECONDS_KEYS = ['MIN_EXPIRE', 'MAX_EXPIRE', 'CONNECT_TIMEOUT'] as const;

/** Defaults overridden by `init`, checked. Throws InvalidOptionsError on a bad value or unknown key. */
export function resolveLimits(init?: PoolLimitsInit): PoolLimits {
  if (init === undefined) return DEFAULT_LIMITS;
  const out: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(init)) {
    if (v === undefined) continue;
    if (!(k in DEFAULT_LIMITS)) throw new InvalidOptionsError(`unknown limit ${k}`);
    if (typeof v !== 'number' || !(v >= 0) || v === Infinity) throw new InvalidOptionsError(`limit ${k} must be a finite number >= 0`);
    out[k] = v;
  }
  // Not given: a quarter of the total, whatever the total is.
  if (init.MAX_CONNECTIONS_PER_SOURCE === undefined) out.MAX_CONNECTIONS_PER_SOURCE = Math.max(1, Math.ceil(out.MAX_CONNECTIONS! / 4));
  for (const k of INTEGER_KEYS) if (!Number.isInteger(out[k])) throw new InvalidOptionsError(`limit ${k} must be an integer`);
  for (const k of SECONDS_KEYS) if (!(out[k]! > 0)) throw new InvalidOptionsError(`limit ${k} must be > 0`);
  if (out.MAX_EXPIRE! < out.MIN_EXPIRE!) throw new InvalidOptionsError('MAX_EXPIRE must be >= MIN_EXPIRE');
  if (out.MAX_CONNECTIONS! < 1 || out.TCP_READSIZE! < 1 || out.MAX_CONNECTIONS_PER_SOURCE! < 1) {
    throw new InvalidOptionsError('MAX_CONNECTIONS, MAX_CONNECTIONS_PER_SOURCE and TCP_READSIZE must be >= 1');
  }
  return Object.freeze(out) as unknown as PoolLimits;
}

/**
 * Idle time after which a connection expires, in ms: the seed's
 * MIN_EXPIRE + (MAX_EXPIRE - MIN_EXPIRE) / (N - 1), N = sockets of the pool including the master.
 */
export function expireAfterMs(limits: PoolLimits, sockets: number): number {
  const others = sockets > 1 ? sockets - 1 : 1;
  return (limits.MIN_EXPIRE + (limits.MAX_EXPIRE - limits.MIN_EXPIRE) / others) * 1000;
}
