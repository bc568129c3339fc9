// `nestjs-sip/testing`: run a SIP handler in a unit test, in memory, with no socket: a request
// (text or SipRequest), the SipContext a handler gets, and the responses its transaction sent.
import { parseMessage, SipRequest, type SipMessage, type SipResponse } from './message/index.js';
import { DialogLayer } from './dialog/index.js';
import { ManualClock, TransactionLayer, type ServerTransaction, type SipPeer } from './transaction/index.js';
import { SipContext } from './nest/index.js';

export interface TestContextOptions {
  /** Who sent the request. Default udp 192.0.2.10:5060. */
  from?: Partial<SipPeer>;
  /** Host of the Contact our dialog-creating responses carry. Default 192.0.2.1. */
  contactHost?: string;
}

/** What createTestContext gives a test. */
export interface TestSipContext {
  /** The handler's `@Ctx()` (the request is its `getRequest()`, also `@Payload()`). */
  ctx: SipContext;
  request: SipRequest;
  transaction: ServerTransaction;
  /** Every response the transaction sent, in order (provisional ones included). */
  responses: SipResponse[];
  /** Move the transaction's clock (timers: 100 Trying, timeouts, retransmissions). */
  clock: ManualClock;
  /** Send the handler's reply as the server would (a status, or a SipResponseDescription) and return the response sent. */
  respond(reply: number | { status: number; reason?: string; headers?: Record<string, string | number>; body?: string | Buffer }): Promise<SipResponse>;
}

/**
 * A SipContext for `request`, with a real server transaction on an in-memory transport and a
 * manual clock, for unit-testing a handler with @nestjs/testing:
 *
 *   const t = createTestContext('OPTIONS sip:a@example.com SIP/2.0\r\n...');
 *   const reply = await controller.options(t.request, t.ctx);
 */
export function createTestContext(request: string | SipRequest, opts: TestContextOptions = {}): TestSipContext {
  const responses: SipResponse[] = [];
  const clock = new ManualClock();
  let txn: ServerTransaction | undefined;
  // Dialogs as a SipServer keeps them: a 1xx with a tag or a 2xx to INVITE makes one (ctx.dialog).
  const dialogs = new DialogLayer();
  dialogs.contactFor = () => `<sip:test@${opts.contactHost ?? '192.0.2.1'}>`;
  const layer = new TransactionLayer({
    clock,
    transport: {
      send(msg: SipMessage | Buffer) {
        const m = Buffer.isBuffer(msg) ? parseMessage(msg) : msg;
        if (m.isResponse()) responses.push(m as SipResponse);
        return Promise.resolve();
      },
      reliable: (proto) => proto !== 'udp',
    },
    onRequest: (t) => (txn = t),
    onResponse: (t, res) => dialogs.responding(t, res),
  });
  const req = typeof request === 'string' ? (parseMessage(request.replace(/\r?\n/g, '\r\n')) as SipRequest) : request;
  if (!(req instanceof SipRequest)) throw new TypeError('createTestContext needs a request');
  const from: SipPeer = { addr: '192.0.2.10', port: 5060, family: 4, proto: 'udp', ...opts.from } as SipPeer;
  layer.receive(req, from);
  if (txn === undefined) {
    const answer = responses[0];
    throw new Error(`the transaction layer refused the request${answer === undefined ? '' : ` (${answer.status} ${answer.reason})`}: it needs Via with a branch, From, To, Call-ID, CSeq and Max-Forwards`);
  }
  const t = txn;
  const ctx = new SipContext([req, from, t, dialogs]);
  return {
    ctx,
    request: req,
    transaction: t,
    responses,
    clock,
    async respond(reply) {
      const res = typeof reply === 'number' ? t.createResponse(reply) : t.createResponse(reply.status, reply.reason, { headers: reply.headers, body: reply.body });
      await t.respond(res);
      return res;
    },
  };
}
