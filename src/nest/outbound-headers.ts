import { networkInterfaces } from 'node:os';
import { localContact } from '../dialog/index.js';
import { generateBranch, generateCallId, generateTag, parseNameAddr, parseUri, type SipRequest } from '../message/index.js';
import type { LocalAddress, SocketPool } from '../transport/index.js';
import type { SipTransportName } from './sip-resolver.js';

/** Methods whose requests carry a Contact when the caller gave none. */
const NEEDS_CONTACT = new Set(['INVITE', 'REGISTER', 'SUBSCRIBE', 'REFER', 'NOTIFY']);

/** Per-leg strings of the headers the client fills in. */
interface LegText {
  host: string;
  hostPort: string;
  /** Via up to the branch value. */
  viaPrefix: string;
  /** From up to the tag value. */
  from: string;
  fromUser: string | undefined;
  /** Contact for the default (or configured) From user, `sip:` URI. */
  contact: string;
  contactFor(user: string | undefined, secure: boolean): string;
}

/** What the client writes into requests, from its options. */
export interface OutboundHeaderOptions {
  from?: string;
  userAgent?: string;
  publicHost?: string;
}

/**
 * The headers SipClient fills in (RFC 3261 §8.1.1) for the leg a request leaves on: Via (fresh
 * branch, rport), Max-Forwards, From (tag), To, Call-ID, CSeq, Contact, User-Agent. The per-leg
 * strings are built once (publicHost may walk the interfaces).
 */
export class OutboundHeaders {
  private readonly legText = new WeakMap<SocketPool, LegText>();
  private cseq = Math.floor(Math.random() * 10000) + 1;

  constructor(private readonly opts: OutboundHeaderOptions) {}

  /** What fill() writes for a leg, computed once per leg. */
  private textFor(pool: SocketPool, proto: SipTransportName): LegText {
    let t = this.legText.get(pool);
    if (t === undefined) {
      const host = this.publicHost(pool.local);
      const bracketed = host.includes(':') ? `[${host}]` : host;
      const hostPort = `${bracketed}:${pool.local.port}`;
      const fromUser = this.opts.from !== undefined ? parseUri(parseNameAddr(this.opts.from, 'From').uri).user : 'nestjs-sip';
      const leg = { proto, host, port: pool.local.port };
      t = {
        host,
        hostPort,
        viaPrefix: `SIP/2.0/${proto.toUpperCase()} ${hostPort};branch=`,
        from: `${this.opts.from ?? `<sip:nestjs-sip@${bracketed}>`};tag=`,
        fromUser,
        contact: localContact(leg, fromUser, false),
        contactFor: (user, secure) => localContact(leg, user, secure),
      };
      this.legText.set(pool, t);
    }
    return t;
  }

  /** Fill in what `req` lacks for leaving on `pool` over `proto`. */
  fill(req: SipRequest, pool: SocketPool, proto: SipTransportName): void {
    const h = req.headers;
    const method = req.method;
    const t = this.textFor(pool, proto);
    if (!h.has('via')) h.prepend('Via', t.viaPrefix + generateBranch() + ';rport');
    if (!h.has('max-forwards')) h.set('Max-Forwards', '70');
    let fromGiven = false;
    const from = h.get('from');
    if (from === undefined) h.set('From', t.from + generateTag());
    else {
      fromGiven = true;
      if (parseNameAddr(from, 'From').tag === undefined) h.set('From', `${from};tag=${generateTag()}`);
    }
    if (!h.has('to')) h.set('To', `<${req.uri}>`);
    if (!h.has('call-id')) h.set('Call-ID', generateCallId(t.host));
    if (!h.has('cseq')) h.set('CSeq', `${this.nextCSeq()} ${method}`);
    if (NEEDS_CONTACT.has(method) && !h.has('contact')) {
      // sips: only for a sips: target (RFC 5630): a sip: URI reached over TLS gets a sip: Contact.
      const secure = req.requestUri.scheme === 'sips';
      if (!fromGiven && !secure) h.set('Contact', t.contact);
      else h.set('Contact', t.contactFor(fromGiven ? parseUri(parseNameAddr(from!, 'From').uri).user : t.fromUser, secure));
    }
    if (this.opts.userAgent !== undefined && !h.has('user-agent')) h.set('User-Agent', this.opts.userAgent);
  }

  private nextCSeq(): number {
    const n = this.cseq;
    this.cseq = n >= 0x7fffffff ? 1 : n + 1;
    return n;
  }

  private publicHost(local: LocalAddress): string {
    if (this.opts.publicHost !== undefined) return this.opts.publicHost;
    if (local.addr !== '0.0.0.0' && local.addr !== '::') return local.addr;
    for (const list of Object.values(networkInterfaces())) {
      for (const i of list ?? []) if (!i.internal && (i.family === 'IPv6' ? 6 : 4) === local.family && !i.address.startsWith('fe80')) return i.address;
    }
    return local.family === 6 ? '::1' : '127.0.0.1';
  }
}
