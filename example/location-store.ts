/** One registered contact of an address-of-record (RFC 3261 §10.3). */
export interface Binding {
  /** The Contact URI (what INVITEs are redirected to). */
  uri: string;
  /** Contact header parameters other than expires (q, +sip.instance...), as written. */
  params: string;
  /** Absolute expiry, ms since the epoch. */
  expiresAt: number;
  /** Call-ID and CSeq of the REGISTER that last refreshed it (to ignore reordered REGISTERs). */
  callId: string;
  cseq: number;
}

/**
 * Where the registrar keeps bindings. The example ships an in-memory store; a real deployment
 * implements this over Redis, SQL... and provides it under LOCATION_STORE.
 */
export interface LocationStore {
  /** Live bindings of an AOR (expired ones are not returned), or undefined when the AOR is unknown. */
  get(aor: string): Promise<Binding[] | undefined>;
  /** Replace the bindings of an AOR (an empty list keeps the AOR known, with no binding). */
  put(aor: string, bindings: Binding[]): Promise<void>;
}

export const LOCATION_STORE = Symbol('LOCATION_STORE');

export class InMemoryLocationStore implements LocationStore {
  private readonly table = new Map<string, Binding[]>();

  constructor(private readonly now: () => number = Date.now) {}

  async get(aor: string): Promise<Binding[] | undefined> {
    const list = this.table.get(aor);
    if (list === undefined) return undefined;
    const t = this.now();
    const live = list.filter((b) => b.expiresAt > t);
    if (live.length !== list.length) this.table.set(aor, live);
    return live;
  }

  async put(aor: string, bindings: Binding[]): Promise<void> {
    this.table.set(aor, bindings);
  }
}
