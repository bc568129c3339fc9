import { canonicalName, headerKey, LIST_HEADERS } from './header-names.js';
import { splitList } from './split-list.js';

export type HeadersInit = SipHeaders | Record<string, string | number | readonly (string | number)[]> | Iterable<readonly [string, string]>;

/**
 * Ordered, case-insensitive SIP header fields. Each header line is kept as written (name spelling
 * and value), so an untouched message serialises byte for byte; names are compared by their
 * lower-case long form (`v` = `Via` = `VIA`).
 */
export class SipHeaders implements Iterable<[string, string]> {
  /** Names as written on the wire (or as given). */
  private names: string[] = [];
  /** Normalised keys, parallel to `names`. */
  private keys: string[] = [];
  /** Values (folded lines joined with one SP), parallel to `names`. */
  private values: string[] = [];
  /**
   * The line as received when it is not in the normal "Name: value" form ("L:0", "Via  : x",
   * trailing LWS), so that an untouched line serialises byte for byte; undefined otherwise, and
   * for every line added or changed through the API.
   */
  private raws: (string | undefined)[] = [];
  /** Parsed structured views, keyed by header key; dropped when that header changes. */
  private cache: Map<string, unknown> | undefined;

  constructor(init?: HeadersInit) {
    if (init === undefined) return;
    if (init instanceof SipHeaders) {
      this.names = init.names.slice();
      this.keys = init.keys.slice();
      this.values = init.values.slice();
      this.raws = init.raws.slice();
    } else if (typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const [n, v] of init as Iterable<readonly [string, string]>) this.append(n, v);
    } else {
      for (const [n, v] of Object.entries(init as Record<string, string | number | readonly (string | number)[]>)) {
        if (Array.isArray(v)) for (const one of v) this.append(n, String(one));
        else this.append(n, String(v));
      }
    }
  }

  /** Number of header lines. */
  get size(): number {
    return this.keys.length;
  }

  /** Fast append used by the parser: key already normalised; `raw` = the line as received if not "name: value". */
  pushRaw(name: string, key: string, value: string, raw?: string): void {
    this.names.push(name);
    this.keys.push(key);
    this.values.push(value);
    this.raws.push(raw);
  }

  /** Append to the value of the last line (header folding). */
  extendLast(more: string): void {
    const i = this.values.length - 1;
    const v = this.values[i]!;
    // "Route:" CRLF SP "<sip:...>": the value starts on the continuation line.
    this.values[i] = v.length === 0 ? more : v + ' ' + more;
    // Folded lines are written unfolded.
    this.raws[i] = undefined;
  }

  has(name: string): boolean {
    return this.keys.indexOf(headerKey(name)) !== -1;
  }

  /** First value of a header; for list headers the first element of the first line. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    const i = this.keys.indexOf(key);
    if (i === -1) return undefined;
    const v = this.values[i]!;
    if (!LIST_HEADERS.has(key) || v.indexOf(',') === -1) return v;
    const parts: string[] = [];
    splitList(v, parts);
    return parts[0];
  }

  /** Every value, in order; comma-joined list headers are split into one string per element. */
  getAll(name: string): string[] {
    return this.valuesOf(headerKey(name));
  }

  /** Every value of a normalised key (see getAll). */
  valuesOf(key: string): string[] {
    const out: string[] = [];
    const split = LIST_HEADERS.has(key);
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== key) continue;
      const v = this.values[i]!;
      if (split && v.indexOf(',') !== -1) splitList(v, out);
      else out.push(v);
    }
    return out;
  }

  /** Raw header lines (not split) for a key. */
  linesOf(key: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] === key) out.push(this.values[i]!);
    return out;
  }

  /** Number of lines with this key. */
  countOf(key: string): number {
    let n = 0;
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] === key) n++;
    return n;
  }

  /** Replace every line of `name` with the given value(s), at the position of the first one. */
  set(name: string, value: string | number | readonly (string | number)[]): this {
    const key = headerKey(name);
    const vals = Array.isArray(value) ? value.map(String) : [String(value as string | number)];
    let at = this.keys.indexOf(key);
    const spelled = at === -1 ? canonicalName(key, name) : this.names[at]!;
    if (at !== -1) this.removeKey(key);
    else at = this.keys.length;
    this.names.splice(at, 0, ...vals.map(() => spelled));
    this.keys.splice(at, 0, ...vals.map(() => key));
    this.values.splice(at, 0, ...vals);
    this.raws.splice(at, 0, ...vals.map(() => undefined));
    this.cache?.delete(key);
    return this;
  }

  /** Add a line after the existing ones. */
  append(name: string, value: string | number): this {
    const key = headerKey(name);
    this.names.push(canonicalName(key, name));
    this.keys.push(key);
    this.values.push(String(value));
    this.raws.push(undefined);
    this.cache?.delete(key);
    return this;
  }

  /** Add a line before every other line (e.g. a new top Via). */
  prepend(name: string, value: string | number): this {
    const key = headerKey(name);
    this.names.unshift(canonicalName(key, name));
    this.keys.unshift(key);
    this.values.unshift(String(value));
    this.raws.unshift(undefined);
    this.cache?.delete(key);
    return this;
  }

  delete(name: string): boolean {
    const key = headerKey(name);
    const had = this.removeKey(key);
    if (had) this.cache?.delete(key);
    return had;
  }

  private removeKey(key: string): boolean {
    let w = 0;
    const { names, keys, values, raws } = this;
    for (let r = 0; r < keys.length; r++) {
      if (keys[r] === key) continue;
      names[w] = names[r]!;
      keys[w] = keys[r]!;
      values[w] = values[r]!;
      raws[w] = raws[r];
      w++;
    }
    const had = w !== keys.length;
    names.length = keys.length = values.length = raws.length = w;
    return had;
  }

  /** Copy every line of `key` (spelling and value) onto another header set. */
  copyTo(target: SipHeaders, key: string): void {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] === key) target.pushRaw(this.names[i]!, key, this.values[i]!, this.raws[i]);
    }
    target.cache?.delete(key);
  }

  clone(): SipHeaders {
    return new SipHeaders(this);
  }

  /** [name, value] per line, in wire order. */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (let i = 0; i < this.keys.length; i++) yield [this.names[i]!, this.values[i]!];
  }

  entries(): IterableIterator<[string, string]> {
    return this[Symbol.iterator]();
  }

  /** Cached structured view of a header (see message views). */
  view<T>(key: string, parse: (h: SipHeaders) => T): T {
    let cache = this.cache;
    if (cache === undefined) cache = this.cache = new Map();
    else if (cache.has(key)) return cache.get(key) as T;
    const v = parse(this);
    cache.set(key, v);
    return v;
  }

  /** Store a parsed view (the parser fills the views it validates anyway). */
  primeView(key: string, value: unknown): void {
    (this.cache ??= new Map()).set(key, value);
  }

  /**
   * Serialise the header lines. Content-Length is written where it first stood (or last) with the
   * real body length; repeated Content-Length lines are dropped. Untouched lines are written as received.
   */
  serialize(bodyLength: number): string {
    let s = '';
    let wroteLength = false;
    const { names, keys, values, raws } = this;
    for (let i = 0; i < keys.length; i++) {
      const raw = raws[i];
      if (keys[i] === 'content-length') {
        if (wroteLength) continue;
        wroteLength = true;
        const len = String(bodyLength);
        s += (raw !== undefined && values[i] === len ? raw : names[i] + ': ' + len) + '\r\n';
        continue;
      }
      s += (raw !== undefined ? raw : names[i] + ': ' + values[i]) + '\r\n';
    }
    if (!wroteLength) s += 'Content-Length: ' + bodyLength + '\r\n';
    return s;
  }

  toJSON(): [string, string][] {
    return [...this];
  }
}
