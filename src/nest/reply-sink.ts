import type { WritePacket } from '@nestjs/microservices';
import { Observable } from 'rxjs';
import type { ServerTransaction } from '../transaction/index.js';
import { acceptsContentType, type SipRequest, type SipResponse } from '../message/index.js';
import { isSipDropPayload, isSipErrorPayload } from './sip-exception.js';
import { toSipResponse, type SipReply } from './sip-reply.js';

/** Where a ReplySink reports a handler's failures (the server's logger). */
export interface HandlerErrorLog {
  logHandlerError(message: string, stack?: string): void;
}

/**
 * Turns what Nest's send() reports for one request (each emitted value, an error, the end) into
 * SIP responses: 1xx values are provisional, the first final value is the response, later values
 * are ignored; an error is the SipException's response or 500; an end without a final response is 500.
 */
export class ReplySink {
  private final = false;

  constructor(
    private readonly log: HandlerErrorLog,
    private readonly txn: ServerTransaction,
  ) {}

  private bound: ((packet: WritePacket) => Promise<void> | undefined) | undefined = undefined;

  /** write() as a function of its own, for Nest's send()/handleRequest() (made on first use: the lean dispatch calls write()). */
  get respond(): (packet: WritePacket) => Promise<void> | undefined {
    return (this.bound ??= (packet) => this.write(packet));
  }

  write(packet: WritePacket): Promise<void> | undefined {
    const txn = this.txn;
    // A proxied request's answers are its branches' (the handler's result is not one).
    if (this.final || txn.finalSent || txn.aborted || txn.proxied) return undefined;
    const req = txn.request;
    if (packet.err !== undefined && packet.err !== null) {
      this.final = true;
      const e: unknown = packet.err;
      // Nest's default filter logs what it turns into { status: 'error', message }; an Error that
      // arrives as it is got past every filter (e.g. a filter that threw): log it here.
      if (isSipDropPayload(e)) {
        txn.discard();
        return undefined;
      }
      if (e instanceof Error) this.log.logHandlerError(`${which(req)} failed: ${e.message}`, e.stack);
      const res = isSipErrorPayload(e)
        ? toSipResponse(req, { status: e.status, reason: e.reason, headers: e.headers, body: e.body }, txn.toTag)
        : undefined;
      return res !== undefined ? txn.respond(res) : txn.respond(isGuardDenial(e) ? 403 : 500);
    }
    // Nest's send() folds the end of the stream into the last value's packet: { response, isDisposed }.
    if (packet.response !== undefined) {
      let res: SipResponse;
      try {
        res = toSipResponse(req, packet.response as SipReply, txn.toTag);
      } catch (err) {
        this.final = true;
        this.log.logHandlerError(`${which(req)}: the handler returned an invalid reply: ${(err as Error).message}`);
        return txn.respond(500);
      }
      if (res.status >= 200 && res.status < 300 && res.body.length > 0 && !acceptable(req, res)) {
        // RFC 3261 §21.4.7: the request's Accept excludes the body the handler answers with.
        res = txn.createResponse(406);
      }
      if (res.status >= 200) this.final = true;
      const sent = txn.respond(res);
      if (this.final || !packet.isDisposed) return sent;
    }
    if (packet.isDisposed) {
      this.final = true;
      this.log.logHandlerError(`${which(req)}: the handler completed without a final response; answering 500`);
      return txn.respond(500);
    }
    return undefined;
  }
}

/**
 * `source`, completed early when the transaction aborts. Listens on the transaction's own emitter:
 * an AbortSignal listener per request cost ~20 us and extra GC on the hot path (bench profile).
 */
export function untilAborted<T>(source: Observable<T>, txn: ServerTransaction): Observable<T> {
  return new Observable<T>((sub) => {
    if (txn.aborted) {
      sub.complete();
      return undefined;
    }
    const onAbort = (): void => sub.complete();
    txn.on('abort', onAbort);
    const inner = source.subscribe(sub);
    return () => {
      txn.off('abort', onAbort);
      inner.unsubscribe();
    };
  });
}

/**
 * A guard that returned false: Nest throws `new RpcException('Forbidden resource')`, which the
 * default RPC exception filter turns into `{ status: 'error', message: 'Forbidden resource' }`.
 * That is a refusal, not a server failure: 403 (as Nest's HTTP side answers it), not 500.
 */
function isGuardDenial(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { status?: unknown }).status === 'error' && (e as { message?: unknown }).message === 'Forbidden resource';
}

/** The response's body type is one the request accepts (no Accept: any). */
function acceptable(req: SipRequest, res: SipResponse): boolean {
  const type = res.contentType;
  if (type === undefined || !req.headers.has('accept')) return true;
  return acceptsContentType(req.headers.getAll('accept'), type);
}

/** The request a log line is about: method, Call-ID and CSeq (escaped by the logger's printable()). */
function which(req: SipRequest): string {
  let id = '?';
  let seq = '?';
  try {
    id = req.callId;
    seq = String(req.cseq.seq);
  } catch {
    // logged with what it has
  }
  return `${req.method} [${id} ${seq}]`;
}
