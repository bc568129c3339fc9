import { isIPv6 } from 'node:net';
import type { Family } from './types.js';

/** IPv4-mapped IPv6 prefix, as Node reports v4 peers of a dual-stack socket. */
export const MAPPED = '::ffff:';

/**
 * Canonical form of an address for comparisons and keys: brackets stripped, IPv4-mapped IPv6
 * reduced to IPv4, IPv6 and names lower-cased. No regex: this runs on every datagram.
 */
export function normalizeAddr(addr: string): string {
  let a = addr;
  if (a.charCodeAt(0) === 91 /* [ */ && a.charCodeAt(a.length - 1) === 93 /* ] */) a = a.slice(1, -1);
  if (a.indexOf(':') === -1) {
    // IPv4 (digits and dots) needs nothing; a name is lower-cased.
    return isIPv4(a) ? a : a.toLowerCase();
  }
  a = a.toLowerCase();
  if (a.startsWith(MAPPED) && isIPv4(a.slice(MAPPED.length))) return a.slice(MAPPED.length);
  return a;
}

/**
 * Dotted-quad IPv4 literal exactly as Node's `net.isIPv4` has it (the resolver uses `net.isIP`: one
 * definition of an address), without its regex, since this runs on every datagram: four decimal
 * octets 0..255, no leading zero (`010.0.0.1` and `1.2.3.04` are not addresses).
 */
export function isIPv4(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let dots = 0;
  let digits = 0;
  let value = 0;
  let first = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return false;
      dots++;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 0) first = c;
      else if (first === 48) return false; // a leading zero
      value = value * 10 + c - 48;
      if (++digits > 3 || value > 255) return false;
    } else return false;
  }
  return dots === 3 && digits > 0;
}

/** Family of an IP literal; undefined for a host name (or anything that is not an address to Node). */
export function familyOf(addr: string): Family | undefined {
  if (addr.indexOf(':') !== -1) return isIPv6(addr) ? 6 : undefined;
  return isIPv4(addr) ? 4 : undefined;
}

/** True for an IP literal (either family), false for a host name. */
export function isIpLiteral(addr: string): boolean {
  return familyOf(addr) !== undefined;
}

/** A port a peer can be reached on: an integer 1..65535. */
export function isPort(port: unknown): port is number {
  return Number.isInteger(port) && (port as number) > 0 && (port as number) <= 65535;
}

/** Map key of a peer: normalised address and port. */
export function peerKey(addr: string, port: number): string {
  return addr + '|' + port;
}

/** Node's 'IPv4' / 'IPv6' (or 4 / 6 in some versions) as a Family. */
export function toFamily(f: string | number | undefined, addr: string): Family {
  if (f === 'IPv6' || f === 6) return 6;
  if (f === 'IPv4' || f === 4) return 4;
  return addr.indexOf(':') !== -1 ? 6 : 4;
}

/** The wildcard addresses: binding to them says nothing about the source address to use. */
export function isWildcard(addr: string): boolean {
  return addr === '0.0.0.0' || addr === '::' || addr === '' || addr === '::0';
}

/**
 * The key that stands for one host in per-source limits: an IPv4 address as it is, an IPv6
 * address by its /64 prefix (one subscriber gets a whole /64 and picks addresses from it at will,
 * so counting per address would let one host multiply its allowance by 2^64).
 */
export function sourceKey(addr: string): string {
  const a = normalizeAddr(addr);
  if (a.indexOf(':') === -1) return a;
  const zone = a.indexOf('%');
  const bare = zone === -1 ? a : a.slice(0, zone);
  const gap = bare.indexOf('::');
  let groups: string[];
  if (gap === -1) groups = bare.split(':');
  else {
    const head = gap === 0 ? [] : bare.slice(0, gap).split(':');
    const tail = gap + 2 >= bare.length ? [] : bare.slice(gap + 2).split(':');
    // An embedded IPv4 tail (::ffff:1.2.3.4 is handled above; others) counts as two groups.
    const tailGroups = tail.length > 0 && tail[tail.length - 1]!.indexOf('.') !== -1 ? tail.length + 1 : tail.length;
    groups = [...head, ...new Array<string>(Math.max(0, 8 - head.length - tailGroups)).fill('0'), ...tail];
  }
  const prefix = groups.slice(0, 4).map((g) => (g === '' ? '0' : g.replace(/^0+(?=.)/, '')));
  while (prefix.length < 4) prefix.push('0');
  return `${prefix.join(':')}::/64`;
}
