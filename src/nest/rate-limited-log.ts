/**
 * Repetitive log lines kept readable under attack: per kind, the first `burst` lines of each
 * `intervalMs` go out; the rest are counted and summed up in one line when the interval ends
 * ("... and 19,990 more like this in the last 10 s (unacked)"). One unref'd timer per kind, only
 * while there is something to sum up: nothing keeps the process alive. Kinds are names our code
 * picks (never wire values); past MAX_KINDS of them, new ones share one budget.
 */
export class RateLimitedLog {
  private readonly kinds = new Map<string, KindState>();

  constructor(
    private readonly write: (kind: string, line: string, stack?: string) => void,
    private readonly burst = 10,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Log `line` of `kind`, unless this kind already had its burst in the current interval. */
  log(kind: string, line: string, stack?: string): void {
    const t = this.now();
    let k = this.kinds.get(kind);
    if (k === undefined && this.kinds.size >= MAX_KINDS) k = this.kinds.get((kind = OTHER));
    if (k === undefined) {
      k = new KindState(t);
      this.kinds.set(kind, k);
    }
    if (t - k.start >= this.intervalMs) this.flush(kind, k, t);
    if (k.count < this.burst) {
      k.count++;
      this.write(kind, line, stack);
      return;
    }
    k.suppressed++;
    if (k.timer === undefined) {
      k.timer = setTimeout(() => this.flush(kind, k!, this.now()), Math.max(1, k.start + this.intervalMs - t));
      k.timer.unref?.();
    }
  }

  /** Write the summary of `kind` now (and start a new interval). */
  private flush(kind: string, k: KindState, t: number): void {
    if (k.timer !== undefined) clearTimeout(k.timer);
    k.timer = undefined;
    if (k.suppressed > 0) this.write(kind, `... and ${k.suppressed.toLocaleString('en')} more like this in the last ${Math.round((t - k.start) / 1000)} s (${kind})`);
    k.start = t;
    k.count = 0;
    k.suppressed = 0;
  }

  /** Write every pending summary (at shutdown). */
  flushAll(): void {
    const t = this.now();
    for (const [kind, k] of this.kinds) this.flush(kind, k, t);
  }
}

const MAX_KINDS = 64;
const OTHER = 'other';

/**
 * The kind of an error's log line: its code, else its class name (never its message), so that a
 * flood of one error (say TLS handshakes failing) cannot use up the budget of every other.
 */
export function errorKind(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0 && code.length <= 64) return code;
    const name = (err as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && name.length > 0) return name.slice(0, 64);
  }
  return typeof err;
}

class KindState {
  count = 0;
  suppressed = 0;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  constructor(public start: number) {}
}
