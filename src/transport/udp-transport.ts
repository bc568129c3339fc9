import type { RemoteInfo, Socket as DgramSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { parseMessage, responseForParseError, SipParseError, type ParseLimits, type SipMessage } from '../message/index.js';
import type { CheckedLookup } from './checked-lookup.js';
import { familyOf, isPort, MAPPED, normalizeAddr } from './address.js';
import { InvalidDestinationError, PoolClosedError, SendFailedError } from './errors.js';
import type { PoolCore } from './pool-core.js';
import type { PoolTransport } from './pool-transport.js';
import { responseTarget } from './response-target.js';
import { SettleQueue } from './settle-queue.js';
import type { Family, Peer } from './types.js';

const noop = (): void => {};

/**
 * UDP side of a pool: one master socket sends to anyone and receives from anyone (or, connected,
 * talks to one peer). Sends settle in order through one callback (see SettleQueue).
 */
export class UdpTransport implements PoolTransport {
  private readonly sent = new SettleQueue();
  private readonly parseLimits: ParseLimits;
  private isClosed = false;
  /** The last destination address checked and its family: most sends go to the peer of the one before. */
  private lastAddr = '';
  private lastFamily: Family | undefined = undefined;

  constructor(
    private readonly core: PoolCore,
    readonly socket: DgramSocket,
    /** Family of the socket (udp4 / udp6). */
    private readonly family: Family,
    /** The master socket is connected: sends carry no address. */
    private readonly connected: boolean,
    /** The socket's lookup, told which address is already checked (none for a socket given to the pool). */
    private readonly checked?: CheckedLookup,
  ) {
    this.parseLimits = { maxHeader: core.limits.MAX_SIP_HEADER, maxBody: core.limits.MAX_SIP_BODY };
    socket.on('message', this.onMessage);
    socket.on('error', this.onError);
  }

  get server(): DgramSocket {
    return this.socket;
  }

  get connectionCount(): number {
    return 0;
  }

  /** Datagrams: no connections, no flows. */
  peerOf(): undefined {
    return undefined;
  }

  /** Datagrams: no connection to keep. */
  hold(): boolean {
    return false;
  }

  release(): void {}

  holdFlow(): boolean {
    return false;
  }

  releaseFlow(): void {}

  send(msg: SipMessage | undefined, buf: Buffer, dst: Peer | undefined): Promise<void> {
    // A response without destination goes where its Via says (received / rport / sent-by).
    if (dst === undefined && msg !== undefined && msg.isResponse()) dst = responseTarget(msg, 'udp');
    return this.sendBuf(buf, dst);
  }

  private sendBuf(buf: Buffer, dst: Peer | undefined): Promise<void> {
    if (this.isClosed) return Promise.reject(new PoolClosedError('socket pool closed'));
    const sent = this.sent;
    if (this.connected) {
      const p = sent.enqueue();
      try {
        this.socket.send(buf, this.onSent);
      } catch (err) {
        sent.rejectLast(new SendFailedError(`send failed: ${(err as Error).message}`, { cause: err }));
      }
      return p;
    }
    const forced = this.core.restriction;
    if (forced !== undefined) dst = forced;
    if (dst === undefined) return Promise.reject(new InvalidDestinationError('no destination for this datagram'));
    const port = dst.port;
    if (!isPort(port)) return Promise.reject(new InvalidDestinationError(`bad port ${port}`));
    let addr = dst.addr;
    if (typeof addr !== 'string') return Promise.reject(new InvalidDestinationError('no destination address'));
    if (addr.charCodeAt(0) === 91 /* [ */) addr = addr.slice(1, -1);
    let fam: Family | undefined;
    if (addr === this.lastAddr) fam = this.lastFamily;
    else {
      fam = familyOf(addr);
      this.lastAddr = addr;
      this.lastFamily = fam;
    }
    if (fam === undefined) return this.sendToName(buf, addr, port);
    if (fam !== this.family) {
      // A v4 peer through a dual-stack v6 socket goes as an IPv4-mapped address.
      if (fam === 4) addr = MAPPED + addr;
      else return Promise.reject(new InvalidDestinationError(`IPv6 destination ${addr} on an IPv4 socket`));
    }
    const p = sent.enqueue();
    if (this.checked !== undefined) this.checked.checked = addr;
    try {
      this.socket.send(buf, port, addr, this.onSent);
    } catch (err) {
      sent.rejectLast(new SendFailedError(`send to ${addr} port ${port} failed: ${(err as Error).message}`, { cause: err }));
    }
    return p;
  }

  /** Host names are resolved first, so that every socket.send() gets an IP and sends stay in order. */
  private async sendToName(buf: Buffer, name: string, port: number): Promise<void> {
    let ip: string;
    try {
      ({ address: ip } = await lookup(name, { family: this.family }));
    } catch (err) {
      throw new InvalidDestinationError(`cannot resolve ${name}: ${(err as Error).message}`, { cause: err });
    }
    return this.sendBuf(buf, { addr: ip, port });
  }

  private readonly onSent = (err: Error | null): void => {
    if (err) this.sent.settle(new SendFailedError(`send failed: ${err.message}`, { cause: err }));
    else {
      this.core.stats.messagesOut++;
      this.sent.settle();
    }
  };

  private readonly onMessage = (buf: Buffer, rinfo: RemoteInfo): void => {
    if (this.isClosed) return;
    const core = this.core;
    let addr = rinfo.address;
    let family = this.family;
    if (family === 6 && addr.startsWith(MAPPED)) {
      addr = normalizeAddr(addr);
      if (addr.indexOf(':') === -1) family = 4;
    }
    const port = rinfo.port;
    const r = core.restriction;
    if (r !== undefined && !this.connected && (addr !== r.addr || port !== r.port)) {
      core.stats.foreignDropped++;
      return;
    }
    if (isKeepAlive(buf)) {
      core.stats.keepAlives++;
      core.keptAlive(addr, port);
      return;
    }
    let msg;
    try {
      msg = parseMessage(buf, this.parseLimits);
    } catch (err) {
      this.malformed(err, addr, port);
      return;
    }
    core.deliver(msg, { addr, port, family, proto: 'udp', socket: this.socket });
  };

  /** A request that cannot be parsed gets 400/505/513 when it can be answered; anything else is dropped. */
  private malformed(err: unknown, addr: string, port: number): void {
    const stats = this.core.stats;
    stats.parseErrors++;
    const bytes = err instanceof SipParseError ? responseForParseError(err) : undefined;
    if (bytes === undefined) {
      stats.datagramsDropped++;
      return;
    }
    stats.errorResponses++;
    try {
      if (this.connected) this.socket.send(bytes, noop);
      else this.socket.send(bytes, port, this.family === 6 && addr.indexOf(':') === -1 ? MAPPED + addr : addr, noop);
    } catch {
      // The socket is going away; nothing to answer with.
    }
  }

  private readonly onError = (err: Error): void => {
    this.core.report(err);
  };

  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    this.isClosed = true;
    return this.flushSends().then(() => this.closeSocket());
  }

  /**
   * Datagrams handed to send() just before close() (a draining server's last responses: dgram
   * sends them on the next tick) leave before the socket closes. Bounded: 100 turns of the loop.
   */
  private async flushSends(): Promise<void> {
    for (let i = 0; i < 100 && this.sent.size > 0; i++) await new Promise<void>((r) => setImmediate(r));
  }

  private closeSocket(): Promise<void> {
    return new Promise<void>((resolve) => {
      const s = this.socket;
      const done = (): void => {
        s.off('message', this.onMessage);
        s.off('error', this.onError);
        // Sends the kernel never confirmed (none normally: close waits for nothing) still settle.
        this.sent.rejectAll(new PoolClosedError('socket pool closed'));
        resolve();
      };
      try {
        s.close(done);
      } catch {
        done();
      }
    });
  }
}

/**
 * Tiny keep-alive datagrams (CRLF / CRLFCRLF, RFC 5626 §3.5.1 style) and stray STUN binding
 * packets (first byte 0x00 / 0x01) are not SIP: ignore them without counting a parse error.
 */
function isKeepAlive(buf: Buffer): boolean {
  const n = buf.length;
  if (n === 0) return true;
  const c0 = buf[0]!;
  if (c0 < 2) return true;
  if (n > 4) return false;
  for (let i = 0; i < n; i++) {
    const c = buf[i];
    if (c !== 13 && c !== 10 && c !== 32 && c !== 0) return false;
  }
  return true;
}
