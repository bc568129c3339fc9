import type { SipMessage } from '../message/index.js';
import { AdmissionGate } from './admission.js';
import { systemClock, type Clock } from './clock.js';
import { TransactionStats } from './core.js';
import type { AnyTransaction, TransactionLayerHooks, TransactionLayerOptions } from './layer-options.js';
import type { TransactionMetrics } from './metrics-hooks.js';
import { DeadlineList } from './deadline-list.js';
import { TimerQueue } from './timer-queue.js';
import { resolveTimers, type TimerValues } from './timers.js';
import type { SipDestination, TransactionTransport } from './types.js';

/**
 * What the transaction layer shares with everything it runs, apart from matching: its transport,
 * clock, timers and counters, the user's hooks (each call guarded: a hook that throws goes to
 * onError), and the count of open transactions per connection. TransactionLayer adds the
 * transaction tables and the matching of messages to them.
 */
export abstract class LayerBase {
  readonly transport: TransactionTransport;
  readonly clock: Clock;
  readonly queue: TimerQueue;
  readonly stats = new TransactionStats();
  readonly timers: { unreliable: TimerValues; reliable: TimerValues };
  readonly serverHeader: string | undefined;
  readonly maxCompleted: number;
  /** The admission gate (overload control), when configured. */
  readonly admission: AdmissionGate | undefined;
  readonly metrics: TransactionMetrics | undefined;
  /** Server transactions waiting for the application: non-INVITE (serverNonInviteTimeout), INVITE (serverInviteTimeout). */
  private readonly appDeadline: readonly [DeadlineList, DeadlineList];

  onRequest: TransactionLayerHooks['onRequest'];
  onAck: TransactionLayerHooks['onAck'];
  onStray: TransactionLayerHooks['onStray'];
  onUnacked: TransactionLayerHooks['onUnacked'];
  onResponse: TransactionLayerHooks['onResponse'];
  onOpen: TransactionLayerHooks['onOpen'];
  onClose: TransactionLayerHooks['onClose'];
  onError: TransactionLayerHooks['onError'];

  constructor(opts: TransactionLayerOptions) {
    this.transport = opts.transport;
    this.clock = opts.clock ?? systemClock;
    this.queue = new TimerQueue(this.clock);
    this.queue.onError = (err) => this.reportError(err);
    this.timers = resolveTimers(opts.timers);
    const t = this.timers.unreliable; // the application timeouts are the same for every transport
    this.appDeadline = [new DeadlineList(this.queue, t.serverNonInviteTimeout), new DeadlineList(this.queue, t.serverInviteTimeout)];
    this.serverHeader = opts.serverHeader;
    this.maxCompleted = opts.maxCompleted ?? 200_000;
    this.admission = opts.admission === undefined ? undefined : new AdmissionGate(opts.admission, this.clock);
    this.metrics = opts.metrics;
    this.onRequest = opts.onRequest;
    this.onAck = opts.onAck;
    this.onStray = opts.onStray;
    this.onUnacked = opts.onUnacked;
    this.onResponse = opts.onResponse;
    this.onOpen = opts.onOpen;
    this.onClose = opts.onClose;
    this.onError = opts.onError;
  }

  /** Server transactions alive. */
  get serverCount(): number {
    return this.stats.serverActive;
  }

  /**
   * Number of open transactions (either side, reliable transports) on this connection: a walk of
   * the open transactions (a diagnostic; the per-request path keeps no count per connection, the
   * pool holds its connections through onOpen/onClose).
   */
  abstract openOn(socket: unknown): number;

  /** True if a transaction is open on this connection: the pool must not expire it (a walk, as openOn). */
  busy(socket: unknown): boolean {
    return this.openOn(socket) > 0;
  }

  /** Timers in `queue` that are the layer's own (the deadline lists'), not any transaction's. */
  get ownTimers(): number {
    return (this.appDeadline[0].armed ? 1 : 0) + (this.appDeadline[1].armed ? 1 : 0);
  }

  /** Where a server transaction waits for its application's answer. */
  appDeadlines(invite: boolean): DeadlineList {
    return this.appDeadline[invite ? 1 : 0];
  }

  timersFor(reliable: boolean): TimerValues {
    return reliable ? this.timers.reliable : this.timers.unreliable;
  }

  /** Send a message outside any transaction (ACK for a 2xx, stateless answers). */
  sendStateless(msg: SipMessage | Buffer, dst: SipDestination): Promise<void> {
    try {
      return this.transport.send(msg, dst);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  reportError(err: unknown, txn?: AnyTransaction): void {
    const h = this.onError;
    if (h === undefined) return;
    try {
      h(err, txn);
    } catch {
      // an error handler that throws has nowhere left to report to
    }
  }

  protected opened(peer: SipDestination, txn: AnyTransaction): void {
    this.call2(this.onOpen, peer, txn, txn);
  }

  protected closedOn(peer: SipDestination, txn: AnyTransaction): void {
    this.call2(this.onClose, peer, txn, txn);
  }

  /** Call a hook; what it throws goes to onError (a hook must not break the layer). Fixed arity: no rest array per call. */
  protected call2<A, B>(h: ((a: A, b: B) => void) | undefined, a: A, b: B, txn: AnyTransaction | undefined): void {
    if (h === undefined) return;
    try {
      h(a, b);
    } catch (err) {
      this.reportError(err, txn);
    }
  }

  protected call3<A, B, C>(h: ((a: A, b: B, c: C) => void) | undefined, a: A, b: B, c: C, txn: AnyTransaction | undefined): void {
    if (h === undefined) return;
    try {
      h(a, b, c);
    } catch (err) {
      this.reportError(err, txn);
    }
  }
}
