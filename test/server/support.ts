// Shared helpers of the SipServer end-to-end tests (test/server/*.test.ts): booting a Nest
// microservice with SipServer, raw UDP / TCP / TLS SIP peers, request text builders.
import 'reflect-metadata';
import type { INestMicroservice, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { parseMessage, SipServer, StreamFramer, type SipMessage, type SipRequest, type SipResponse, type SipServerOptions } from 'nestjs-sip';

export { sleep, waitUntil } from '../helpers/wait.js';

export interface RunningApp {
  app: INestMicroservice;
  server: SipServer;
  /** The bound port of the first leg with this transport (and family). */
  port(transport: 'udp' | 'tcp' | 'tls', family?: 4 | 6): number;
  close(): Promise<void>;
}

/** A Nest microservice with SipServer as its strategy, listening. Logger: errors only unless `logger` says otherwise. */
export async function startApp(
  module: unknown,
  options: SipServerOptions,
  logger: LogLevel[] | false = ['error'],
  beforeListen?: (app: INestMicroservice) => void,
): Promise<RunningApp> {
  // The event-loop-lag shedding (503 past 200 ms) is for a loaded production server; a test server on a
  // loaded 2-core machine lags as much with no flood at all. Tests of overload say what they want.
  const overload = options.overload === undefined ? { maxLag: 5000 } : options.overload;
  const server = new SipServer({ ...options, overload });
  const app = await NestFactory.createMicroservice(module as never, { strategy: server, logger });
  beforeListen?.(app);
  await app.listen();
  return {
    app,
    server,
    port(transport, family = 4) {
      const a = server.addresses.find((x) => x.proto === transport && x.family === family);
      if (a === undefined) throw new Error(`no ${transport} IPv${family} leg`);
      return a.port;
    },
    close: () => app.close(),
  };
}

let counter = 0;
export const uniq = (): string => `${process.pid.toString(36)}${(++counter).toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;

export interface ReqSpec {
  method?: string;
  uri?: string;
  /** Top Via transport token (default UDP). */
  transport?: string;
  /** Top Via sent-by (default 127.0.0.1:9). */
  sentBy?: string;
  branch?: string;
  /** Extra Via params, e.g. ';rport'. */
  viaParams?: string;
  callId?: string;
  cseq?: number;
  cseqMethod?: string;
  fromTag?: string;
  toTag?: string;
  headers?: string[];
  body?: string;
}

/** A SIP request as wire text (every mandatory header, Content-Length from the body). */
export function sipRequest(spec: ReqSpec = {}): string {
  const method = spec.method ?? 'OPTIONS';
  const body = spec.body ?? '';
  const lines = [
    `${method} ${spec.uri ?? 'sip:svc@127.0.0.1'} SIP/2.0`,
    `Via: SIP/2.0/${spec.transport ?? 'UDP'} ${spec.sentBy ?? '127.0.0.1:9'};branch=${spec.branch ?? `z9hG4bK${uniq()}`}${spec.viaParams ?? ''}`,
    'Max-Forwards: 70',
    `From: <sip:tester@127.0.0.1>;tag=${spec.fromTag ?? `f${uniq()}`}`,
    `To: <sip:svc@127.0.0.1>${spec.toTag !== undefined ? `;tag=${spec.toTag}` : ''}`,
    `Call-ID: ${spec.callId ?? uniq()}`,
    `CSeq: ${spec.cseq ?? 1} ${spec.cseqMethod ?? method}`,
    ...(spec.headers ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** What a raw peer received: the message, its bytes, and when. */
export interface Received {
  msg: SipMessage;
  raw: Buffer;
  at: number;
  addr: string;
  port: number;
}

/** Something received that our codec would not parse (e.g. a 400 that copies the malformed headers it complains about). */
export interface Unparsed {
  /** Status code from the status line, if it is a response. */
  status: number | undefined;
  raw: Buffer;
  at: number;
  addr: string;
  port: number;
}

abstract class Peer {
  readonly received: Received[] = [];
  readonly unparsed: Unparsed[] = [];
  protected waiters: (() => void)[] = [];

  protected push(raw: Buffer, addr: string, port: number): void {
    let msg: SipMessage;
    try {
      msg = parseMessage(raw);
      this.received.push({ msg, raw, at: Date.now(), addr, port });
    } catch {
      const m = /^SIP\/2\.0 (\d{3}) /.exec(raw.toString('latin1'));
      this.unparsed.push({ status: m ? Number(m[1]) : undefined, raw, at: Date.now(), addr, port });
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /** Status codes of every response received, parsable or not, in arrival order. */
  get statuses(): number[] {
    const all = [
      ...this.received.filter((r) => !r.msg.isRequest()).map((r) => ({ at: r.at, status: (r.msg as SipResponse).status })),
      ...this.unparsed.filter((u) => u.status !== undefined).map((u) => ({ at: u.at, status: u.status! })),
    ];
    return all.sort((a, b) => a.at - b.at).map((x) => x.status);
  }

  /** Responses received so far (optionally only those to a Call-ID). */
  responses(callId?: string): SipResponse[] {
    return this.received.map((r) => r.msg).filter((m): m is SipResponse => !m.isRequest() && (callId === undefined || m.callId === callId));
  }

  /** Wait until `pred` holds for the received list (re-checked on every arrival). */
  async until<T>(pred: (r: Received[]) => T | undefined | false, timeoutMs = 3000, what = 'a message'): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = pred(this.received);
      if (v !== undefined && v !== false) return v;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.received.map((r) => summary(r.msg)).join(', ') || 'nothing'}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Wait for the n-th response to `callId` (1-based). */
  async response(callId: string, n = 1, timeoutMs = 3000): Promise<SipResponse> {
    return this.until((_r) => this.responses(callId)[n - 1], timeoutMs, `response #${n} to ${callId}`);
  }

  /** Wait for a response with this status to `callId`. */
  async status(callId: string, status: number, timeoutMs = 3000): Promise<SipResponse> {
    return this.until(() => this.responses(callId).find((r) => r.status === status), timeoutMs, `${status} to ${callId}`);
  }
}

export function summary(m: SipMessage): string {
  return m.isRequest() ? m.method : `${(m as SipResponse).status}`;
}

/** A raw UDP SIP peer. */
export class UdpClient extends Peer {
  private constructor(readonly socket: dgram.Socket) {
    super();
    socket.on('message', (b, r) => this.push(b, r.address, r.port));
  }

  static async open(host = '127.0.0.1'): Promise<UdpClient> {
    const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((r) => s.bind(0, host, () => r()));
    return new UdpClient(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: string | Buffer, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(data, port, host, (e) => (e ? reject(e) : resolve())));
  }

  close(): Promise<void> {
    return new Promise((r) => {
      try {
        this.socket.close(() => r());
      } catch {
        r();
      }
    });
  }
}

/** A raw TCP or TLS SIP peer (one connection), framing what it receives. */
export class StreamClient extends Peer {
  closed = false;
  private readonly framer = new StreamFramer();

  private constructor(readonly socket: net.Socket) {
    super();
    socket.on('data', (chunk: Buffer) => {
      try {
        this.framer.push(chunk, { onFrame: (d) => this.push(Buffer.from(d), socket.remoteAddress ?? '', socket.remotePort ?? 0), onKeepAlive: () => {} });
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Wrap a connected socket (e.g. one a test listener accepted). */
  static wrap(socket: net.Socket): StreamClient {
    return new StreamClient(socket);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<StreamClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => {
        s.off('error', reject);
        resolve(new StreamClient(s));
      });
      s.once('error', reject);
    });
  }

  static connectTls(port: number, host: string, opts: tls.ConnectionOptions): Promise<StreamClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ port, host, ...opts }, () => {
        s.off('error', reject);
        resolve(new StreamClient(s));
      });
      s.once('error', reject);
    });
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Abort the connection (RST): the server sees it gone at once, not half-closed. */
  reset(): void {
    this.socket.resetAndDestroy();
  }
}

export type { SipRequest, SipResponse };
