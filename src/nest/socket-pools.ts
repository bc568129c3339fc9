import type { SocketPool } from '../transport/index.js';

/**
 * Which pool a socket (a UDP master socket, or a TCP/TLS/WebSocket connection's) belongs to, learnt
 * as messages arrive. The last socket looked up is remembered: a request's messages name one socket
 * four times in a row (receipt, transaction open, response, close), and a WeakMap lookup is a hash
 * probe each time.
 */
export class SocketPools {
  private readonly bySocket = new WeakMap<object, SocketPool>();
  private lastSocket: unknown = undefined;
  private lastPool: SocketPool | undefined = undefined;

  /** `socket` is `pool`'s (its master socket, or a connection a message came on), unless known already. */
  learn(socket: object, pool: SocketPool): void {
    if (socket === this.lastSocket) return;
    let p = this.bySocket.get(socket);
    if (p === undefined) this.bySocket.set(socket, (p = pool));
    this.lastSocket = socket;
    this.lastPool = p;
  }

  /** The pool of `socket`, if it was learnt. */
  get(socket: unknown): SocketPool | undefined {
    if (socket === this.lastSocket) return this.lastPool;
    if (typeof socket !== 'object' || socket === null) return undefined;
    const p = this.bySocket.get(socket);
    if (p !== undefined) {
      this.lastSocket = socket;
      this.lastPool = p;
    }
    return p;
  }
}
