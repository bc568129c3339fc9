import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { parseMessage, StreamFramer, type SipRequest, type SipResponse } from '../../src/message/index.js';
import { SocketPool, type SocketPoolOptions } from '../../src/transport/index.js';

/** Pools created by a test file; close them in afterEach with closeAll(). */
const pools: SocketPool[] = [];
const cleanups: (() => void | Promise<void>)[] = [];

export async function createPool(opts: SocketPoolOptions): Promise<SocketPool> {
  const p = await SocketPool.create(opts);
  pools.push(p);
  return p;
}

export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

export async function closeAll(): Promise<void> {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  // Last registered first: sockets a listener accepted go before the listener.
  const fns = cleanups.splice(0).reverse();
  for (const fn of fns) await fn();
}

import { sleep, waitUntil } from '../helpers/wait.js';

export { sleep, waitUntil } from '../helpers/wait.js';

export interface RequestSpec {
  method?: string;
  branch?: string | null;
  callId?: string;
  cseq?: number;
  /** sent-by of the top Via (default host:5060). */
  sentBy?: string;
  transport?: string;
  viaParams?: string;
  body?: string;
  extraHeaders?: string;
}

let counter = 0;
export const uniq = (): string => `${process.pid}x${++counter}x${Math.floor(Math.random() * 1e9)}`;

/** A SIP request as wire text. */
export function request(spec: RequestSpec = {}): string {
  const method = spec.method ?? 'OPTIONS';
  const branch = spec.branch === undefined ? `z9hG4bK${uniq()}` : spec.branch;
  const body = spec.body ?? '';
  const via =
    `Via: SIP/2.0/${spec.transport ?? 'TCP'} ${spec.sentBy ?? 'client.invalid:5060'}` +
    (branch === null ? '' : `;branch=${branch}`) +
    (spec.viaParams ?? '');
  return (
    `${method} sip:bob@example.com SIP/2.0\r\n` +
    `${via}\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: <sip:alice@example.com>;tag=a${uniq()}\r\n` +
    `To: <sip:bob@example.com>\r\n` +
    `Call-ID: ${spec.callId ?? uniq()}\r\n` +
    `CSeq: ${spec.cseq ?? 1} ${method}\r\n` +
    (spec.extraHeaders ?? '') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

type Msg = SipRequest | SipResponse;

/** A raw TCP/TLS peer: frames what it receives, counts pongs, records close. */
export class StreamPeer {
  readonly messages: Msg[] = [];
  pongs = 0;
  ended = false;
  closed = false;
  error: Error | undefined;
  raw = '';
  private framer = new StreamFramer({ maxHeader: 1 << 20, maxBody: 1 << 22 });
  private waiters: (() => void)[] = [];

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.raw += chunk.toString('latin1');
      try {
        this.framer.push(chunk, {
          onFrame: (data) => this.messages.push(parseMessage(data, { maxHeader: 1 << 20, maxBody: 1 << 22 })),
          // Every CRLF from the pool is a pong (its framer pairs them as if they were pings).
          onKeepAlive: () => {
            this.pongs++;
          },
        });
      } catch {
        // tests look at raw when framing is not the point
      }
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', (e) => {
      this.error = e;
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    onCleanup(() => {
      socket.destroy();
    });
  }

  static connect(port: number, host: string, opts: Partial<net.NetConnectOpts> = {}): Promise<StreamPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, allowHalfOpen: true, ...opts } as net.NetConnectOpts, () => {
        s.off('error', reject);
        resolve(new StreamPeer(s));
      });
      s.once('error', reject);
    });
  }

  static connectTls(port: number, host: string, opts: tls.ConnectionOptions): Promise<StreamPeer> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ port, host, ...opts }, () => {
        s.off('error', reject);
        resolve(new StreamPeer(s));
      });
      s.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  private wake(): void {
    const w = this.waiters.splice(0);
    for (const f of w) f();
  }

  private waitChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for the peer')), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Wait for the n-th message (1-based). */
  async message(n = this.messages.length + 1, timeoutMs = 5000): Promise<Msg> {
    const end = Date.now() + timeoutMs;
    while (this.messages.length < n) {
      if (this.closed) throw new Error(`peer closed after ${this.messages.length} messages; raw: ${JSON.stringify(this.raw.slice(0, 200))}`);
      await this.waitChange(Math.max(1, end - Date.now()));
    }
    return this.messages[n - 1]!;
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.closed) await this.waitChange(Math.max(1, end - Date.now()));
  }

  async waitEnded(timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.ended && !this.closed) await this.waitChange(Math.max(1, end - Date.now()));
  }
}

/** A UDP peer that collects the datagrams it receives. */
export class UdpPeer {
  readonly received: { msg: string; addr: string; port: number }[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (b, r) => this.received.push({ msg: b.toString('latin1'), addr: r.address, port: r.port }));
    onCleanup(
      () =>
        new Promise<void>((resolve) => {
          try {
            socket.close(() => resolve());
          } catch {
            resolve();
          }
        }),
    );
  }

  static async bind(host: string): Promise<UdpPeer> {
    const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((r) => s.bind(0, host, () => r()));
    return new UdpPeer(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: string | Buffer, port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(data, port, host, (e) => (e ? reject(e) : resolve())));
  }

  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    await waitUntil(() => this.received.length >= n, timeoutMs, `${n} datagrams`);
  }
}

/** A plain TCP listener whose accepted connections are StreamPeers (closed by closeAll). */
export async function rawListener(host: string): Promise<{ port: number; peers: StreamPeer[]; server: net.Server }> {
  const server = net.createServer({ allowHalfOpen: true });
  const peers: StreamPeer[] = [];
  server.on('connection', (s) => peers.push(new StreamPeer(s)));
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  onCleanup(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as net.AddressInfo).port, peers, server };
}

/** A port that refuses connections (a listener opened and closed again). */
export async function closedPort(host: string): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, host, () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Counts of active resources by type, without the ones every test has. */
export function resourceCounts(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

export const LOOPBACKS = [
  ['IPv4', '127.0.0.1'],
  ['IPv6', '::1'],
] as const;

/**
 * A listener that never accepts and whose backlog is full, so that a connect to it neither succeeds
 * nor is refused (SYNs are dropped): a child process listens with backlog 1 and blocks its event
 * loop; a few filler connections fill the accept queue.
 */
export async function blackhole(host: string): Promise<number> {
  const { spawn } = await import('node:child_process');
  const code =
    `const s=require('net').createServer();s.listen({port:0,host:${JSON.stringify(host)},backlog:1},()=>{` +
    `process.stdout.write(s.address().port+'\\n');Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0)})`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  onCleanup(() => {
    child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', () => reject(new Error('blackhole child exited')));
  });
  for (let i = 0; i < 4; i++) {
    const s = net.connect({ port, host });
    s.on('error', () => {});
    onCleanup(() => {
      s.destroy();
    });
  }
  await sleep(50);
  return port;
}
