import { createSocket, type Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

/** Where a message went: addresses and ports of both ends, and the transport. */
export interface HepPacket {
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
  /** 'udp' (IP protocol 17); anything else (tcp, tls, ws, wss) travels over TCP (6). */
  proto: string;
  /** The SIP message as it went on the wire. */
  payload: Buffer;
  /** The Call-ID, so the collector (Homer) groups a call's messages. */
  correlationId?: string;
  /** Capture time, ms since the epoch (default now). */
  time?: number;
}

export interface HepOptions {
  /** The collector (Homer's heplify-server, or any HEP v3 receiver). */
  host: string;
  port: number;
  /** Capture agent id (HEP chunk 12). Default 2001. */
  agentId?: number;
  /** Authentication key of the collector (chunk 14), if it wants one. */
  password?: string;
}

// HEP v3 chunk types (generic vendor 0).
const FAMILY = 1;
const IP_PROTO = 2;
const IPV4_SRC = 3;
const IPV4_DST = 4;
const IPV6_SRC = 5;
const IPV6_DST = 6;
const SRC_PORT = 7;
const DST_PORT = 8;
const TIME_SEC = 9;
const TIME_USEC = 10;
const PROTO_TYPE = 11;
const AGENT_ID = 12;
const AUTH_KEY = 14;
const PAYLOAD = 15;
const CORRELATION = 17;

/** One HEP v3 packet (the Homer capture protocol) holding `p` as a SIP message. */
export function encodeHep3(p: HepPacket, agentId = 2001, password?: string): Buffer {
  const v6 = isIPv6(p.srcAddr) || isIPv6(p.dstAddr);
  const chunks: Buffer[] = [];
  const u8 = (type: number, v: number): void => void chunks.push(chunk(type, Buffer.from([v])));
  const u16 = (type: number, v: number): void => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    chunks.push(chunk(type, b));
  };
  const u32 = (type: number, v: number): void => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    chunks.push(chunk(type, b));
  };
  u8(FAMILY, v6 ? 10 : 2);
  u8(IP_PROTO, p.proto === 'udp' ? 17 : 6);
  chunks.push(chunk(v6 ? IPV6_SRC : IPV4_SRC, addrBytes(p.srcAddr, v6)));
  chunks.push(chunk(v6 ? IPV6_DST : IPV4_DST, addrBytes(p.dstAddr, v6)));
  u16(SRC_PORT, p.srcPort);
  u16(DST_PORT, p.dstPort);
  const t = p.time ?? Date.now();
  u32(TIME_SEC, Math.floor(t / 1000));
  u32(TIME_USEC, Math.floor((t % 1000) * 1000));
  u8(PROTO_TYPE, 1); // SIP
  u32(AGENT_ID, agentId);
  if (password !== undefined) chunks.push(chunk(AUTH_KEY, Buffer.from(password)));
  if (p.correlationId !== undefined) chunks.push(chunk(CORRELATION, Buffer.from(p.correlationId)));
  chunks.push(chunk(PAYLOAD, p.payload));
  const body = Buffer.concat(chunks);
  const head = Buffer.alloc(6);
  head.write('HEP3', 0, 'ascii');
  head.writeUInt16BE(6 + body.length, 4);
  return Buffer.concat([head, body]);
}

function chunk(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt16BE(0, 0); // vendor: generic
  h.writeUInt16BE(type, 2);
  h.writeUInt16BE(6 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** An address as HEP carries it: 4 bytes, or 16 (an IPv4 address in an IPv6 packet is mapped). */
function addrBytes(addr: string, v6: boolean): Buffer {
  if (!v6) return isIPv4(addr) ? Buffer.from(addr.split('.').map(Number)) : Buffer.alloc(4);
  if (isIPv4(addr)) return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...addr.split('.').map(Number)]);
  const out = Buffer.alloc(16);
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const a = head === '' ? [] : head.split(':');
  const b = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? a : [...a, ...new Array<string>(8 - a.length - b.length).fill('0'), ...b];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return out;
}

/** The Call-ID of a serialised SIP message (`Call-ID:` or compact `i:`), for a message we only have the bytes of. */
export function callIdOfWire(wire: Buffer): string | undefined {
  const end = wire.indexOf('\r\n\r\n');
  const head = wire.toString('latin1', 0, end === -1 ? wire.length : end);
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name === 'call-id' || name === 'i') return line.slice(colon + 1).trim();
  }
  return undefined;
}

/**
 * Mirrors every message to a HEP v3 collector over UDP (Homer, sngrep's HEP listener). Sends are
 * fire-and-forget: a collector that is down never slows or fails SIP; its errors are counted.
 */
export class HepMirror {
  readonly socket: Socket;
  /** Packets sent, and sends that failed. */
  sent = 0;
  failed = 0;
  private closed = false;

  constructor(private readonly opts: HepOptions) {
    this.socket = createSocket(isIPv6(opts.host) ? 'udp6' : 'udp4');
    this.socket.on('error', () => this.failed++);
    this.socket.unref();
  }

  capture(p: HepPacket): void {
    if (this.closed) return;
    const packet = encodeHep3(p, this.opts.agentId, this.opts.password);
    this.socket.send(packet, this.opts.port, this.opts.host, (err) => {
      if (err) this.failed++;
      else this.sent++;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}
