import { hostname } from 'node:os';
import { parseUri, type Contact, type SipRequest } from '../message/index.js';
import type { SipPeer } from '../transaction/index.js';
import { own } from '../dialog/own-string.js';
import { aorOf } from './aor.js';
import { bindingKey, contactOf, type Binding, type BindingSource } from './binding.js';
import { LocationStoreError, type BindingChange, type LocationStore, type UpdateResult } from './location-store.js';
import { MemoryLocationStore } from './memory-location-store.js';

export interface SipRegistrarOptions {
  /** Where bindings live (default: a MemoryLocationStore of this process). */
  store?: LocationStore;
  /** Shortest registration accepted, seconds: shorter gets 423 with Min-Expires (default 60). */
  minExpires?: number;
  /** Longest registration granted, seconds (default 3600). */
  maxExpires?: number;
  /** Registration time when the REGISTER names none, seconds (default 3600). */
  defaultExpires?: number;
  /** Most bindings per AOR, 1..1000 (default 10): older ones make room, a REGISTER bringing more gets 403. */
  maxBindingsPerAor?: number;
  /** Seconds an AOR stays known after its last REGISTER with no binding left: lookups say 480, then 404 (default 3600). */
  keepAor?: number;
  /** Retry-After of the 503 when the store is unreachable or full, seconds (default 5). */
  retryAfter?: number;
  /** This instance's name, recorded in each binding's source (default `hostname:pid`). */
  node?: string;
  /** Told every store failure (the REGISTER or lookup is answered 503 / 500). */
  onStoreError?: (err: Error) => void;
  /** Clock, ms since the epoch (tests). */
  now?: () => number;
}

type Headers = Record<string, string | number | string[]>;

/** The response a registrar operation asks for: return it from a Nest handler as it is. */
export interface RegistrarReply {
  status: number;
  reason?: string;
  headers: Headers;
}

/** A target's AOR and its live bindings (oldest first), or the response to give instead (404, 480, 416, 503, 500). */
export type LookupResult = { status: 200; aor: string; bindings: Binding[] } | LookupMiss;

/** No binding to use: the response to give (a handler may return it as it is). */
export interface LookupMiss extends RegistrarReply {
  status: 404 | 416 | 480 | 500 | 503;
  reason: string;
  aor?: string;
}

/**
 * A registrar (RFC 3261 §10.3) over a LocationStore: `register(req, ctx.getFrom())` answers a
 * REGISTER (200 with the bindings, 423, 400, 403, 500 for a reordered REGISTER, 503 with
 * Retry-After when the store is down); `lookup(uri)` finds the contacts of a user. Authentication
 * is the caller's (SipAuthModule / SipDigestGuard before the handler).
 */
export class SipRegistrar {
  readonly store: LocationStore;
  private readonly minExpires: number;
  private readonly maxExpires: number;
  private readonly defaultExpires: number;
  private readonly maxBindings: number;
  private readonly keepAorMs: number;
  private readonly retryAfter: number;
  /** This instance's name, as recorded in the sources of the bindings it writes. */
  readonly node: string;
  private readonly now: () => number;
  private readonly onStoreError: (err: Error) => void;

  constructor(options: SipRegistrarOptions = {}) {
    this.store = options.store ?? new MemoryLocationStore();
    this.minExpires = whole(options.minExpires ?? 60, 'minExpires');
    this.maxExpires = whole(options.maxExpires ?? 3600, 'maxExpires');
    this.defaultExpires = whole(options.defaultExpires ?? 3600, 'defaultExpires');
    this.maxBindings = whole(options.maxBindingsPerAor ?? 10, 'maxBindingsPerAor');
    this.keepAorMs = whole(options.keepAor ?? 3600, 'keepAor') * 1000;
    this.retryAfter = whole(options.retryAfter ?? 5, 'retryAfter');
    if (this.minExpires > this.maxExpires) throw new RangeError(`minExpires (${this.minExpires}) is above maxExpires (${this.maxExpires})`);
    // At most 1000: a stored AOR is read and written whole on each REGISTER (and a Lua call takes ~8000 arguments).
    if (this.maxBindings < 1 || this.maxBindings > 1000) throw new RangeError(`maxBindingsPerAor must be 1..1000, got ${this.maxBindings}`);
    this.node = options.node ?? `${hostname()}:${process.pid}`;
    this.now = options.now ?? Date.now;
    this.onStoreError = options.onStoreError ?? (() => {});
  }

  /** Answer a REGISTER (RFC 3261 §10.3 steps 5-8). `from`: the sender (ctx.getFrom()), recorded in the bindings. */
  async register(req: SipRequest, from?: SipPeer): Promise<RegistrarReply> {
    let aor: string | undefined;
    let contacts: Contact[];
    let callId: string;
    let cseq: number;
    try {
      aor = aorOf(req.to.uri);
      contacts = req.contacts;
      callId = req.callId;
      cseq = req.cseq.seq;
    } catch {
      // The server's parser checked these already; a request built by hand may still be wrong.
      return { status: 400, reason: 'Malformed To, Contact, Call-ID or CSeq', headers: {} };
    }
    if (aor === undefined) return { status: 400, reason: 'To must be a SIP or SIPS URI', headers: {} };
    const now = this.now();
    if (contacts.length === 0) return this.query(aor, now);

    const headerExpires = parseExpires(req.headers.get('expires'));
    const update = { callId, cseq, now, removeAll: false, changes: [] as BindingChange[], maxBindings: this.maxBindings, keepUntil: now + this.keepAorMs };
    if (contacts.some((c) => c.star)) {
      // "Contact: *" removes every binding, and only with Expires: 0 and no other Contact (§10.3 step 6).
      if (contacts.length !== 1 || headerExpires !== 0) return { status: 400, reason: 'Contact: * needs Expires: 0 and no other Contact', headers: {} };
      update.removeAll = true;
    } else {
      const source = from === undefined ? undefined : this.sourceOf(from);
      const path = req.headers.getAll('path').map(own);
      const changes = new Map<string, BindingChange>();
      for (const c of contacts) {
        const expires = Math.min(c.expires ?? headerExpires ?? this.defaultExpires, this.maxExpires);
        if (expires > 0 && expires < this.minExpires) return { status: 423, reason: 'Interval Too Brief', headers: { 'Min-Expires': this.minExpires } };
        const b = bindingOf(c, { expiresAt: now + expires * 1000, updatedAt: now, callId, cseq, source });
        if (b === undefined) return { status: 400, reason: 'Bad Contact URI', headers: {} };
        if (path.length > 0) b.path = path;
        const key = bindingKey(b);
        // The same contact twice in one REGISTER: the last one counts.
        changes.delete(key);
        changes.set(key, expires > 0 ? { key, binding: b } : { key });
      }
      update.changes = [...changes.values()];
    }
    let r: UpdateResult;
    try {
      r = await this.store.update(aor, update);
    } catch (err) {
      return this.storeFailed(err);
    }
    if (!r.ok) {
      if (r.reason === 'out-of-order') return { status: 500, reason: 'Out of order REGISTER', headers: {} };
      if (r.reason === 'too-many') return { status: 403, reason: `Too Many Contacts (at most ${this.maxBindings})`, headers: {} };
      return { status: 503, reason: 'Location Table Full', headers: { 'Retry-After': this.retryAfter } };
    }
    const reply = this.ok(r.bindings, now);
    // RFC 3327 §5.3: the Path stored goes back in the 200, to a UA that said it supports it.
    const path = req.headers.getAll('path');
    if (path.length > 0 && req.headers.getAll('supported').some((t) => t.trim().toLowerCase() === 'path')) reply.headers.Path = path;
    return reply;
  }

  /**
   * The AOR of `target` (a Request-URI or an AOR) and its live bindings, oldest first; otherwise the
   * response to give: 416 not a SIP URI, 404 unknown, 480 known but not registered now, 503 store down.
   */
  async lookup(target: string): Promise<LookupResult> {
    const aor = aorOf(target);
    if (aor === undefined) return { status: 416, reason: 'Unsupported URI Scheme', headers: {} };
    let bindings: Binding[] | undefined;
    try {
      bindings = await this.store.get(aor, this.now());
    } catch (err) {
      return { ...this.storeFailed(err), aor };
    }
    if (bindings === undefined) return { status: 404, reason: 'Not Found', headers: {}, aor };
    if (bindings.length === 0) return { status: 480, reason: 'Temporarily Unavailable', headers: {}, aor };
    return { status: 200, aor, bindings };
  }

  /** Resolves when the store answers now, rejects with why not: a health check (`server.health({ checks })`). */
  async ping(): Promise<void> {
    await this.store.ping?.();
  }

  /** Close the store (it releases only what it opened itself). */
  async close(): Promise<void> {
    await this.store.close?.();
  }

  /** A REGISTER without Contact: the current bindings (§10.3 step 8). */
  private async query(aor: string, now: number): Promise<RegistrarReply> {
    try {
      return this.ok((await this.store.get(aor, now)) ?? [], now);
    } catch (err) {
      return this.storeFailed(err);
    }
  }

  private ok(bindings: Binding[], now: number): RegistrarReply {
    const headers: Headers = { Date: new Date(now).toUTCString() };
    if (bindings.length > 0) headers.Contact = bindings.map((b) => contactOf(b, now));
    return { status: 200, headers };
  }

  private storeFailed(err: unknown): RegistrarReply & { status: 500 | 503; reason: string } {
    const e = err instanceof Error ? err : new Error(String(err));
    this.onStoreError(e);
    // Unreachable or slow: temporary, say when to retry. Anything else is our fault: 500 (with Retry-After too, RFC 3261 §21.5.1 allows it).
    if (e instanceof LocationStoreError) return { status: 503, reason: 'Location Service Unavailable', headers: { 'Retry-After': this.retryAfter } };
    return { status: 500, reason: 'Location Service Failed', headers: { 'Retry-After': this.retryAfter } };
  }

  private sourceOf(from: SipPeer): BindingSource {
    const s: BindingSource = { proto: from.proto, addr: from.addr, port: from.port, family: from.family, node: this.node };
    // Stream transports: the connection itself, so a request to this contact can reuse the flow.
    if (from.proto !== 'udp' && from.socket !== undefined) s.connection = from.socket;
    return s;
  }
}

/** A binding for one Contact; undefined when its URI does not parse. */
function bindingOf(c: Contact, base: Pick<Binding, 'expiresAt' | 'updatedAt' | 'callId' | 'cseq' | 'source'>): Binding | undefined {
  let ob: boolean;
  try {
    ob = parseUri(c.uri).params.has('ob');
  } catch {
    return undefined;
  }
  let params = '';
  let instance: string | undefined;
  let regId: number | undefined;
  for (const [k, v] of c.params) {
    if (k === 'expires') continue;
    params += v === null ? `;${k}` : `;${k}=${v}`;
    if (k === '+sip.instance' && v !== null) instance = v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1) : v;
    else if (k === 'reg-id' && v !== null && /^[0-9]{1,9}$/.test(v)) regId = Number(v);
  }
  // Own copies: a kept substring would keep the whole REGISTER's text alive for the binding's life.
  const b: Binding = { uri: own(c.uri), params: own(params), ...base, callId: own(base.callId) };
  if (base.source === undefined) delete b.source;
  if (c.q !== undefined) b.q = c.q;
  if (instance !== undefined) b.instance = own(instance);
  if (regId !== undefined) b.regId = regId;
  if (ob) b.ob = true;
  return b;
}

function parseExpires(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.trim());
  return Number.isInteger(n) && n >= 0 ? Math.min(n, 0xffffffff) : undefined;
}

function whole(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be a whole number, got ${n}`);
  return n;
}
