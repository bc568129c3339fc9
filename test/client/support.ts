// Helpers of the SipClient tests (test/client/*.test.ts): sipp UAS on a random high port (ready
// when the kernel shows its socket), a TLS front for sipp (this sipp is built without OpenSSL),
// raw UDP/TCP/TLS peers that capture what the client sends.
import type { ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { parseMessage, StreamFramer, type SipRequest, type SipResponse } from 'nestjs-sip';
import { startSipp, type SippOptions, type SippResult } from '../helpers/sipp.js';

import { waitUntil } from '../helpers/wait.js';

export { sleep, waitUntil } from '../helpers/wait.js';

/** Local ports in use (IPv4 and IPv6, UDP and TCP), from /proc/net. */
function portsInUse(): Set<number> {
  const out = new Set<number>();
  for (const f of ['tcp', 'tcp6', 'udp', 'udp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/net/${f}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local !== undefined) out.add(parseInt(local.slice(local.lastIndexOf(':') + 1), 16));
    }
  }
  return out;
}

/** True when something listens on 127.0.0.1:port (TCP, state LISTEN) or has bound it (UDP). */
function bound(port: number, proto: 'udp' | 'tcp'): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let text: string;
  try {
    text = readFileSync(`/proc/net/${proto}`, 'utf8');
  } catch {
    return true; // cannot tell: assume ready
  }
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[1]?.endsWith(hex) && (proto === 'udp' || cols[3] === '0A')) return true;
  }
  return false;
}

/** A random free high port (never 5060). */
export function randomPort(): number {
  const used = portsInUse();
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if (!used.has(p) && !used.has(p + 1)) return p;
  }
}

export interface Uas {
  port: number;
  child: ChildProcess;
  done: Promise<SippResult>;
  /** sipp's transport flag this UAS runs with. */
  mode: 'u1' | 't1';
}

/**
 * Start a sipp UAS (scenario from test/sipp/) on a random high port, resolved once its socket is
 * bound. `contact` is substituted for [contact] in the scenario (default: sipp itself).
 */
export async function startUas(o: {
  scenario: string;
  mode: 'u1' | 't1';
  /** Calls before sipp exits (default 1; 0 = until killed). */
  calls?: number;
  contact?: (port: number) => string;
  args?: string[];
  timeout?: number;
  keys?: Record<string, string>;
}): Promise<Uas> {
  for (let attempt = 0; ; attempt++) {
    const port = randomPort();
    const proto = o.mode === 'u1' ? 'udp' : 'tcp';
    const keys = { contact: o.contact?.(port) ?? `sip:127.0.0.1:${port};transport=${proto}`, ...o.keys };
    const opts: SippOptions = { scenario: o.scenario, transport: o.mode, port, calls: o.calls === 0 ? undefined : (o.calls ?? 1), timeout: o.timeout ?? 20, keys, args: o.args };
    const s = startSipp(opts);
    let exited: SippResult | undefined;
    void s.done.then((r) => (exited = r));
    try {
      await waitUntil(() => exited !== undefined || bound(port, proto), 5000, `sipp on port ${port}`);
    } catch (err) {
      s.child.kill('SIGKILL');
      throw err;
    }
    if (exited === undefined) return { port, child: s.child, done: s.done, mode: o.mode };
    if (attempt >= 3) throw new Error(`sipp did not start: ${exited.stderr || exited.stdout.slice(-500)}`);
  }
}

/** sipp's outcome, with what went wrong in the message when it failed. */
export function sippOk(r: SippResult): { successful: number; failed: number; errors: string } {
  return { successful: r.successful, failed: r.failed, errors: r.code === 0 ? '' : `exit ${r.code}: ${r.errors.slice(-1500)}` };
}

/**
 * A TLS front for a TCP peer: TLS in (with `cred`), plain TCP out to 127.0.0.1:`target` (set it
 * before the first connection). The sipp packaged here is built without OpenSSL, so "sipp over
 * TLS" is sipp behind this front.
 */
export async function tlsFront(cred: { cert: string; key: string }): Promise<{ port: number; target: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const front = {
    port: 0,
    target: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = tls.createServer({ cert: cred.cert, key: cred.key }, (inbound) => {
    const outbound = net.connect({ host: '127.0.0.1', port: front.target });
    sockets.add(inbound);
    sockets.add(outbound);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    const end = (): void => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on('error', end).on('close', end).on('end', end);
    outbound.on('error', end).on('close', end).on('end', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  front.port = (server.address() as net.AddressInfo).port;
  return front;
}

/** What a raw peer received, and how to answer. */
export interface Received {
  req: SipRequest;
  raw: Buffer;
  /** Source port of the request. */
  remotePort: number;
  reply(res: SipResponse | string): void;
}

export interface RawPeer {
  port: number;
  proto: 'udp' | 'tcp' | 'tls';
  /** Every request but ACK, in arrival order; retransmissions (same branch and method) are left out. */
  received: Received[];
  /** ACKs (kept apart so that next() sees the requests that start transactions). */
  acks: SipRequest[];
  /** Resolve with the next request other than ACK (or one already received and not yet taken). */
  next(timeoutMs?: number): Promise<Received>;
  close(): Promise<void>;
}

interface Queue {
  retransmissions: number;
  received: Received[];
  acks: SipRequest[];
  push(r: Received): void;
  next(timeoutMs?: number): Promise<Received>;
}

function queue(): Queue {
  const received: Received[] = [];
  const acks: SipRequest[] = [];
  let taken = 0;
  const waiters: (() => void)[] = [];
  const seen = new Set<string>();
  const out: Queue = {
    retransmissions: 0,
    received,
    acks,
    push(r) {
      if (r.req.method === 'ACK') {
        acks.push(r.req);
        return;
      }
      // Retransmissions (same branch and method) are absorbed, as a server transaction would.
      const key = `${r.req.topVia?.branch ?? ''} ${r.req.method}`;
      if (seen.has(key)) {
        out.retransmissions++;
        return;
      }
      seen.add(key);
      received.push(r);
      for (const w of waiters.splice(0)) w();
    },
    async next(timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      while (received.length <= taken) {
        if (Date.now() > end) throw new Error('raw peer: no request received');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 50);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return received[taken++]!;
    },
  };
  return out;
}

/** A raw UDP peer on 127.0.0.1 that parses every datagram and answers only when told. */
export async function rawUdpPeer(): Promise<RawPeer> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const q = queue();
  sock.on('message', (buf, rinfo) => {
    const msg = parseMessage(buf);
    if (!msg.isRequest()) return;
    q.push({ req: msg, raw: buf, remotePort: rinfo.port, reply: (res) => sock.send(typeof res === 'string' ? Buffer.from(res) : res.toBuffer(), rinfo.port, rinfo.address) });
  });
  return { port: sock.address().port, proto: 'udp', received: q.received, acks: q.acks, next: q.next, close: () => new Promise((r) => sock.close(() => r())) };
}

/** A raw TCP (or TLS, with `cred`) peer on 127.0.0.1 that frames, parses and answers only when told. */
export async function rawStreamPeer(cred?: { cert: string; key: string }): Promise<RawPeer & { sockets: Set<net.Socket> }> {
  const q = queue();
  const sockets = new Set<net.Socket>();
  const onSocket = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    const framer = new StreamFramer();
    s.on('data', (chunk: Buffer) => {
      framer.push(chunk, {
        onFrame: (buf) => {
          const msg = parseMessage(buf);
          if (msg.isRequest()) q.push({ req: msg, raw: buf, remotePort: s.remotePort ?? 0, reply: (res) => s.write(typeof res === 'string' ? Buffer.from(res) : res.toBuffer()) });
        },
        onKeepAlive: () => undefined,
      });
    });
  };
  const server = cred ? tls.createServer({ cert: cred.cert, key: cred.key }, onSocket) : net.createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    proto: cred ? 'tls' : 'tcp',
    received: q.received,
    acks: q.acks,
    next: q.next,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
