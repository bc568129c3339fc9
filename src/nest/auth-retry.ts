import { ChallengeAnswers, challengeKey, readChallenges, type DigestChallenge, type DigestSessionCache, type SipClientAuth, type SipCredentials } from '../auth/client-challenge.js';
import { formatVia, generateBranch, SipRequest, type SipResponse } from '../message/index.js';
import type { ClientTransaction, ClientTransactionHandlers, SipDestination } from '../transaction/index.js';
import type { Pending } from './pending-request.js';
import type { SipEndpoint } from './sip-endpoint.js';
import { SipClientClosedError } from './sip-response-error.js';

/** The credentials a request answers challenges with, and the nonces the client keeps for reuse. */
export interface AuthContext {
  credentials: SipClientAuth;
  cache: DigestSessionCache;
}

/** What a retry needs from the client: the endpoint it sends from now (undefined once closed). */
export interface AuthHost {
  readonly endpoint: SipEndpoint | undefined;
  reportError(err: unknown): void;
}

/**
 * Start `p`'s request with digest authentication (RFC 3261 §22.2-22.3): credentials kept from an
 * earlier request to the same place go along at once; a 401/407 is answered by a new transaction
 * (new Via branch, CSeq + 1, Authorization / Proxy-Authorization) instead of reaching `p`.
 */
export function startAuthenticated(p: Pending, ep: SipEndpoint, req: SipRequest, dst: SipDestination, auth: AuthContext, host: AuthHost): ClientTransaction {
  return new AuthRetry(p, ep, req, dst, auth, host).txn;
}

/**
 * The client transaction handlers of an authenticated request, in front of its Pending (as
 * undici's RetryHandler wraps a dispatch handler): responses of the live transaction pass through;
 * a 401/407 that may still be answered starts the next transaction, and `p.txn` follows it so that
 * unsubscribing CANCELs the live one. A 401/407 it does not answer reaches `p` as any final does.
 */
class AuthRetry implements ClientTransactionHandlers {
  readonly txn: ClientTransaction;
  private readonly answers: ChallengeAnswers;
  /** Where the nonces of this request are kept: per proxy (next hop) and per target domain, for the From identity. */
  private readonly scopes: { www: string; proxy: string } | undefined;

  constructor(
    private readonly p: Pending,
    private readonly ep: SipEndpoint,
    req: SipRequest,
    private readonly dst: SipDestination,
    private readonly auth: AuthContext,
    private readonly host: AuthHost,
  ) {
    this.scopes = scopesOf(req, dst);
    const h = req.headers;
    const reused = this.scopes === undefined || h.has('authorization') || h.has('proxy-authorization') ? [] : [...auth.cache.get(this.scopes.proxy), ...auth.cache.get(this.scopes.www)];
    this.answers = new ChallengeAnswers(reused);
    if (reused.length > 0) for (const [name, value] of this.answers.headers(req.method, req.uri)) h.append(name, value);
    this.txn = ep.layer.request(req, dst, this);
  }

  onProvisional(res: SipResponse, txn: ClientTransaction): void {
    if (txn === this.p.txn) this.p.onProvisional(res);
  }

  onLate2xx(res: SipResponse): void {
    this.p.onLate2xx(res);
  }

  onError(err: unknown, txn: ClientTransaction): void {
    if (txn === this.p.txn) this.p.onError(err);
  }

  onFinal(res: SipResponse, txn: ClientTransaction): void {
    if (txn !== this.p.txn) return;
    const status = res.status;
    if ((status === 401 || status === 407) && !this.p.stopped) {
      const due = this.answers.due(res);
      if (due.length > 0) {
        this.answer(res, due);
        return;
      }
    }
    this.final(res);
  }

  /** The result: keep the nonces that worked for the next request, forget those refused. */
  private final(res: SipResponse): void {
    const scopes = this.scopes;
    if (scopes !== undefined && this.answers.size > 0) {
      const status = res.status;
      const refused = status === 401 || status === 407 ? new Set(readChallenges(res).map(challengeKey)) : undefined;
      for (const s of this.answers.all()) {
        const scope = s.challenge.kind === 'www' ? scopes.www : scopes.proxy;
        if (status === 403 || refused?.has(s.key) === true) this.auth.cache.drop(scope, s.key);
        else this.auth.cache.keep(scope, s);
      }
    }
    this.p.onFinal(res);
  }

  /** Find credentials for each protection space asked (a lookup may be async), then resend. */
  private answer(res: SipResponse, due: DigestChallenge[][]): void {
    const lookup = this.auth.credentials;
    const req = this.p.request!;
    let found: (SipCredentials | undefined | Promise<SipCredentials | undefined>)[];
    try {
      found = typeof lookup === 'function' ? due.map((g) => lookup(g[0]!.realm, req)) : due.map(() => lookup);
    } catch (err) {
      this.lookupFailed(res, err);
      return;
    }
    if (!found.some((c) => c instanceof Promise)) this.resend(res, due, found as (SipCredentials | undefined)[]);
    else Promise.all(found).then((creds) => this.resend(res, due, creds), (err: unknown) => this.lookupFailed(res, err));
  }

  private lookupFailed(res: SipResponse, err: unknown): void {
    this.host.reportError(err);
    if (!this.p.done) this.final(res);
  }

  private resend(res: SipResponse, due: DigestChallenge[][], creds: (SipCredentials | undefined)[]): void {
    const p = this.p;
    if (p.done) return;
    let answered = false;
    if (!p.stopped) for (let i = 0; i < due.length; i++) answered = this.answers.answer(due[i]!, creds[i]) || answered;
    if (!answered) {
      this.final(res);
      return;
    }
    if (this.host.endpoint !== this.ep) {
      p.fail(new SipClientClosedError());
      return;
    }
    this.answers.retrying();
    const prev = p.request!;
    const seq = p.nextCSeq?.() ?? prev.cseq.seq + 1;
    const next = reissue(prev, seq, this.answers.headers(prev.method, prev.uri));
    p.request = next;
    try {
      p.txn = this.ep.layer.request(next, this.dst, this);
    } catch (err) {
      p.fail(err);
    }
  }
}

/**
 * The request again as a new transaction (RFC 3261 §22.2, §8.1.3.5): a new branch in our Via,
 * CSeq `seq`, the credentials in place of any sent before; Call-ID, From tag, To and the rest kept.
 */
export function reissue(req: SipRequest, seq: number, credentials: readonly (readonly [string, string])[]): SipRequest {
  const h = req.headers.clone();
  const top = req.topVia;
  if (top !== undefined) {
    const vias = h.getAll('via');
    const params = new Map(top.params);
    params.set('branch', generateBranch());
    vias[0] = formatVia({ protocol: top.protocol, transport: top.transport, host: top.host, port: top.port, sentBy: top.sentBy, params });
    h.set('Via', vias);
  }
  h.set('CSeq', `${seq} ${req.method}`);
  h.delete('authorization');
  h.delete('proxy-authorization');
  for (const [name, value] of credentials) h.append(name, value);
  return new SipRequest({ method: req.method, uri: req.uri, headers: h, body: req.body });
}

/** The cache scopes of a request: who sends it (the From URI) and where it goes (next hop; target domain). */
function scopesOf(req: SipRequest, dst: SipDestination): { www: string; proxy: string } | undefined {
  try {
    const from = req.from.uri;
    const target = req.requestUri;
    return { proxy: `p ${from} ${dst.proto}:${dst.addr}:${dst.port}`, www: `w ${from} ${target.host}:${target.port ?? ''}` };
  } catch {
    return undefined; // a request whose From or Request-URI we cannot read is not cached
  }
}
