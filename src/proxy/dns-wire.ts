import { randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { isIP, Socket } from 'node:net';
import type { SipNaptrRecord, SipSrvRecord } from './dns-records.js';

// A small DNS client for the two record types whose TTL node:dns (c-ares) does not report: SRV and
// NAPTR. One question per query, UDP first, TCP when the answer was truncated (RFC 1035, RFC 7766).

export const TYPE_SRV = 33;
export const TYPE_NAPTR = 35;
const TYPE_SOA = 6;
const CLASS_IN = 1;
/** Pointer hops one name may take (a loop of pointers must not spin). */
const MAX_HOPS = 16;

export interface WireServer {
  host: string;
  port: number;
  family: 4 | 6;
}

/** A server as `Resolver.getServers()` / `setServers()` write it: `192.0.2.53`, `192.0.2.53:5353`, `::1`, `[::1]:5353`. */
export function parseServer(s: string): WireServer | undefined {
  let host = s;
  let port = 53;
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  if (m !== null) {
    host = m[1]!;
    if (m[2] !== undefined) port = Number(m[2]);
  } else if (isIP(s) === 0) {
    const i = s.lastIndexOf(':');
    if (i <= 0) return undefined;
    host = s.slice(0, i);
    port = Number(s.slice(i + 1));
  }
  const family = isIP(host);
  if (family === 0 || !(port > 0 && port < 65536)) return undefined;
  return { host, port, family: family as 4 | 6 };
}

/** The query for `name`/`type`, recursion desired. Throws for a name DNS cannot carry. */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  let len = 12 + 1 + 4;
  for (const l of labels) {
    const n = Buffer.byteLength(l);
    if (n === 0 || n > 63) throw Object.assign(new Error(`bad DNS name ${name}`), { code: 'EBADNAME' });
    len += 1 + n;
  }
  if (len - 16 > 255) throw Object.assign(new Error(`DNS name too long: ${name}`), { code: 'EBADNAME' });
  const b = Buffer.alloc(len);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(0x0100, 2); // RD
  b.writeUInt16BE(1, 4); // one question
  let at = 12;
  for (const l of labels) {
    at = b.writeUInt8(Buffer.byteLength(l), at);
    at += b.write(l, at);
  }
  at = b.writeUInt8(0, at);
  at = b.writeUInt16BE(type, at);
  b.writeUInt16BE(CLASS_IN, at);
  return b;
}

export interface WireAnswer {
  id: number;
  rcode: number;
  truncated: boolean;
  records: (SipSrvRecord | SipNaptrRecord)[];
  /** RFC 2308: how long a "no such name / no data" answer may be kept (the SOA's TTL and minimum). */
  negativeTtl?: number;
}

/** Read a response; records of `type` in the answer section (TTL included). Throws on malformed input. */
export function parseResponse(b: Buffer, type: number): WireAnswer {
  if (b.length < 12) throw malformed();
  const flags = b.readUInt16BE(2);
  if ((flags & 0x8000) === 0) throw malformed(); // not a response
  const qd = b.readUInt16BE(4);
  const an = b.readUInt16BE(6);
  const ns = b.readUInt16BE(8);
  let at = 12;
  for (let i = 0; i < qd; i++) at = skipName(b, at) + 4;
  const out: WireAnswer = { id: b.readUInt16BE(0), rcode: flags & 0x0f, truncated: (flags & 0x0200) !== 0, records: [] };
  for (let i = 0; i < an + ns; i++) {
    at = skipName(b, at);
    if (at + 10 > b.length) throw malformed();
    const rtype = b.readUInt16BE(at);
    const rclass = b.readUInt16BE(at + 2);
    const ttl = b.readUInt32BE(at + 4);
    const rdlen = b.readUInt16BE(at + 8);
    const rd = at + 10;
    at = rd + rdlen;
    if (at > b.length) throw malformed();
    if (rclass !== CLASS_IN) continue;
    if (i < an && rtype === type && type === TYPE_SRV) {
      if (rdlen < 7) throw malformed();
      out.records.push({ priority: b.readUInt16BE(rd), weight: b.readUInt16BE(rd + 2), port: b.readUInt16BE(rd + 4), name: readName(b, rd + 6)[0], ttl });
    } else if (i < an && rtype === type && type === TYPE_NAPTR) {
      if (rdlen < 8) throw malformed();
      let p = rd + 4;
      const strings: string[] = [];
      for (let k = 0; k < 3; k++) {
        const n = b[p];
        if (n === undefined || p + 1 + n > at) throw malformed();
        strings.push(b.toString('latin1', p + 1, p + 1 + n));
        p += 1 + n;
      }
      out.records.push({ order: b.readUInt16BE(rd), preference: b.readUInt16BE(rd + 2), flags: strings[0]!, service: strings[1]!, regexp: strings[2]!, replacement: readName(b, p)[0], ttl });
    } else if (i >= an && rtype === TYPE_SOA) {
      const p = skipName(b, skipName(b, rd)) + 16;
      if (p + 4 > at) throw malformed();
      const min = b.readUInt32BE(p);
      out.negativeTtl = Math.min(ttl, min);
    }
  }
  return out;
}

const malformed = (): Error => Object.assign(new Error('malformed DNS response'), { code: 'EBADRESP' });

function skipName(b: Buffer, at: number): number {
  for (let guard = 0; guard < 128; guard++) {
    const n = b[at];
    if (n === undefined) throw malformed();
    if (n === 0) return at + 1;
    if ((n & 0xc0) === 0xc0) return at + 2;
    at += 1 + n;
  }
  throw malformed();
}

/** A name (compression pointers followed, at most MAX_HOPS) and the offset after it where it started. */
function readName(b: Buffer, at: number): [string, number] {
  const labels: string[] = [];
  let end = -1;
  let hops = 0;
  let length = 0;
  for (;;) {
    const n = b[at];
    if (n === undefined) throw malformed();
    if (n === 0) {
      if (end < 0) end = at + 1;
      break;
    }
    if ((n & 0xc0) === 0xc0) {
      if (at + 1 >= b.length || ++hops > MAX_HOPS) throw malformed();
      if (end < 0) end = at + 2;
      at = ((n & 0x3f) << 8) | b[at + 1]!;
      continue;
    }
    if ((n & 0xc0) !== 0 || at + 1 + n > b.length || (length += n + 1) > 255) throw malformed();
    labels.push(b.toString('latin1', at + 1, at + 1 + n));
    at += 1 + n;
  }
  return [labels.join('.'), end];
}

export interface WireQueryOptions {
  timeout: number;
  tries: number;
}

/**
 * Ask `servers` (in turn, `tries` rounds) for the `type` records of `name`. Resolves with them;
 * rejects with `code` ENOTFOUND (no such name) or ENODATA (no such records), each with `ttl` when
 * the server said how long that holds, else ESERVFAIL / EREFUSED / ETIMEOUT / EBADRESP.
 */
export async function queryRecords(servers: readonly WireServer[], name: string, type: number, o: WireQueryOptions): Promise<(SipSrvRecord | SipNaptrRecord)[]> {
  let last: unknown = Object.assign(new Error(`no DNS server to ask for ${name}`), { code: 'ECONNREFUSED' });
  for (let t = 0; t < Math.max(1, o.tries); t++) {
    for (const server of servers) {
      let a: WireAnswer;
      try {
        const id = randomInt(0x10000);
        const q = encodeQuery(id, name, type);
        a = await udpQuery(server, q, id, type, o.timeout);
        if (a.truncated) a = await tcpQuery(server, q, id, type, o.timeout);
      } catch (err) {
        if ((err as { code?: string }).code === 'EBADNAME') throw err;
        last = err;
        continue;
      }
      if (a.rcode === 0 && a.records.length > 0) return a.records;
      if (a.rcode === 0 || a.rcode === 3) {
        const code = a.rcode === 3 ? 'ENOTFOUND' : 'ENODATA';
        throw Object.assign(new Error(`${code} ${name}`), { code, hostname: name, ttl: a.negativeTtl });
      }
      const code = a.rcode === 2 ? 'ESERVFAIL' : a.rcode === 5 ? 'EREFUSED' : 'EBADRESP';
      last = Object.assign(new Error(`${code} ${name}`), { code, hostname: name });
    }
  }
  throw last;
}

function udpQuery(server: WireServer, q: Buffer, id: number, type: number, timeout: number): Promise<WireAnswer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    let finished = false;
    const done = (err: unknown, a?: WireAnswer): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.close();
      if (a !== undefined) resolve(a);
      else reject(err);
    };
    const timer = setTimeout(() => done(Object.assign(new Error('DNS query timed out'), { code: 'ETIMEOUT' })), timeout);
    s.on('error', (err) => done(err));
    s.on('message', (msg, rinfo) => {
      // Only the server's answer to this question; anything else is ignored (not trusted).
      if (rinfo.port !== server.port || rinfo.address !== server.host || msg.length < 2 || msg.readUInt16BE(0) !== id) return;
      try {
        done(undefined, parseResponse(msg, type));
      } catch (err) {
        done(err);
      }
    });
    s.send(q, server.port, server.host, (err) => {
      if (err) done(err);
    });
  });
}

function tcpQuery(server: WireServer, q: Buffer, id: number, type: number, timeout: number): Promise<WireAnswer> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    const chunks: Buffer[] = [];
    let got = 0;
    let finished = false;
    const done = (err: unknown, a?: WireAnswer): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      if (a !== undefined) resolve(a);
      else reject(err);
    };
    const timer = setTimeout(() => done(Object.assign(new Error('DNS query timed out'), { code: 'ETIMEOUT' })), timeout);
    sock.on('error', (err) => done(err));
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got < 2) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const want = all.readUInt16BE(0);
      if (got < 2 + want) return;
      try {
        const a = parseResponse(all.subarray(2, 2 + want), type);
        if (a.id !== id) throw malformed();
        done(undefined, a);
      } catch (err) {
        done(err);
      }
    });
    sock.connect(server.port, server.host, () => {
      const framed = Buffer.alloc(2 + q.length);
      framed.writeUInt16BE(q.length, 0);
      q.copy(framed, 2);
      sock.write(framed);
    });
  });
}
