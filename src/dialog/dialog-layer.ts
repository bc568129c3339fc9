import type { SipRequest, SipResponse } from '../message/index.js';
import type { ServerTransaction } from '../transaction/index.js';
import { SipDialog, type DialogOwner, type DialogRefusal } from './dialog.js';
import { dialogKey, MemoryDialogStore, type DialogStore } from './dialog-store.js';
import { own, ownOrUndefined } from './own-string.js';
import type { DialogFlow, DialogSender } from './types.js';

export interface DialogLayerOptions {
  /** Most dialogs kept at once (early and confirmed); new dialog-creating requests over it get 503. Default 100,000. */
  maxDialogs?: number;
  /** Where dialogs are kept; default in memory. */
  store?: DialogStore;
  /**
   * An in-dialog request (To tag) that matches no dialog: `'reject'` answers 481 (RFC 3261
   * §12.2.2, the default); `'handler'` hands it to the application without a dialog (for an
   * application that keeps dialogs of its own, or routes them elsewhere).
   */
  unmatched?: 'reject' | 'handler';
}

/** Requests that never belong to a dialog, even with a To tag (RFC 3261 §10: REGISTER; RFC 3903: PUBLISH). */
const OUTSIDE_DIALOGS = new Set(['REGISTER', 'PUBLISH']);
/** Methods whose 2xx creates a dialog at the UAS (RFC 3261 §12.1, RFC 6665, RFC 3515). */
const CREATES_DIALOG = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);
/** Methods whose answer creates a dialog or changes one (target refresh: INVITE, UPDATE). */
const TOUCHES_DIALOG = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'UPDATE']);

/**
 * The dialog table of one endpoint (RFC 3261 §12): creates dialogs from the responses that
 * establish them, on both sides; matches the peer's in-dialog requests to them (481, 500 for a
 * CSeq out of order, 491); keeps target refreshes; bounded.
 */
export class DialogLayer implements DialogOwner {
  readonly store: DialogStore;
  readonly maxDialogs: number;
  /** Sends the requests of dialogs this endpoint answered (UAS side); set by the server. */
  sender: DialogSender | undefined = undefined;
  /** The Contact of our dialog-creating responses, for the leg the request came in on. */
  contactFor: ((txn: ServerTransaction) => string | undefined) | undefined = undefined;
  /** Told of every dialog created, either side (after it is in the table). */
  onCreated: ((dialog: SipDialog, request: SipRequest) => void) | undefined = undefined;
  /** Dialogs created, ever (the store's size is the live count). */
  created = 0;
  /** In-dialog requests that matched no dialog. */
  unmatchedCount = 0;
  private readonly passUnmatched: boolean;

  constructor(opts: DialogLayerOptions = {}) {
    this.store = opts.store ?? new MemoryDialogStore();
    this.maxDialogs = opts.maxDialogs ?? 100_000;
    this.passUnmatched = opts.unmatched === 'handler';
  }

  get size(): number {
    return this.store.size;
  }

  /** No room for another dialog: dialog-creating requests should get 503. */
  get full(): boolean {
    return this.store.size >= this.maxDialogs;
  }

  /** True when `req` is in a dialog (a To tag, and a method that can be). */
  static inDialog(req: SipRequest): boolean {
    return req.to.tag !== undefined && !OUTSIDE_DIALOGS.has(req.method);
  }

  get(callId: string, localTag: string, remoteTag: string): SipDialog | undefined {
    return this.store.get(dialogKey(callId, localTag, remoteTag));
  }

  /** The dialog of a request we received (its To tag is ours), if any. */
  ofRequest(req: SipRequest): SipDialog | undefined {
    const local = req.to.tag;
    const remote = req.from.tag;
    return local === undefined ? undefined : this.store.get(dialogKey(req.callId, local, remote ?? ''));
  }

  /** The dialog a response to our request belongs to (its From tag is ours). */
  ofResponse(res: SipResponse): SipDialog | undefined {
    const local = res.from.tag;
    const remote = res.to.tag;
    return local === undefined || remote === undefined ? undefined : this.store.get(dialogKey(res.callId, local, remote));
  }

  /** The dialog a server transaction's request created or runs in (once a response created it). */
  ofServerTransaction(txn: ServerTransaction): SipDialog | undefined {
    const req = txn.request;
    return this.store.get(dialogKey(req.callId, req.to.tag ?? txn.toTag, req.from.tag ?? ''));
  }

  /**
   * A peer's request with a To tag: its dialog (the request accepted into it), or how to refuse
   * it: 481 when no dialog matches (§12.2.2), 500 for a CSeq out of order, 491 / 500 for an
   * INVITE crossing another (§14). Undefined when it matches none and `unmatched` is 'handler'.
   */
  receive(req: SipRequest): SipDialog | DialogRefusal | undefined {
    const d = this.ofRequest(req);
    if (d === undefined) {
      this.unmatchedCount++;
      return this.passUnmatched ? undefined : { status: 481 };
    }
    return d._receive(req) ?? d;
  }

  /** The ACK for a 2xx of ours: to its dialog. */
  ack(ack: SipRequest): SipDialog | undefined {
    const d = this.ofRequest(ack);
    d?._ack(ack);
    return d;
  }

  /**
   * A server transaction is sending `res` (TransactionLayer's onResponse): dialog-creating
   * responses get our Contact (unless the application set one) and create or confirm the UAS
   * dialog; a final answer to an in-dialog request updates its dialog; a failure ends an early one.
   */
  responding(txn: ServerTransaction, res: SipResponse): void {
    const status = res.status;
    const method = txn.method;
    // Only these answers make or change a dialog; the rest (OPTIONS, REGISTER, BYE...) leave at once.
    if (status === 100 || !TOUCHES_DIALOG.has(method)) return;
    const req = txn.request;
    if (req.to.tag !== undefined) {
      if (status >= 200 && this.store.size > 0) {
        const d = this.ofRequest(req);
        if (d !== undefined) {
          d._answered(req, res);
          if (status < 300 && method === 'INVITE' && !res.headers.has('contact')) this.addContact(txn, res, d);
        }
      }
      return;
    }
    if (!CREATES_DIALOG.has(method)) return;
    if (status >= 300) {
      if (method === 'INVITE' && this.store.size > 0) this.ofServerTransaction(txn)?._end(txn.cancelRequest !== undefined ? 'cancelled' : 'rejected', 'local', status);
      return;
    }
    if (status < 200 && method !== 'INVITE') return;
    if (!res.headers.has('contact')) this.addContact(txn, res, undefined);
    const tag = res.to.tag;
    if (tag === undefined) return;
    const remoteTag = req.from.tag ?? '';
    const key = dialogKey(req.callId, tag, remoteTag);
    const known = this.store.get(key);
    if (known !== undefined) {
      known.localContact = ownOrUndefined(res.headers.get('contact')) ?? known.localContact;
      known._confirm(res, undefined);
      if (res.body.length > 0) known._noteSdp(res, false);
      return;
    }
    if (this.full) return; // admission answers 503 before this; a burst past it stays untracked
    const d = new SipDialog(
      {
        role: 'uas',
        callId: own(req.callId),
        localTag: own(tag),
        remoteTag: own(remoteTag),
        localHeader: own(res.headers.get('to')!),
        remoteHeader: own(req.headers.get('from')!),
        remoteTarget: own(req.contacts[0]?.uri ?? req.from.uri),
        routeSet: req.headers.getAll('record-route').map(own),
        localCSeq: undefined,
        remoteCSeq: req.cseq.seq,
        localContact: ownOrUndefined(res.headers.get('contact')),
        secure: req.requestUri.scheme === 'sips' && (txn.from.proto === 'tls' || txn.from.proto === 'wss'),
        transport: txn.from.proto,
        state: status < 200 ? 'early' : 'confirmed',
        flow: txn.from.proto === 'udp' ? undefined : txn.from,
      },
      own(key),
      this.sender,
      this,
    );
    if (req.body.length > 0) d._noteSdp(req);
    if (res.body.length > 0) d._noteSdp(res, false);
    this.add(d, req);
  }

  /**
   * A response to a dialog-creating request we sent (`invite`): a 1xx with a To tag makes an early
   * dialog, a 2xx a confirmed one (each fork its own). Returns it. `flow`: the connection the
   * INVITE was sent down on purpose (a WebSocket client's, whose Contact has no address): the
   * dialog's requests go back down it while no proxy is in the path.
   */
  fromUacResponse(invite: SipRequest, res: SipResponse, sender: DialogSender | undefined, transport: string, flow?: DialogFlow): SipDialog | undefined {
    const status = res.status;
    if (status <= 100 || status >= 300) return undefined;
    const remoteTag = res.to.tag;
    const localTag = invite.from.tag;
    if (remoteTag === undefined || localTag === undefined) return undefined;
    const key = dialogKey(invite.callId, localTag, remoteTag);
    const target = res.contacts[0]?.uri;
    const known = this.store.get(key);
    if (known !== undefined) {
      known._confirm(res, target);
      return known;
    }
    if (this.full) return undefined;
    const rr = res.headers.getAll('record-route').map(own);
    rr.reverse();
    const d = new SipDialog(
      {
        role: 'uac',
        callId: own(invite.callId),
        localTag: own(localTag),
        remoteTag: own(remoteTag),
        localHeader: own(invite.headers.get('from')!),
        remoteHeader: own(res.headers.get('to')!),
        remoteTarget: own(target ?? invite.uri),
        routeSet: rr,
        localCSeq: invite.cseq.seq,
        remoteCSeq: undefined,
        localContact: ownOrUndefined(invite.headers.get('contact')),
        secure: invite.requestUri.scheme === 'sips',
        transport,
        state: status < 200 ? 'early' : 'confirmed',
        flow,
      },
      own(key),
      sender,
      this,
    );
    if (status >= 200 && res.body.length > 0) d._noteSdp(res);
    if (invite.body.length > 0) d._noteSdp(invite, false);
    this.add(d, invite);
    return d;
  }

  /** End every dialog (the endpoint closes); no BYE is sent. */
  closeAll(): void {
    for (const d of [...this.store.values()]) d._end('closed', 'local');
  }

  dialogEnded(dialog: SipDialog): void {
    if (this.store.get(dialog.key) === dialog) this.store.delete(dialog.key);
  }

  private add(d: SipDialog, req: SipRequest): void {
    this.store.set(d.key, d);
    this.created++;
    this.onCreated?.(d, req);
  }

  private addContact(txn: ServerTransaction, res: SipResponse, d: SipDialog | undefined): void {
    const contact = d?.localContact ?? this.contactFor?.(txn);
    if (contact !== undefined) res.headers.set('Contact', contact);
  }
}

