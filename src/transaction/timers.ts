/**
 * RFC 3261 timer values (§17, Table 4) and this layer's own application timeouts.
 *
 * | timer | meaning                                            | unreliable (UDP)   | reliable (TCP/TLS) |
 * |-------|----------------------------------------------------|--------------------|--------------------|
 * | T1    | RTT estimate                                       | 500 ms             | 500 ms             |
 * | T2    | maximum retransmit interval (non-INVITE, 2xx/G)    | 4 s                | 4 s                |
 * | T4    | maximum time a message stays in the network        | 5 s                | 5 s                |
 * | A     | INVITE request retransmit, doubles                 | T1                 | - (none)           |
 * | B     | INVITE transaction timeout                         | 64*T1              | 64*T1              |
 * | C     | proceeding INVITE (RFC: proxy, > 3 min); here UAC  | 180 s              | 180 s              |
 * | D     | wait for response retransmits (client INVITE)      | 32 s (>= 64*T1)    | 0                  |
 * | E     | non-INVITE request retransmit, doubles up to T2    | T1                 | - (none)           |
 * | F     | non-INVITE transaction timeout                     | 64*T1              | 64*T1              |
 * | G     | INVITE final response retransmit, up to T2         | T1                 | - (none)           |
 * | H     | wait for ACK receipt                               | 64*T1              | 64*T1              |
 * | I     | wait for ACK retransmits                           | T4                 | 0                  |
 * | J     | wait for non-INVITE request retransmits            | 64*T1              | 0                  |
 * | K     | wait for response retransmits (client non-INVITE)  | T4                 | 0                  |
 * | L     | RFC 6026 Accepted (server): wait for 2xx ACK       | 64*T1              | 64*T1              |
 * | M     | RFC 6026 Accepted (client): absorb/forward 2xx     | 64*T1              | 64*T1              |
 *
 * The 2xx retransmission of a UAS (RFC 3261 §13.3.1.4) uses G's schedule (T1, doubling, capped at
 * T2) until the ACK arrives or L fires.
 */
export interface TimerOptions {
  /** RTT estimate, default 500 ms. */
  T1?: number;
  /** Maximum retransmit interval, default 4000 ms. */
  T2?: number;
  /** Maximum message lifetime in the network, default 5000 ms. */
  T4?: number;
  /** Timer D over unreliable transports; default max(32000, 64*T1). */
  D?: number;
  /**
   * Timer C of a client INVITE that got a provisional response but no final one: when it fires
   * the layer sends CANCEL and, if no final response follows within 64*T1, fails the transaction
   * with a SipTimeoutError (timer 'C'). Default 180000 ms; 0 disables.
   */
  C?: number;
  /** Send `100 Trying` for an INVITE the application has not answered within this time. Default 200 ms; `false` disables. */
  trying100?: number | false;
  /**
   * A server INVITE transaction the application has not answered with a final response within
   * this time is answered `408 Request Timeout` by the layer (and its signal aborted). Default 180000 ms.
   */
  serverInviteTimeout?: number;
  /**
   * Same for every other method, answered `500 Server Internal Error`. Default 32000 ms (64*T1 at
   * the default T1: the time a client waits, Timer F).
   */
  serverNonInviteTimeout?: number;
  /**
   * RFC 3261 lets Timer A double without a cap (T1, 2T1, 4T1... 32T1). Some stacks cap it at T2 like
   * Timer E; set true for that. Default false.
   */
  capInviteRetransmit?: boolean;
}

/** Resolved timer values for one kind of transport (reliable or not). All in milliseconds. */
export interface TimerValues {
  readonly reliable: boolean;
  readonly T1: number;
  readonly T2: number;
  readonly T4: number;
  /** Initial Timer A; 0 = no retransmission (reliable transport). */
  readonly A: number;
  readonly B: number;
  readonly C: number;
  readonly D: number;
  /** Initial Timer E; 0 = no retransmission. */
  readonly E: number;
  readonly F: number;
  /** Initial Timer G (and 2xx retransmission); 0 = no retransmission. */
  readonly G: number;
  readonly H: number;
  readonly I: number;
  readonly J: number;
  readonly K: number;
  readonly L: number;
  readonly M: number;
  readonly trying100: number | false;
  readonly serverInviteTimeout: number;
  readonly serverNonInviteTimeout: number;
  readonly capInviteRetransmit: boolean;
}

export const DEFAULT_T1 = 500;
export const DEFAULT_T2 = 4000;
export const DEFAULT_T4 = 5000;

function positive(name: string, v: number | undefined, dflt: number, allowZero = false): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new RangeError(`timer ${name} must be a ${allowZero ? 'non-negative' : 'positive'} finite number of milliseconds, got ${String(v)}`);
  }
  return v;
}

/** Both sets of values (unreliable, reliable) from the options. */
export function resolveTimers(opts: TimerOptions = {}): { unreliable: TimerValues; reliable: TimerValues } {
  const T1 = positive('T1', opts.T1, DEFAULT_T1);
  const T2 = positive('T2', opts.T2, Math.max(DEFAULT_T2, T1));
  const T4 = positive('T4', opts.T4, DEFAULT_T4);
  const D = positive('D', opts.D, Math.max(32000, 64 * T1), true);
  const C = positive('C', opts.C, 180000, true);
  const t100: number | false = opts.trying100 === false ? false : positive('trying100', opts.trying100, 200, true);
  const sInv = positive('serverInviteTimeout', opts.serverInviteTimeout, 180000);
  const sNon = positive('serverNonInviteTimeout', opts.serverNonInviteTimeout, 64 * T1);
  const t64 = 64 * T1;
  const common = {
    T1,
    T2,
    T4,
    B: t64,
    C,
    F: t64,
    H: t64,
    L: t64,
    M: t64,
    trying100: t100,
    serverInviteTimeout: sInv,
    serverNonInviteTimeout: sNon,
    capInviteRetransmit: opts.capInviteRetransmit === true,
  };
  const unreliable: TimerValues = Object.freeze({ ...common, reliable: false, A: T1, D, E: T1, G: T1, I: T4, J: t64, K: T4 });
  const reliable: TimerValues = Object.freeze({ ...common, reliable: true, A: 0, D: 0, E: 0, G: 0, I: 0, J: 0, K: 0 });
  return { unreliable, reliable };
}

/** Timer values for one transport kind. */
export function timerValues(opts: TimerOptions | undefined, reliable: boolean): TimerValues {
  const r = resolveTimers(opts);
  return reliable ? r.reliable : r.unreliable;
}
