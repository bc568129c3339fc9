import type { SipTransportProto } from '../transaction/index.js';

/**
 * Where the REGISTER that made a binding came from: the flow a request to that contact can be sent
 * back on (RFC 5626, and the only way to reach a contact such as `sip:x@abc.invalid;transport=ws`).
 */
export interface BindingSource {
  /** Transport the REGISTER arrived over. */
  proto: SipTransportProto;
  /** Source address and port of the REGISTER (the far end of the connection for TCP/TLS/WS). */
  addr: string;
  port: number;
  family?: 4 | 6;
  /** The registrar instance (SipRegistrarOptions.node) that received it and holds its connection. */
  node?: string;
  /**
   * The socket pool's connection the REGISTER arrived on (stream transports). Only in the process
   * that received it: a shared store (Redis) does not keep it, `node` says which instance has it.
   */
  connection?: unknown;
}

/** One registered contact of an address-of-record (RFC 3261 §10.3). */
export interface Binding {
  /** The Contact URI (what requests for the AOR are sent or redirected to). */
  uri: string;
  /** Contact header parameters other than expires (q, +sip.instance, reg-id...), as written: `;q=0.5;reg-id=1`. */
  params: string;
  /** Absolute expiry, ms since the epoch. */
  expiresAt: number;
  /** When the binding was last written, ms since the epoch (lookups list the oldest first). */
  updatedAt: number;
  /** Call-ID and CSeq of the REGISTER that last wrote it (a reordered older REGISTER is refused). */
  callId: string;
  cseq: number;
  /** q parameter, 0..1, when given. */
  q?: number;
  /** RFC 5626: the `+sip.instance` parameter (quotes removed), e.g. `<urn:uuid:...>`. */
  instance?: string;
  /** RFC 5626: the `reg-id` parameter. */
  regId?: number;
  /** RFC 5626: the Contact URI carries `;ob` (the UA wants its flow used). */
  ob?: boolean;
  /**
   * RFC 3327: the REGISTER's Path header values (the proxies it came through, nearest the registrar
   * first): a request to this contact is sent through them, as its Route set.
   */
  path?: string[];
  /** Where the REGISTER came from, when the caller passed it. */
  source?: BindingSource;
}

/**
 * What identifies a binding within its AOR: the instance and reg-id when both are given (RFC 5626
 * §6: a new flow of the same instance replaces the old one), else the Contact URI (RFC 3261 §10.3).
 */
export function bindingKey(b: Pick<Binding, 'uri' | 'instance' | 'regId'>): string {
  return b.instance !== undefined && b.regId !== undefined ? `i:${b.instance}#${b.regId}` : `u:${b.uri}`;
}

/** A Contact header value for a binding, with the seconds it has left at `now`. */
export function contactOf(b: Binding, now: number): string {
  return `<${b.uri}>${b.params};expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`;
}
