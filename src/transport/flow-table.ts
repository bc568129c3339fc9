/** What the table needs of a connection. */
export interface FlowOwner {
  /** Its id (From.flow), unique in the process. */
  readonly flow: string;
}

/**
 * A stream transport's open connections by id (From.flow), from open to close. The one found last
 * is remembered: a request's hold, response and release name the same flow in a row, and a
 * field compare is cheaper than a Map probe.
 */
export class FlowTable<C extends FlowOwner> {
  private readonly byId = new Map<string, C>();
  /** Set only from `byId`, cleared when it leaves it. */
  private last: C | undefined = undefined;

  get(flow: string): C | undefined {
    const last = this.last;
    if (last !== undefined && last.flow === flow) return last;
    const c = this.byId.get(flow);
    if (c !== undefined) this.last = c;
    return c;
  }

  add(conn: C): void {
    this.byId.set(conn.flow, conn);
  }

  remove(conn: C): void {
    this.byId.delete(conn.flow);
    if (this.last === conn) this.last = undefined;
  }

  clear(): void {
    this.byId.clear();
    this.last = undefined;
  }
}
