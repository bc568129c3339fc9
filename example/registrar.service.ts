import { Inject, Injectable } from '@nestjs/common';
import { parseUri, SipException, type SipRequest, type SipResponseDescription } from 'nestjs-sip';
import { LOCATION_STORE, type Binding, type LocationStore } from './location-store.js';
import { REGISTRAR_CONFIG, type RegistrarConfig } from './config.js';

/** The address-of-record of a SIP/SIPS URI: scheme:user@host, host lower-cased, no port or params. */
export function aorOf(uri: string): string | undefined {
  let u;
  try {
    u = parseUri(uri);
  } catch {
    return undefined;
  }
  if (u.scheme !== 'sip' && u.scheme !== 'sips') return undefined;
  return `sip:${u.user ? `${u.user}@` : ''}${u.host.toLowerCase()}`;
}

/** RFC 3261 §10.3 registrar behaviour over a LocationStore. */
@Injectable()
export class RegistrarService {
  constructor(
    @Inject(LOCATION_STORE) private readonly store: LocationStore,
    @Inject(REGISTRAR_CONFIG) private readonly config: RegistrarConfig,
  ) {}

  /** The Request-URI's AOR and its live bindings (404 / 480 as SipException). */
  lookup(req: SipRequest): Promise<{ aor: string; bindings: Binding[] }> {
    return lookupIn(this.store, req);
  }

  async register(req: SipRequest): Promise<SipResponseDescription> {
    const aor = aorOf(req.to.uri);
    if (aor === undefined) throw new SipException(400, 'To must be a SIP or SIPS URI');
    const now = Date.now();
    const callId = req.callId;
    const cseq = req.cseq.seq;
    const contacts = req.contacts;
    const headerExpires = parseExpires(req.headers.get('expires'));
    let bindings = (await this.store.get(aor)) ?? [];

    if (contacts.some((c) => c.star)) {
      // "Contact: *" removes every binding, and only with Expires: 0 and no other Contact (§10.3 step 6).
      if (contacts.length !== 1 || headerExpires !== 0) throw new SipException(400, 'Contact: * needs Expires: 0 and no other Contact');
      if (bindings.some((b) => b.callId === callId && b.cseq >= cseq)) throw new SipException(500, 'Out of order REGISTER');
      bindings = [];
    } else {
      for (const c of contacts) {
        const expires = Math.min(c.expires ?? headerExpires ?? this.config.defaultExpires, this.config.maxExpires);
        if (expires > 0 && expires < this.config.minExpires) {
          throw new SipException(423, 'Interval Too Brief', { headers: { 'Min-Expires': this.config.minExpires } });
        }
        const existing = bindings.find((b) => b.uri === c.uri);
        if (existing !== undefined && existing.callId === callId && existing.cseq >= cseq) {
          throw new SipException(500, 'Out of order REGISTER');
        }
        bindings = bindings.filter((b) => b.uri !== c.uri);
        if (expires > 0) {
          const params = [...c.params].filter(([k]) => k !== 'expires').map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`)).join('');
          bindings.push({ uri: c.uri, params, expiresAt: now + expires * 1000, callId, cseq });
        }
      }
    }
    await this.store.put(aor, bindings);
    return {
      status: 200,
      headers: {
        Contact: bindings.map((b) => `<${b.uri}>${b.params};expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`),
        Date: new Date(now).toUTCString(),
      },
    };
  }

  /** Redirect (302) to the bindings of the Request-URI's AOR; 404 unknown, 480 known but not registered now. */
  async locate(req: SipRequest): Promise<SipResponseDescription> {
    const { bindings } = await this.lookup(req);
    const now = Date.now();
    return {
      status: 302,
      headers: { Contact: bindings.map((b) => `<${b.uri}>${b.params};expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`) },
    };
  }
}

/** The AOR of a request's Request-URI and its live bindings, newest last; 404 unknown, 480 none now. */
export async function lookupIn(store: LocationStore, req: SipRequest): Promise<{ aor: string; bindings: Binding[] }> {
  const aor = aorOf(req.uri);
  if (aor === undefined) throw new SipException(416);
  const bindings = await store.get(aor);
  if (bindings === undefined) throw new SipException(404);
  if (bindings.length === 0) throw new SipException(480);
  return { aor, bindings };
}

function parseExpires(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.trim());
  return Number.isInteger(n) && n >= 0 ? Math.min(n, 0xffffffff) : undefined;
}

