import type { SipRequest, SipResponse } from '../message/index.js';
import type { ClientTransaction, ClientTransactionHandlers, SipDestination, TimerEntry, TimerTarget } from '../transaction/index.js';
import type { ProxyBranchInfo } from './proxy-types.js';

/** What a branch reports to the run that owns it. */
export interface BranchOwner {
  branchProvisional(b: ProxyBranch, res: SipResponse): void;
  branchFinal(b: ProxyBranch, res: SipResponse): void;
  branchLate2xx(b: ProxyBranch, res: SipResponse): void;
  branchFailed(b: ProxyBranch, err: unknown): void;
  branchTimedOut(b: ProxyBranch): void;
}

/**
 * One forwarded copy of a request (RFC 3261 §16.6) and its client transaction: the target, the
 * destinations RFC 3263 gave for its next hop (tried in order on transport error, timeout or
 * 503), and what came back. It is the transaction's handler object, so no closure per branch.
 */
export class ProxyBranch implements ClientTransactionHandlers, TimerTarget, ProxyBranchInfo {
  /** Destinations of the next hop, best first, and the one in use. */
  destinations: SipDestination[] = [];
  index = 0;
  txn: ClientTransaction | undefined = undefined;
  /** A provisional response (other than 100) came. */
  ringing = false;
  /** The final answer, or the synthetic one standing for none. */
  final: SipResponse | undefined = undefined;
  /** The run gave up on it (CANCEL sent or due). */
  cancelled = false;
  /** Its branch timeout fired. */
  timedOut = false;
  /** Record-Route values this branch added on top (replaced when it moves to another destination). */
  recordRoutes = 0;
  timer: TimerEntry | undefined = undefined;

  constructor(
    readonly target: string,
    readonly request: SipRequest,
    private readonly owner: BranchOwner,
  ) {}

  get destination(): SipDestination | undefined {
    return this.destinations[this.index];
  }

  get finished(): boolean {
    return this.final !== undefined;
  }

  onProvisional(res: SipResponse, txn: ClientTransaction): void {
    if (txn === this.txn) this.owner.branchProvisional(this, res);
  }

  onFinal(res: SipResponse, txn: ClientTransaction): void {
    if (txn === this.txn) this.owner.branchFinal(this, res);
  }

  onLate2xx(res: SipResponse, txn: ClientTransaction): void {
    if (txn === this.txn) this.owner.branchLate2xx(this, res);
  }

  onError(err: unknown, txn: ClientTransaction): void {
    if (txn === this.txn) this.owner.branchFailed(this, err);
  }

  onTimer(): void {
    this.timer = undefined;
    this.owner.branchTimedOut(this);
  }
}
