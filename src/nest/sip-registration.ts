import { BehaviorSubject, lastValueFrom, tap, type Observable } from 'rxjs';
import type { SipClientAuth } from '../auth/client-challenge.js';
import { generateCallId, generateTag, parseNameAddr, parseUri, SipRequest, type Contact, type SipResponse } from '../message/index.js';
import { systemClock, type Clock } from '../transaction/index.js';
import type { BuiltRequestOptions } from './pending-request.js';
import type { SipTransportName } from './sip-resolver.js';
import { SipResponseError } from './sip-response-error.js';

/** Where a registration stands: its first REGISTER (or one after a failure or a broken flow) is out; bound; waiting to retry; ended. */
export type SipRegistrationState = 'registering' | 'registered' | 'failed' | 'unregistered';

export interface SipRegistrationStatus {
  state: SipRegistrationState;
  /** Seconds the registrar granted the binding (its 200's Contact `expires`, else its Expires), while registered. */
  expires: number | undefined;
  /** Why the last attempt failed (a SipResponseError, a timeout...), while failed. */
  error?: unknown;
}

/** `client.register(options)`. Times are in seconds. */
export interface SipRegisterOptions {
  /** The address of record, e.g. 'sip:alice@example.com': To and From of every REGISTER. */
  aor: string;
  /** The Request-URI: the registrar. Default: the AOR's domain (`sip:example.com`, RFC 3261 §10.2). */
  registrar?: string;
  /** The Contact to bind. Default: the client's own for the leg the REGISTER leaves on. */
  contact?: string;
  /** The binding time asked for. Default 3600. */
  expires?: number;
  /** Credentials for this registration instead of the client's `auth`. */
  auth?: SipClientAuth;
  /** Headers added to every REGISTER (a Route to an outbound proxy, User-Agent...). */
  headers?: Record<string, string>;
  /** Transport for a registrar URI that names none. Default: the client's. */
  transport?: SipTransportName;
  /** Refresh this long before the binding expires (at most half its time). Default 60. */
  refreshMargin?: number;
  /**
   * Back-off after failures (RFC 5626 §4.5): wait min(maxTime, baseTime * 2^failures), then a
   * random point between 50% and 100% of that. Default baseTime 30 (a registration has one flow:
   * when it fails, all have), maxTime 1800.
   */
  retry?: { baseTime?: number; maxTime?: number };
}

/** What a registration needs from its client. */
export interface RegistrationHost {
  sendBuilt(req: SipRequest, o: BuiltRequestOptions): Observable<SipResponse>;
  /** Keep the TCP/TLS connection `res` came in on open and call `onLost` when it breaks; undefined for UDP (or none); else the undo. */
  watchFlow(res: SipResponse, onLost: () => void): (() => void) | undefined;
  registrationEnded(reg: SipRegistration): void;
}

/**
 * RFC 5626 §4.5: seconds to wait after `failures` consecutive failures: min(maxTime, base *
 * 2^failures) with base = baseTime (30) when every flow failed, okBaseTime (90) when some still
 * work; then a random point between 50% and 100% of it.
 */
export function registrationBackoff(
  failures: number,
  o: { baseTime?: number; okBaseTime?: number; maxTime?: number; allFailed?: boolean } = {},
  random: () => number = Math.random,
): number {
  const base = o.allFailed === false ? (o.okBaseTime ?? 90) : (o.baseTime ?? 30);
  const wait = Math.min(o.maxTime ?? 1800, base * 2 ** failures);
  return wait * (0.5 + 0.5 * random());
}

/** Seconds after a grant of `granted` seconds to refresh it: `margin` before it expires, at most half-way. */
export function refreshAfter(granted: number, margin: number): number {
  return granted - Math.min(granted / 2, margin);
}

/** Longest timer Node keeps as asked (longer ones fire at once). */
const MAX_TIMER_MS = 0x7fffffff;
/** 423 answers followed in a row before it counts as a failure. */
const MAX_TOO_BRIEF = 3;

/**
 * One binding kept alive at a registrar (RFC 3261 §10.2): REGISTER with the same Call-ID and a
 * growing CSeq, refreshed before it expires, Min-Expires followed on 423, challenges answered by the
 * client, failures retried with RFC 5626 back-off, re-registered at once when its TCP/TLS flow
 * breaks; `stop()` (or `client.close()`) removes it with `Expires: 0`. Made by `client.register()`.
 */
export class SipRegistration {
  readonly aor: string;
  readonly callId: string;
  private readonly registrar: string;
  private readonly fromTag = generateTag();
  private cseq = 1 + Math.floor(Math.random() * 10000);
  /** The Contact bound: given, or the one the client wrote into the first REGISTER. */
  private contact: string | undefined;
  /** Seconds asked for (raised by a 423's Min-Expires). */
  private asked: number;
  private readonly subject: BehaviorSubject<SipRegistrationStatus>;
  private failures = 0;
  private tooBrief = 0;
  private timer: unknown = undefined;
  private inFlight: Promise<void> | undefined = undefined;
  private stopping: Promise<void> | undefined = undefined;
  private releaseFlow: (() => void) | undefined = undefined;
  /** The registrar may hold our binding (a 2xx came and no Expires: 0 since). */
  private bound = false;

  constructor(
    private readonly host: RegistrationHost,
    private readonly opts: SipRegisterOptions,
    private readonly clock: Clock = systemClock,
    private readonly random: () => number = Math.random,
  ) {
    const aor = parseUri(opts.aor); // throws SipParseError for a malformed AOR
    if (aor.scheme !== 'sip' && aor.scheme !== 'sips') throw new TypeError(`register(): the AOR must be a sip: or sips: URI (${opts.aor})`);
    const expires = opts.expires ?? 3600;
    if (!Number.isInteger(expires) || expires < 1 || expires > 0xffffffff) throw new RangeError(`register(): expires must be a whole number of seconds from 1 (${expires})`);
    this.aor = opts.aor;
    this.asked = expires;
    this.contact = opts.contact;
    const domain = aor.host.includes(':') ? `[${aor.host}]` : aor.host;
    this.registrar = opts.registrar ?? `${aor.scheme}:${domain}${aor.port === undefined ? '' : ':' + aor.port}`;
    this.callId = generateCallId(domain);
    this.subject = new BehaviorSubject<SipRegistrationStatus>({ state: 'registering', expires: undefined });
  }

  /** The current status; `status$` tells each change (and the current one on subscribe). */
  get status(): SipRegistrationStatus {
    return this.subject.value;
  }

  get status$(): Observable<SipRegistrationStatus> {
    return this.subject.asObservable();
  }

  get state(): SipRegistrationState {
    return this.subject.value.state;
  }

  /** Seconds the registrar granted, while registered. */
  get expires(): number | undefined {
    return this.subject.value.expires;
  }

  /** @internal send the first REGISTER (the client does, once it holds the registration). */
  start(): void {
    this.register();
  }

  /**
   * Remove the binding (`Expires: 0`, once a REGISTER still out has its answer) and stop. Resolves
   * when the registrar answered (or could not be reached); the state is then 'unregistered'.
   */
  stop(): Promise<void> {
    return (this.stopping ??= this.unregister());
  }

  private async unregister(): Promise<void> {
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.releaseFlow?.();
    this.releaseFlow = undefined;
    if (this.inFlight !== undefined) await this.inFlight;
    if (this.bound && this.contact !== undefined) {
      this.bound = false;
      await lastValueFrom(this.send(0)).catch(() => undefined);
    }
    this.set({ state: 'unregistered', expires: undefined });
    this.subject.complete();
    this.host.registrationEnded(this);
  }

  /** Send a REGISTER for the binding time asked; its outcome decides what comes next. */
  private register(): void {
    this.timer = undefined;
    if (this.stopping !== undefined) return;
    if (this.state !== 'registered') this.set({ state: 'registering', expires: undefined });
    let done!: () => void;
    this.inFlight = new Promise<void>((resolve) => (done = resolve));
    let final: SipResponse | undefined;
    this.send(this.asked).subscribe({
      next: (res) => {
        if (res.status >= 200) final = res;
      },
      error: (err: unknown) => {
        this.inFlight = undefined;
        this.failed(err);
        done();
      },
      complete: () => {
        this.inFlight = undefined;
        if (final === undefined) this.failed(new Error('REGISTER: no final response'));
        else this.answered(final);
        done();
      },
    });
  }

  private send(expires: number): Observable<SipResponse> {
    const headers: [string, string][] = [
      ['To', `<${this.aor}>`],
      ['From', `<${this.aor}>;tag=${this.fromTag}`],
      ['Call-ID', this.callId],
      ['CSeq', `${this.nextCSeq()} REGISTER`],
    ];
    if (this.contact !== undefined) headers.push(['Contact', this.contact]);
    headers.push(['Expires', String(expires)]);
    for (const [name, value] of Object.entries(this.opts.headers ?? {})) headers.push([name, value]);
    const req = new SipRequest({ method: 'REGISTER', uri: this.registrar, headers });
    const o: BuiltRequestOptions = { nextCSeq: () => this.nextCSeq() };
    if (this.opts.transport !== undefined) o.transport = this.opts.transport;
    if (this.opts.auth !== undefined) o.auth = this.opts.auth;
    // The client writes the Contact of the leg when it addresses the request: keep it for the refreshes.
    return this.host.sendBuilt(req, o).pipe(tap(() => (this.contact ??= req.headers.get('contact'))));
  }

  private nextCSeq(): number {
    this.cseq = this.cseq >= 0x7fffffff ? 1 : this.cseq + 1;
    return this.cseq;
  }

  private answered(res: SipResponse): void {
    const status = res.status;
    if (status >= 200 && status < 300) {
      this.bound = true;
      if (this.stopping !== undefined) return;
      const granted = grantedExpiry(res, this.contact, this.asked);
      if (granted <= 0) {
        this.failed(new Error('REGISTER: the registrar granted no time to the binding'));
        return;
      }
      this.failures = 0;
      this.tooBrief = 0;
      this.releaseFlow?.();
      this.releaseFlow = this.host.watchFlow(res, () => this.flowLost());
      this.set({ state: 'registered', expires: granted });
      this.schedule(refreshAfter(granted, this.opts.refreshMargin ?? 60));
      return;
    }
    if (status === 423 && this.stopping === undefined) {
      // RFC 3261 §10.2.8: ask again with at least Min-Expires.
      const min = Number(res.headers.get('min-expires')?.trim());
      if (Number.isInteger(min) && min > this.asked && min <= 0xffffffff && this.tooBrief < MAX_TOO_BRIEF) {
        this.tooBrief++;
        this.asked = min;
        this.register();
        return;
      }
    }
    this.failed(new SipResponseError(res));
  }

  private failed(err: unknown): void {
    if (this.stopping !== undefined) return;
    this.failures++;
    this.tooBrief = 0;
    this.releaseFlow?.();
    this.releaseFlow = undefined;
    this.set({ state: 'failed', expires: undefined, error: err });
    const retry = this.opts.retry ?? {};
    this.schedule(registrationBackoff(this.failures, { baseTime: retry.baseTime, maxTime: retry.maxTime, allFailed: true }, this.random));
  }

  /** The TCP/TLS connection of the binding broke (RFC 5626 §4.4.1): register again now. */
  private flowLost(): void {
    this.releaseFlow = undefined;
    if (this.stopping !== undefined || this.inFlight !== undefined) return;
    this.clock.clearTimer(this.timer);
    this.set({ state: 'registering', expires: undefined });
    this.register();
  }

  private schedule(seconds: number): void {
    this.clock.clearTimer(this.timer);
    this.timer = this.clock.setTimer(() => this.register(), Math.min(MAX_TIMER_MS, Math.max(0, seconds * 1000)));
  }

  private set(s: SipRegistrationStatus): void {
    const now = this.subject.value;
    if (now.state === s.state && now.expires === s.expires && s.error === undefined) return;
    this.subject.next(s);
  }
}

/**
 * The time the registrar granted (RFC 3261 §10.2.4): the `expires` of our Contact in its 2xx, else
 * its Expires header, else the lone Contact's, else what we asked.
 */
export function grantedExpiry(res: SipResponse, contact: string | undefined, asked: number): number {
  let contacts: Contact[] = [];
  try {
    contacts = res.contacts;
  } catch {
    /* a malformed Contact: use the rest */
  }
  if (contact !== undefined && contacts.length > 0) {
    const ours = sameContact(contact);
    const mine = contacts.find((c) => ours(c.uri));
    if (mine?.expires !== undefined) return mine.expires;
  }
  const header = Number(res.headers.get('expires')?.trim());
  if (Number.isInteger(header) && header >= 0) return header;
  if (contacts.length === 1 && contacts[0]!.expires !== undefined) return contacts[0]!.expires;
  return asked;
}

/** A test for URIs naming the same contact as `contact` (scheme, user, host, port, transport). */
function sameContact(contact: string): (uri: string) => boolean {
  let key: string | undefined;
  try {
    key = contactKey(parseNameAddr(contact, 'Contact').uri);
  } catch {
    return () => false;
  }
  return (uri) => {
    try {
      return contactKey(uri) === key;
    } catch {
      return false;
    }
  };
}

function contactKey(uri: string): string {
  const u = parseUri(uri);
  const transport = u.params.get('transport');
  return `${u.scheme}:${u.user ?? ''}@${u.host.toLowerCase()}:${u.port ?? ''};${transport?.toLowerCase() ?? ''}`;
}

/** Stop every registration, waiting at most `maxMs` for their registrars' answers. */
export async function stopRegistrations(regs: Iterable<SipRegistration>, maxMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)));
  await Promise.race([Promise.all([...regs].map((r) => r.stop())), bound]);
  clearTimeout(timer);
}
