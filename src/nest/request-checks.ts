import type { MessageHandler } from '@nestjs/microservices';
import { SipParseError, type SipRequest, type SipResponse } from '../message/index.js';
import type { ServerTransaction } from '../transaction/index.js';

/** 416 unknown scheme, 400 unreadable Request-URI, 420 unsupported Require (RFC 3261 §8.2.2); undefined when the request may go on. */
export function precheck(req: SipRequest, txn: ServerTransaction, schemes: ReadonlySet<string>, supported: ReadonlySet<string>): SipResponse | undefined {
  let scheme: string;
  try {
    scheme = req.requestUri.scheme;
  } catch (err) {
    return txn.createResponse(400, err instanceof SipParseError ? err.reason : 'Bad Request-URI');
  }
  if (!schemes.has(scheme)) return txn.createResponse(416);
  if (req.method !== 'CANCEL' && req.headers.has('require')) {
    const unsupported = req.headers.getAll('require').filter((tag) => !supported.has(tag.toLowerCase()));
    if (unsupported.length > 0) return txn.createResponse(420, undefined, { headers: { Unsupported: unsupported.join(', ') } });
  }
  return undefined;
}

/** The Allow header: methods with a handler, plus what the transaction layer answers itself (RFC 3261 §20.5). */
export function allowHeader(handlers: ReadonlyMap<string, MessageHandler>): string {
  const methods = new Set<string>(['OPTIONS']);
  for (const [pattern, handler] of handlers) {
    if (!handler.isEventHandler && /^[A-Z][A-Z0-9-]*$/.test(pattern)) methods.add(pattern);
  }
  if (methods.has('INVITE')) {
    // The server answers these itself in a call: ACK and CANCEL by the transactions, BYE by its dialog.
    methods.add('ACK');
    methods.add('CANCEL');
    methods.add('BYE');
  }
  return [...methods].join(', ');
}
