import type { Observable } from 'rxjs';
import { DialogLayer, SipDialog } from '../dialog/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import type { ServerTransaction } from '../transaction/index.js';
import type { SipClientRequest } from './sip-client-options.js';

/** What placing a call needs from the client. */
export interface CallPlacer {
  send<T>(pattern: unknown, data: SipClientRequest | SipRequest): Observable<T>;
  dialogOf(response: SipResponse): SipDialog | undefined;
  ackSent(response: SipResponse): Promise<void>;
}

export interface PlaceCallOptions {
  /** Aborting it before the answer sends CANCEL; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Each provisional response (180, 183...). */
  onProvisional?: (res: SipResponse) => void;
}

/**
 * INVITE, then the dialog of its 2xx once our ACK left (so that what the caller sends next, a BYE,
 * cannot pass it); a non-2xx rejects with its SipResponseError.
 */
export function placeCall(client: CallPlacer, request: SipClientRequest | SipRequest, opts: PlaceCallOptions): Promise<SipDialog> {
  return new Promise<SipDialog>((resolve, reject) => {
    const signal = opts.signal;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      sub.unsubscribe();
      reject(signal!.reason);
    };
    const sub = client.send<SipResponse>('INVITE', request).subscribe({
      next: (res) => {
        if (res.status < 200) {
          opts.onProvisional?.(res);
          return;
        }
        signal?.removeEventListener('abort', onAbort);
        const d = client.dialogOf(res);
        if (d === undefined) reject(new Error(`INVITE answered ${res.status} without a usable dialog (no To tag, or the dialog table is full)`));
        // Resolve once our ACK left, so that what the caller sends next (a BYE) cannot pass it.
        else void client.ackSent(res).then(() => resolve(d));
      },
      error: (err: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      },
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A request reached a SipClient of its own (no `server`): in-dialog ones are answered through
 * their dialog (200; a re-INVITE gets our last session description back, 488 without one) and told
 * to `tell`; others get 481 (BYE, NOTIFY) or 405.
 */
export function answerInDialog(dialogs: DialogLayer | undefined, txn: ServerTransaction, tell: (req: SipRequest, dialog: SipDialog) => void): void {
  const req = txn.request;
  if (dialogs === undefined || !DialogLayer.inDialog(req)) {
    void txn.respond(req.method === 'BYE' || req.method === 'NOTIFY' ? 481 : 405);
    return;
  }
  const matched = dialogs.receive(req) ?? { status: 481 };
  if (!(matched instanceof SipDialog)) {
    void txn.respond(txn.createResponse(matched.status, matched.reason, matched.headers === undefined ? undefined : { headers: matched.headers }));
    return;
  }
  if (req.method === 'INVITE') {
    const sdp = matched.localSdp;
    if (sdp === undefined) void txn.respond(488);
    else void txn.respond(txn.createResponse(200, undefined, { headers: { 'Content-Type': 'application/sdp' }, body: sdp }));
  } else void txn.respond(200);
  tell(req, matched);
}
