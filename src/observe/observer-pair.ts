import type { SipResponse } from '../message/index.js';
import type { ObservedClientTransaction, ObservedServerTransaction, TransactionMetrics } from '../transaction/index.js';

/** Two observers as one (metrics and tracing): the layer keeps calling a single object. */
export class ObserverPair implements TransactionMetrics {
  constructor(
    private readonly a: TransactionMetrics,
    private readonly b: TransactionMetrics,
  ) {}

  serverRequest(txn: ObservedServerTransaction): void {
    this.a.serverRequest(txn);
    this.b.serverRequest(txn);
  }

  serverResponse(txn: ObservedServerTransaction, res: SipResponse): void {
    this.a.serverResponse(txn, res);
    this.b.serverResponse(txn, res);
  }

  serverEnd(txn: ObservedServerTransaction): void {
    this.a.serverEnd?.(txn);
    this.b.serverEnd?.(txn);
  }

  clientStart(txn: ObservedClientTransaction): void {
    this.a.clientStart?.(txn);
    this.b.clientStart?.(txn);
  }

  clientFinal(txn: ObservedClientTransaction, res: SipResponse | undefined): void {
    this.a.clientFinal(txn, res);
    this.b.clientFinal(txn, res);
  }
}

/** The observers given as one: undefined for none, the one itself, else pairs. */
export function combineObservers(list: readonly (TransactionMetrics | undefined)[]): TransactionMetrics | undefined {
  let out: TransactionMetrics | undefined;
  for (const o of list) {
    if (o === undefined) continue;
    out = out === undefined ? o : new ObserverPair(out, o);
  }
  return out;
}
