import { printable, type SipResponse } from '../message/index.js';
import type { ObservedServerTransaction, TransactionMetrics } from '../transaction/index.js';

/** One server transaction, as the transaction log reports it. Wire values are escaped and bounded. */
export interface TransactionLogEntry {
  method: string;
  /** Request-URI. */
  uri: string;
  /** `proto:addr:port` of the sender. */
  from: string;
  callId: string;
  cseq: number;
  /** Final status sent; undefined when the transaction ended without one (discarded, transport failure). */
  status: number | undefined;
  reason: string | undefined;
  /** From the request to the final response (or the end), ms. */
  ms: number;
  /** Relayed by the proxy (the status is a branch's). */
  proxied: boolean;
}

/**
 * One log entry per server transaction, at its final response (or its end without one): what the
 * operator reads to follow traffic. Unlike an interceptor it also sees what never reached a
 * handler (guard refusals, 405s, the layer's own 408/500, proxied requests).
 */
export class TransactionLog implements TransactionMetrics {
  constructor(private readonly sink: (entry: TransactionLogEntry) => void) {}

  serverRequest(): void {}

  serverResponse(txn: ObservedServerTransaction, res: SipResponse): void {
    if (res.status >= 200) this.emit(txn, res);
  }

  serverEnd(txn: ObservedServerTransaction): void {
    const last = txn.lastResponse;
    if (last === undefined || last.status < 200) this.emit(txn, undefined);
  }

  clientFinal(): void {}

  private emit(txn: ObservedServerTransaction, res: SipResponse | undefined): void {
    const req = txn.request;
    let callId = '';
    let cseq = 0;
    try {
      callId = printable(req.callId, 120);
      cseq = req.cseq.seq;
    } catch {
      // a request the layer refused for these: logged with what it has
    }
    const f = txn.from;
    try {
      this.sink({
        method: printable(txn.method, 32),
        uri: printable(req.uri, 200),
        from: `${f.proto}:${f.addr}:${f.port}`,
        callId,
        cseq,
        status: res?.status,
        reason: res === undefined ? undefined : printable(res.reason, 80),
        ms: txn.startedAt === 0 ? 0 : Math.round((performance.now() - txn.startedAt) * 10) / 10,
        proxied: txn.proxied,
      });
    } catch {
      // a logger that throws must not break SIP
    }
  }
}

/** The entry as one text line: `INVITE sip:bob@h from udp:1.2.3.4:5060 [call-id 1] -> 200 OK (3.1 ms)`. */
export function formatTransactionLine(e: TransactionLogEntry): string {
  const result = e.status === undefined ? 'no response' : `${e.status} ${e.reason ?? ''}`.trimEnd();
  return `${e.method} ${e.uri} from ${e.from} [${e.callId} ${e.cseq}] -> ${result}${e.proxied ? ' (proxied)' : ''} (${e.ms} ms)`;
}
