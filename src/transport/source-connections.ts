import type { Socket } from 'node:net';
import { sourceKey } from './address.js';
import type { PoolStats } from './stats.js';

/**
 * Inbound connections per source (an IPv4 address, an IPv6 /64), so that one host (or one attacker keeping connections
 * alive with CRLF pings) cannot take every slot of MAX_CONNECTIONS: over MAX_CONNECTIONS_PER_SOURCE,
 * a new connection from it is closed at once while other sources are still served. The table holds
 * only sources with a connection open, so it is bounded by the connections themselves.
 */
export class SourceConnections {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly limit: number,
    private readonly stats: PoolStats,
  ) {}

  /** Count `socket` against its source; false (and the socket destroyed) when the source is full. */
  admit(socket: Socket): boolean {
    const addr = sourceKey(socket.remoteAddress ?? '');
    const n = this.open.get(addr) ?? 0;
    if (n >= this.limit) {
      this.stats.connectionsRejectedPerSource++;
      socket.destroy();
      return false;
    }
    this.open.set(addr, n + 1);
    socket.once('close', () => {
      const left = (this.open.get(addr) ?? 1) - 1;
      if (left <= 0) this.open.delete(addr);
      else this.open.set(addr, left);
    });
    return true;
  }

  /** Connections open from `addr` now. */
  from(addr: string): number {
    return this.open.get(sourceKey(addr)) ?? 0;
  }
}
