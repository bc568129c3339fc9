import { SipParseError, validateRequest, type SipMessage, type SipRequest, type SipResponse } from '../message/index.js';
import { ClientTransaction, NonInviteClientTransaction, type ClientTransactionCore, type ClientTransactionHandlers } from './client-transaction.js';
import { InviteClientTransaction } from './invite-client-transaction.js';
import { SipTransactionError } from './errors.js';
import { ADMIT, REJECT } from './admission.js';
import { ShardedMap } from './sharded-map.js';
import { ackDialogKey, clientKey, isRfc3261Branch, serverKey, stampVia } from './messages.js';
import { NonInviteServerTransaction, ServerTransaction, type ServerTransactionCore } from './server-transaction.js';
import { InviteServerTransaction } from './invite-server-transaction.js';
import { ServerTable } from './server-table.js';
import type { TimerEntry, TimerTarget } from './timer-queue.js';
import type { SipDestination, SipPeer } from './types.js';
import type { TransactionLayerOptions } from './layer-options.js';
import { LayerBase } from './layer-base.js';
import { errorResponse, rejectResponse } from './stateless-replies.js';

export type { AnyTransaction, TransactionLayerHooks, TransactionLayerOptions } from './layer-options.js';

/**
 * RFC 3261 §17 transaction layer: matches incoming messages to transactions, creates server
 * transactions for new requests, runs client transactions for outgoing requests, and owns every
 * timer (one TimerQueue, one real timer).
 *
 * Upper layers use: `receive(msg, from)` for every parsed message from the transport,
 * `request(req, dst, handlers)` to send a request, `sendStateless(msg, dst)` for what needs no
 * transaction (ACK for 2xx), `busy(socket)`, `stats`, `drain(ms)` and `close()`.
 */
export class TransactionLayer extends LayerBase implements ServerTransactionCore, ClientTransactionCore {
  /**
   * Open server transactions by key, and the non-INVITE UDP ones in Completed state reduced to
   * what Timer J needs: one lookup per request finds a retransmission of either. @internal
   */
  readonly servers: ServerTable;
  private readonly clients = new ShardedMap<ClientTransaction>();
  /** INVITE server transactions in Accepted state, by dialog + CSeq number, for the 2xx ACK. */
  private readonly accepted = new ShardedMap<InviteServerTransaction>();
  private readonly stamp: boolean;
  private readonly validate: boolean;
  private closedFlag = false;
  private drainWaiters: (() => void)[] | undefined = undefined;
  private drainTimer: TimerEntry | undefined = undefined;

  constructor(opts: TransactionLayerOptions) {
    super(opts);
    this.stamp = opts.stampVia !== false;
    this.validate = opts.validate !== false;
    this.servers = new ServerTable(this.queue, this.maxCompleted);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Non-INVITE UDP transactions in Completed state (kept as compact records until Timer J). */
  get completedCount(): number {
    return this.servers.completedSize;
  }

  /** Client transactions alive. */
  get clientCount(): number {
    return this.clients.size;
  }

  openOn(socket: unknown): number {
    let n = 0;
    for (const t of this.servers.openTransactions()) if (t.reliable && t.state !== 'terminated' && t.from.socket === socket) n++;
    for (const t of this.clients.values()) if (t._opened && t.state !== 'terminated' && t.dst.socket === socket) n++;
    return n;
  }

  // ---------------------------------------------------------------- inbound

  /** Hand every parsed message from the transport here. Never throws. */
  receive(msg: SipMessage, from: SipPeer): void {
    if (this.closedFlag) return;
    try {
      if (msg.isRequest()) this.receiveRequest(msg, from);
      else this.receiveResponse(msg as SipResponse, from);
    } catch (err) {
      this.reportError(err);
    }
  }

  private receiveRequest(req: SipRequest, from: SipPeer): void {
    const method = req.method;
    let key: string;
    let h: number;
    let via;
    try {
      via = req.topVia;
      if (via === undefined) throw new SipParseError('Missing Via header');
      const cseq = req.cseq;
      if (cseq.method !== method) throw new SipParseError('CSeq method does not match the request method');
      // A transaction's responses need the To (its tag): without one, answer statelessly (RFC 4475 insuf).
      if (!req.headers.has('to')) throw new SipParseError('Missing To header');
      key = serverKey(req, via, method === 'ACK' ? 'INVITE' : method);
      h = this.servers.hash(key);
    } catch (err) {
      this.stats.malformed++;
      if (method !== 'ACK') this.statelessError(req, from, err);
      return;
    }

    if (method === 'ACK') {
      this.receiveAck(req, from, key, h);
      return;
    }
    const existing = this.servers.find(key, h);
    if (typeof existing === 'object') {
      existing._retransmission(req, from);
      return;
    }
    if (existing !== undefined) {
      const done = this.servers.record(existing);
      this.stats.requestsAbsorbed++;
      this.stats.responsesRetransmitted++;
      this.sendStateless(done.wire, done.from).catch((err: unknown) => this.reportError(err));
      return;
    }
    const gate = this.admission;
    if (gate !== undefined && method !== 'CANCEL') {
      const verdict = gate.check(from.addr, req, this.stats.serverActive);
      if (verdict !== ADMIT) {
        if (verdict === REJECT) this.statelessReject(req, from, gate.retryAfter);
        return;
      }
    }
    if (this.stamp) stampVia(req, from);
    const invalid = this.validate ? validateRequest(req) : undefined;

    if (method === 'CANCEL' && invalid === undefined) {
      this.receiveCancel(req, from, key, h, via);
      return;
    }

    const txn = method === 'INVITE' ? new InviteServerTransaction(req, from, key, this) : new NonInviteServerTransaction(req, from, key, this);
    this.addServer(txn, h);
    if (invalid !== undefined) {
      this.stats.malformed++;
      void txn.respond(invalid.status, invalid.reason);
      return;
    }
    txn._start(true);
    const handler = this.onRequest;
    if (handler === undefined) {
      void txn.respond(500, 'No Request Handler');
      return;
    }
    try {
      handler(txn);
    } catch (err) {
      this.reportError(err, txn);
      if (!txn.finalSent && txn.state !== 'terminated') void txn.respond(500);
    }
  }

  private receiveAck(ack: SipRequest, from: SipPeer, key: string, h: number): void {
    const txn = this.servers.find(key, h);
    if (typeof txn === 'object' && txn.isInvite) {
      (txn as InviteServerTransaction)._ack(ack, from);
      return;
    }
    if (this.accepted.size > 0) {
      let dialogKey: string | undefined;
      try {
        dialogKey = ackDialogKey(ack.callId, ack.cseq.seq, ack.from.tag, ack.to.tag);
      } catch {
        dialogKey = undefined;
      }
      const acc = dialogKey === undefined ? undefined : this.accepted.get(dialogKey);
      if (acc !== undefined) {
        acc._ack(ack, from);
        return;
      }
    }
    this.stats.strayAcks++;
    this.call3(this.onAck, ack, from, undefined, undefined);
  }

  /** RFC 3261 §9.2: 200 to a CANCEL that matches an INVITE (which gets 487 if still pending), else 481. */
  private receiveCancel(cancel: SipRequest, from: SipPeer, key: string, h: number, via: NonNullable<SipRequest['topVia']>): void {
    const inviteKey = serverKey(cancel, via, 'INVITE');
    const found = this.servers.find(inviteKey, this.servers.hash(inviteKey));
    const invite = typeof found === 'object' && found.isInvite ? (found as InviteServerTransaction) : undefined;
    const txn = new NonInviteServerTransaction(cancel, from, key, this);
    this.addServer(txn, h);
    if (invite === undefined) {
      this.stats.cancelsUnmatched++;
      void txn.respond(481);
      return;
    }
    this.stats.cancelsMatched++;
    txn._useToTag(invite.toTag);
    void txn.respond(200);
    invite._cancel(cancel);
  }

  private receiveResponse(res: SipResponse, from: SipPeer): void {
    let key: string | undefined;
    try {
      const branch = res.topVia?.branch;
      if (branch !== undefined) key = clientKey(branch, res.cseq.method);
    } catch {
      this.stats.malformed++;
      return;
    }
    const txn = key === undefined ? undefined : this.clients.get(key);
    if (txn !== undefined) {
      txn._response(res, from);
      return;
    }
    this.stats.strayResponses++;
    this.call2(this.onStray, res, from, undefined);
  }

  /** 503 with Retry-After and no transaction kept (RFC 3261 §21.5.4): the cheap answer of an overloaded server. */
  private statelessReject(req: SipRequest, from: SipPeer, retryAfter: number): void {
    const res = rejectResponse(req, retryAfter, this.serverHeader);
    if (res !== undefined) this.sendStateless(res, from).catch((e: unknown) => this.reportError(e));
  }

  /** Answer a request that cannot get a transaction (no Via, bad CSeq...), when a response can be built. */
  private statelessError(req: SipRequest, from: SipPeer, err: unknown): void {
    const res = errorResponse(req, err, this.serverHeader);
    if (res !== undefined) this.sendStateless(res, from).catch((e: unknown) => this.reportError(e));
  }

  // ---------------------------------------------------------------- outbound

  /**
   * Start a client transaction: sends `req` to `dst` now, retransmits and times out per §17.1.
   * The request must carry a top Via with an RFC 3261 branch (z9hG4bK...) unique to it, and its
   * CSeq method must be its method. ACK is refused (use sendStateless). Throws
   * SipTransactionError 'ERR_SIP_TXN_INVALID' for such requests and 'ERR_SIP_LAYER_CLOSED' after
   * close(); transport failures arrive later through onError / `result`.
   */
  request(req: SipRequest, dst: SipDestination, handlers?: ClientTransactionHandlers): ClientTransaction {
    if (this.closedFlag) throw new SipTransactionError('ERR_SIP_LAYER_CLOSED', 'transaction layer closed');
    const method = req.method;
    if (method === 'ACK') throw new SipTransactionError('ERR_SIP_TXN_INVALID', 'ACK has no client transaction: use sendStateless()');
    let branch: string | undefined;
    try {
      branch = req.topVia?.branch;
      if (req.cseq.method !== method) throw new SipTransactionError('ERR_SIP_TXN_INVALID', `CSeq method ${req.cseq.method} is not ${method}`);
    } catch (err) {
      if (err instanceof SipTransactionError) throw err;
      throw new SipTransactionError('ERR_SIP_TXN_INVALID', `request cannot start a transaction: ${(err as Error).message}`);
    }
    if (!isRfc3261Branch(branch)) throw new SipTransactionError('ERR_SIP_TXN_INVALID', 'request needs a top Via with an RFC 3261 branch (z9hG4bK...)');
    const key = clientKey(branch, method);
    if (this.clients.has(key)) throw new SipTransactionError('ERR_SIP_TXN_INVALID', `a ${method} transaction with branch ${branch} is already open`);
    const txn =
      method === 'INVITE' ? new InviteClientTransaction(req, dst, key, branch, handlers, this) : new NonInviteClientTransaction(req, dst, key, branch, handlers, this);
    this.clients.set(key, txn);
    this.stats.clientCreated++;
    this.stats.clientActive++;
    this.stats.pending++;
    this.metrics?.clientStart?.(txn);
    txn._start();
    return txn;
  }

  /** Send a message outside any transaction (ACK for a 2xx, stateless answers). */
  /**
   * End a client transaction that has no final response yet with `reason`, as a transport failure
   * does (RFC 3261 §17.1.4): the connection carrying it died, or its caller abandoned it. Its
   * onError handler gets `reason`; its timers stop. Returns false when it had already ended.
   */
  abandon(txn: ClientTransaction, reason: unknown): boolean {
    if (txn.terminated || txn.finalResponse !== undefined) return false;
    txn._shutdown(reason);
    return true;
  }

  sendCancel(cancel: SipRequest, dst: SipDestination): ClientTransaction | undefined {
    if (this.closedFlag) return undefined;
    this.stats.cancelsSent++;
    try {
      return this.request(cancel, dst);
    } catch (err) {
      this.reportError(err);
      return undefined;
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Wait until no transaction waits for a final response (or `timeoutMs` passed), then close().
   * Transactions that only absorb retransmissions (Completed, Confirmed, Accepted) do not hold it up.
   */
  drain(timeoutMs: number): Promise<void> {
    if (this.closedFlag) return Promise.resolve();
    if (this.stats.pending === 0) {
      this.close();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      (this.drainWaiters ??= []).push(resolve);
      if (this.drainTimer === undefined) {
        const target: TimerTarget = { onTimer: () => this.close() };
        this.drainTimer = this.queue.schedule(timeoutMs, target);
      }
    });
  }

  /**
   * Terminate every transaction at once and stop every timer. Server transactions get their
   * signal aborted (SipTransactionError 'ERR_SIP_LAYER_CLOSED'; a later respond() rejects with
   * it); client transactions without a final response fail with it (onError, `result`).
   * receive() ignores everything afterwards; request() throws. Idempotent.
   */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    const err = new SipTransactionError('ERR_SIP_LAYER_CLOSED', 'transaction layer closed');
    for (const txn of this.servers.openTransactions()) txn._shutdown(err);
    for (const txn of [...this.clients.values()]) txn._shutdown(err);
    this.servers.clear();
    this.clients.clear();
    this.accepted.clear();
    this.queue.close();
    this.drainTimer = undefined;
    const waiters = this.drainWaiters;
    this.drainWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w();
  }

  // ---------------------------------------------------------------- TransactionCore (internal)

  settled(): void {
    this.stats.pending--;
    if (this.drainWaiters !== undefined && this.stats.pending === 0) queueMicrotask(() => this.close());
  }

  retainCompleted(txn: ServerTransaction, wire: Buffer, ms: number): void {
    const t = this.servers;
    const before = t.evicted;
    t.retain(txn, wire, ms);
    if (t.evicted !== before) this.stats.completedEvicted++;
  }

  serverTerminated(txn: ServerTransaction): void {
    this.metrics?.serverEnd?.(txn);
    // A retained one's key already maps to its record.
    if (!txn._retained) this.servers.remove(txn);
    this.stats.serverActive--;
    if (txn.isInvite) {
      const k = (txn as InviteServerTransaction)._ackKey;
      if (k !== undefined && this.accepted.get(k) === txn) this.accepted.delete(k);
    }
    if (txn.reliable) this.closedOn(txn.from, txn);
  }

  registerAccepted(txn: InviteServerTransaction, ackKey: string): void {
    this.accepted.set(ackKey, txn);
  }

  ackReceived(ack: SipRequest, from: SipPeer, txn: InviteServerTransaction): void {
    this.call3(this.onAck, ack, from, txn, txn);
  }

  unacked(txn: InviteServerTransaction, res: SipResponse): void {
    this.call2(this.onUnacked, txn, res, txn);
  }

  responding(txn: ServerTransaction, res: SipResponse): void {
    this.metrics?.serverResponse(txn, res);
    this.call2(this.onResponse, txn, res, txn);
  }

  clientTerminated(txn: ClientTransaction): void {
    if (this.clients.get(txn.key) === txn) this.clients.delete(txn.key);
    this.stats.clientActive--;
    if (txn._opened) this.closedOn(txn.dst, txn);
  }

  clientSent(txn: ClientTransaction): void {
    if (txn._opened || txn.state === 'terminated') return;
    txn._opened = true;
    this.opened(txn.dst, txn);
  }

  private addServer(txn: ServerTransaction, h: number): void {
    this.metrics?.serverRequest(txn);
    this.servers.add(txn, h);
    this.stats.serverCreated++;
    this.stats.serverActive++;
    this.stats.pending++;
    if (txn.reliable) this.opened(txn.from, txn);
  }

}
