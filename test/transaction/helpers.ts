import { createResponse, parseMessage, SipRequest, SipResponse, type SipMessage } from '../../src/message/index.js';
import { ManualClock } from '../../src/transaction/clock.js';
import type { ServerTransaction } from '../../src/transaction/server-transaction.js';
import { TransactionLayer, type TransactionLayerOptions } from '../../src/transaction/transaction-layer.js';
import type { SipDestination, SipPeer, SipTransportProto, TransactionTransport } from '../../src/transaction/types.js';

export interface Sent {
  msg: SipMessage;
  dst: SipDestination;
  at: number;
}

/** In-memory transport: records every send with the clock's time; can be told to fail. */
export class FakeTransport implements TransactionTransport {
  sent: Sent[] = [];
  /** Reject every send with this error while set. */
  failWith: Error | undefined;
  /** Throw synchronously instead of rejecting. */
  throwSync = false;

  constructor(private readonly clock: ManualClock) {}

  send(msg: SipMessage | Buffer, dst: SipDestination): Promise<void> {
    // Completed transactions retransmit their response's bytes: record what goes on the wire as a message.
    this.sent.push({ msg: Buffer.isBuffer(msg) ? parseMessage(msg) : msg, dst, at: this.clock.now() });
    const err = this.failWith;
    if (err !== undefined) {
      if (this.throwSync) throw err;
      return Promise.reject(err);
    }
    return Promise.resolve();
  }

  reliable(proto: SipTransportProto): boolean {
    return proto !== 'udp';
  }

  responses(status?: number): SipResponse[] {
    return this.sent.map((s) => s.msg).filter((m): m is SipResponse => !m.isRequest() && (status === undefined || (m as SipResponse).status === status)) as SipResponse[];
  }

  requests(method?: string): SipRequest[] {
    return this.sent.map((s) => s.msg).filter((m): m is SipRequest => m.isRequest() && (method === undefined || m.method === method));
  }

  /** Times at which messages matching `pred` were sent. */
  times(pred: (m: SipMessage) => boolean): number[] {
    return this.sent.filter((s) => pred(s.msg)).map((s) => s.at);
  }

  clear(): void {
    this.sent = [];
  }
}

export const isStatus = (status: number) => (m: SipMessage): boolean => !m.isRequest() && (m as SipResponse).status === status;
export const isMethod = (method: string) => (m: SipMessage): boolean => m.isRequest() && m.method === method;

export const udpPeer: SipPeer = { addr: '192.0.2.10', port: 5062, family: 4, proto: 'udp' };
export const tcpSocket = { name: 'tcp-connection-1' };
export const tcpPeer: SipPeer = { addr: '192.0.2.10', port: 40123, family: 4, proto: 'tcp', socket: tcpSocket };
export const udpDst: SipDestination = { addr: '198.51.100.7', port: 5060, proto: 'udp' };
export const tcpDst: SipDestination = { addr: '198.51.100.7', port: 5060, proto: 'tcp' };

export interface ReqOpts {
  method?: string;
  branch?: string | null;
  sentBy?: string;
  transport?: string;
  viaExtra?: string;
  callId?: string;
  cseq?: number;
  cseqMethod?: string;
  fromTag?: string;
  toTag?: string;
  uri?: string;
  extra?: string[];
  omit?: string[];
}

let counter = 0;
/** A parsed request, as the transport would hand it over. */
export function req(o: ReqOpts = {}): SipRequest {
  const method = o.method ?? 'INVITE';
  const branch = o.branch === undefined ? 'z9hG4bK-test-' + ++counter : o.branch;
  const via = `SIP/2.0/${o.transport ?? 'UDP'} ${o.sentBy ?? '192.0.2.10:5062'}${branch === null ? '' : ';branch=' + branch}${o.viaExtra ?? ''}`;
  const lines: [string, string][] = [
    ['Via', via],
    ['Max-Forwards', '70'],
    ['From', `<sip:alice@example.com>;tag=${o.fromTag ?? 'ft-1'}`],
    ['To', `<sip:bob@example.net>${o.toTag ? ';tag=' + o.toTag : ''}`],
    ['Call-ID', o.callId ?? 'call-1@example.com'],
    ['CSeq', `${o.cseq ?? 1} ${o.cseqMethod ?? method}`],
    ['Contact', '<sip:alice@192.0.2.10:5062>'],
  ];
  const text =
    `${method} ${o.uri ?? 'sip:bob@example.net'} SIP/2.0\r\n` +
    lines
      .filter(([n]) => !(o.omit ?? []).includes(n))
      .map(([n, v]) => `${n}: ${v}\r\n`)
      .join('') +
    (o.extra ?? []).map((l) => l + '\r\n').join('') +
    'Content-Length: 0\r\n\r\n';
  return parseMessage(text) as SipRequest;
}

/** Reparse a message (what arrives on the other side of the wire). */
export function wire<T extends SipMessage>(m: T): T {
  return parseMessage(m.toBuffer()) as unknown as T;
}

/** A response to `request` as a peer would send it (reparsed). */
export function resp(request: SipRequest, status: number, toTag = 'remote-tag'): SipResponse {
  return wire(createResponse(request, status, undefined, { toTag }));
}

/** ACK for a non-2xx, same branch (what a UAC's INVITE client transaction sends). */
export function ackFor(invite: SipRequest, response: SipResponse, o: { branch?: string } = {}): SipRequest {
  const via = invite.headers.getAll('via')[0]!;
  const lines = [
    `ACK ${invite.uri} SIP/2.0`,
    `Via: ${o.branch === undefined ? via : via.replace(/branch=[^;]+/, 'branch=' + o.branch)}`,
    'Max-Forwards: 70',
    `From: ${invite.headers.get('from')}`,
    `To: ${response.headers.get('to')}`,
    `Call-ID: ${invite.callId}`,
    `CSeq: ${invite.cseq.seq} ACK`,
    'Content-Length: 0',
  ];
  return parseMessage(lines.join('\r\n') + '\r\n\r\n') as SipRequest;
}

export interface Harness {
  clock: ManualClock;
  transport: FakeTransport;
  layer: TransactionLayer;
  /** Server transactions handed to onRequest, in order. */
  txns: ServerTransaction[];
  errors: unknown[];
}

/** A layer on a manual clock and a fake transport; `respondWith` answers every request at once. */
export function harness(opts: Partial<TransactionLayerOptions> & { respondWith?: number } = {}): Harness {
  const clock = new ManualClock(0);
  const transport = new FakeTransport(clock);
  const txns: ServerTransaction[] = [];
  const errors: unknown[] = [];
  const { respondWith, ...rest } = opts;
  const layer = new TransactionLayer({
    transport,
    clock,
    onRequest: (txn) => {
      txns.push(txn);
      if (respondWith !== undefined) void txn.respond(respondWith);
    },
    onError: (err) => errors.push(err),
    ...rest,
  });
  return { clock, transport, layer, txns, errors };
}

/** Intervals between successive values. */
export const gaps = (xs: number[]): number[] => xs.slice(1).map((x, i) => x - xs[i]!);
