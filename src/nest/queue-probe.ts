import * as dgram from 'node:dgram';
import type { AdmissionGate } from '../transaction/index.js';
import type { SocketPool } from '../transport/index.js';

const PING = Buffer.from('\r\n\r\n');
/** A ping not back after this long (ms) was dropped by the kernel: sent again. */
const LOST_MS = 500;
/** Ping period (ms) while the gate sheds or the wait is over half its bound: the gate reacts within it. */
const FAST_MS = 5;

/**
 * Measures how long a datagram waits in a UDP leg's socket queue: every `interval` ms, one CRLF
 * keep-alive from a socket of its own to the leg, timed until the pool reports it read. A flood
 * that the server cannot keep up with shows here first (the event loop itself stays on time: libuv
 * reads a bounded batch per turn). The admission gate sheds new requests while it is too long.
 * While it sheds (or the wait nears its bound) the probe measures every 5 ms: at a 5 ms bound,
 * one measurement per 20 ms let a flood's queue grow for 20 ms before the gate knew.
 */
export class QueueProbe {
  private socket: dgram.Socket | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sentAt = 0;
  private inFlight = false;
  private host = '';
  private port = 0;

  constructor(
    private readonly pool: SocketPool,
    private readonly gate: AdmissionGate,
    private readonly interval = 20,
  ) {}

  async start(): Promise<void> {
    const local = this.pool.local;
    const v6 = local.family === 6;
    this.host = local.addr === '0.0.0.0' || local.addr === '::' ? (v6 ? '::1' : '127.0.0.1') : local.addr;
    const s = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    s.on('error', () => undefined);
    await new Promise<void>((resolve) => s.bind(0, this.host, () => resolve()));
    s.unref();
    this.socket = s;
    this.port = s.address().port;
    this.pool.on('keepAlive', this.onKeepAlive);
    this.schedule();
  }

  private schedule(): void {
    const g = this.gate;
    const fast = g.admitShare < 1 || g.queueDelay > g.maxQueueDelay / 2;
    this.timer = setTimeout(this.tick, fast ? Math.min(FAST_MS, this.interval) : this.interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pool.off('keepAlive', this.onKeepAlive);
    try {
      this.socket?.close();
    } catch {
      // closed already
    }
    this.socket = undefined;
    this.gate.queueDelay = 0;
    this.gate.admitShare = 1;
  }

  private readonly tick = (): void => {
    if (this.socket === undefined) return; // stopped
    this.schedule();
    const now = performance.now();
    if (this.inFlight) {
      // Not back yet: the queue's wait is at least this long.
      const waited = now - this.sentAt;
      if (waited > this.gate.maxQueueDelay) this.gate.noteQueueDelay(waited);
      // A full socket buffer drops datagrams, the ping too: after LOST_MS it is taken as lost and
      // sent again, else the gate would shed on a wait that keeps growing long after the flood.
      if (waited < LOST_MS) return;
    }
    this.inFlight = true;
    this.sentAt = now;
    this.socket.send(PING, this.pool.local.port, this.host);
  };

  private readonly onKeepAlive = (addr: string, port: number): void => {
    if (port !== this.port || addr !== this.host || !this.inFlight) return;
    this.inFlight = false;
    this.gate.noteQueueDelay(performance.now() - this.sentAt);
  };
}
