import type { Binding } from './binding.js';

/** One binding the REGISTER adds, refreshes or removes. */
export interface BindingChange {
  /** bindingKey() of the binding. */
  key: string;
  /** The binding as it is to be stored; undefined removes it (expires=0). */
  binding?: Binding;
}

/**
 * What one REGISTER does to its AOR, applied by the store in one atomic step: the RFC 3261 §10.3
 * step 7 ordering rule is checked against the bindings as stored at that moment, so that two
 * instances refreshing the same AOR at once cannot lose a binding or accept a reordered REGISTER.
 */
export interface BindingUpdate {
  callId: string;
  cseq: number;
  /** The registrar's clock, ms since the epoch: bindings with expiresAt <= now are gone. */
  now: number;
  /** `Contact: *` with `Expires: 0`: remove every binding. */
  removeAll: boolean;
  /** One change per binding key (the registrar merges repeats). */
  changes: BindingChange[];
  /** Most bindings the AOR may hold: other bindings are dropped, soonest to expire first, to make room. */
  maxBindings: number;
  /** The AOR stays known (a lookup says 480 rather than 404) at least until then, ms since the epoch. */
  keepUntil: number;
}

export type UpdateRefusal = 'out-of-order' | 'too-many' | 'full';

/**
 * The outcome of an update: the AOR's live bindings after it, or why nothing was changed:
 * 'out-of-order' (a binding was last written by the same Call-ID with a CSeq not lower, §10.3 step 7),
 * 'too-many' (the REGISTER itself brings more than maxBindings), 'full' (the store holds as many AORs as it may).
 */
export type UpdateResult = { ok: true; bindings: Binding[] } | { ok: false; reason: UpdateRefusal };

/**
 * Where a registrar keeps bindings: MemoryLocationStore (one process) or RedisLocationStore (shared by
 * instances); implement it over another database the same way. Methods reject with
 * LocationStoreError when the store cannot be reached (the registrar answers 503 with Retry-After).
 */
export interface LocationStore {
  /** Live bindings of an AOR, oldest write first; undefined when the AOR is unknown (or forgotten). */
  get(aor: string, now: number): Promise<Binding[] | undefined>;
  /** Apply one REGISTER's changes atomically: all of them, or none and the reason. */
  update(aor: string, update: BindingUpdate): Promise<UpdateResult>;
  /** Resolves when the store can be used now, rejects with why not (a health check). */
  ping?(): Promise<void>;
  /** Release what the store opened (not what the caller handed it). */
  close?(): Promise<void>;
}

/** The store could not do its job now (unreachable, timed out): a temporary condition. */
export class LocationStoreError extends Error {
  readonly code = 'ELOCATIONSTORE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocationStoreError';
  }
}
