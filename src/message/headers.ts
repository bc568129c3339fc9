import { canonicalName, compactOf, headerKey, LIST_HEADERS } from './header-names.js';
import { copySourceLines, findLine, receivedLength, sourceKeys, sourceValue, writeReceived, type HeaderSource } from './header-source.js';
import { removeLines, serializeLines } from './header-lines.js';
import { splitList } from './split-list.js';
import { checkHeaderName, checkHeaderValue } from './header-safety.js';

export type HeadersInit = SipHeaders | Record<string, string | number | readonly (string | number)[]> | Iterable<readonly [string, string]>;

/** "No view parsed yet" (views themselves may be undefined). */
export const NONE: unique symbol = Symbol('none');
/** Placeholder arrays of a SipHeaders whose lines are still in its source (never written to). */
const NO_LINES: (string | undefined)[] = Object.freeze([]) as unknown as (string | undefined)[];

/**
 * Ordered, case-insensitive SIP header fields. Each header line is kept as written (name spelling
 * and value), so an untouched message serialises byte for byte; names are compared by their
 * lower-case long form (`v` = `Via` = `VIA`).
 */
export class SipHeaders implements Iterable<[string, string]> {
  /** Names as written on the wire (or as given). */
  private names: string[];
  /** Normalised keys, parallel to `names`. */
  private keys: string[];
  /** Values (folded lines joined with one SP), parallel to `names`. */
  private values: string[];
  /** The line as received when not "Name: value" ("L:0", "Via  : x"), to be written as it came; else undefined. */
  private raws: (string | undefined)[];
  /** Lines not yet split into the arrays above (see HeaderSource); undefined once they are. */
  private src: HeaderSource | undefined;
  // Parsed structured views (NONE = not parsed yet), dropped when their header changes: the ones
  // every message has in fields (read directly by SipMessage's getters), others in a Map.
  /** @internal */ vVia: unknown = NONE;
  /** @internal */ vCSeq: unknown = NONE;
  /** @internal */ vFrom: unknown = NONE;
  /** @internal */ vTo: unknown = NONE;
  /** @internal */ vCallId: unknown = NONE;
  /** @internal */ vMaxForwards: unknown = NONE;
  /** @internal */ vContact: unknown = NONE;
  /** @internal */ vRoute: unknown = NONE;
  /** @internal */ vRecordRoute: unknown = NONE;
  /** @internal */ vContentType: unknown = NONE;
  private vOther: Map<string, unknown> | undefined;

  // Kept small (the rest is in fill), so that the JIT inlines it into the parser's fromSource.
  // `src` is fromSource's (one constructor keeps one object shape; an argument, not a module
  // variable, which every parse would store a new object into: a write barrier).
  constructor(init?: HeadersInit, /** @internal */ src?: HeaderSource) {
    if (src !== undefined) {
      // fromSource: the arrays are made by load().
      this.src = src;
      this.names = this.keys = this.values = NO_LINES as string[];
      this.raws = NO_LINES;
      return;
    }
    this.src = undefined;
    this.names = [];
    this.keys = [];
    this.values = [];
    this.raws = [];
    if (init !== undefined) this.fill(init);
  }

  /** The lines of `init`, appended. */
  private fill(init: HeadersInit): void {
    if (init instanceof SipHeaders) {
      init.load();
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

  /** Header set over lines still in the received text (parseMessage). */
  static fromSource(src: HeaderSource): SipHeaders {
    return new SipHeaders(undefined, src);
  }

  /** Split pending source lines into names/keys/values/raws (every public method calls this first). */
  private load(): void {
    const src = this.src;
    if (src === undefined) return;
    this.src = undefined;
    this.names = [];
    this.keys = [];
    this.values = [];
    this.raws = [];
    copySourceLines(src, undefined, this);
  }

  /** @internal The received lines while untouched (for SipMessage.toBuffer), else undefined. */
  get source(): HeaderSource | undefined {
    return this.src;
  }

  /** Number of header lines. */
  get size(): number {
    return this.src !== undefined ? this.src.spans.length / 3 : this.keys.length;
  }

  /** @internal Every line's key in order (shared strings for the usual names; not to be changed): one pass answers several questions. */
  lineKeys(): readonly string[] {
    return this.src !== undefined ? sourceKeys(this.src) : this.keys;
  }

  /** Fast append used by the parser: key already normalised; `raw` = the line as received if not "name: value". */
  pushRaw(name: string, key: string, value: string, raw?: string): void {
    this.load();
    this.names.push(name);
    this.keys.push(key);
    this.values.push(value);
    this.raws.push(raw);
  }

  /** Append to the value of the last line (header folding). */
  extendLast(more: string): void {
    this.load();
    const i = this.values.length - 1;
    const v = this.values[i]!;
    // "Route:" CRLF SP "<sip:...>": the value starts on the continuation line.
    this.values[i] = v.length === 0 ? more : v + ' ' + more;
    // Folded lines are written unfolded.
    this.raws[i] = undefined;
  }

  /** Index of the first `key` line at or after `from`, -1 if none (received lines: see findLine). */
  private find(key: string, compact: number, from: number): number {
    const src = this.src;
    return src === undefined ? this.keys.indexOf(key, from) : findLine(src, key, compact, from);
  }

  /** The value of line i (see find). */
  private valueAt(i: number): string {
    const src = this.src;
    return src !== undefined ? sourceValue(src, i) : this.values[i]!;
  }

  has(name: string): boolean {
    const key = headerKey(name);
    return this.find(key, compactOf(key), 0) !== -1;
  }

  /** First value of a header; for list headers the first element of the first line. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    const i = this.find(key, compactOf(key), 0);
    if (i === -1) return undefined;
    const v = this.valueAt(i);
    if (v.indexOf(',') === -1 || !LIST_HEADERS.has(key)) return v;
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
    const compact = compactOf(key);
    let split = -1; // LIST_HEADERS.has(key), asked at the first comma only
    for (let i = this.find(key, compact, 0); i !== -1; i = this.find(key, compact, i + 1)) {
      const v = this.valueAt(i);
      if (v.indexOf(',') !== -1) {
        if (split === -1) split = LIST_HEADERS.has(key) ? 1 : 0;
        if (split === 1) {
          splitList(v, out);
          continue;
        }
      }
      out.push(v);
    }
    return out;
  }

  /** Raw header lines (not split) for a key. */
  linesOf(key: string): string[] {
    const out: string[] = [];
    const compact = compactOf(key);
    for (let i = this.find(key, compact, 0); i !== -1; i = this.find(key, compact, i + 1)) out.push(this.valueAt(i));
    return out;
  }

  /** Number of lines with this key. */
  countOf(key: string): number {
    const compact = compactOf(key);
    let n = 0;
    for (let i = this.find(key, compact, 0); i !== -1; i = this.find(key, compact, i + 1)) n++;
    return n;
  }

  /** Replace every line of `name` with the given value(s), at the position of the first one. */
  set(name: string, value: string | number | readonly (string | number)[]): this {
    this.load();
    const key = headerKey(checkHeaderName(name));
    const vals = Array.isArray(value) ? value.map((v) => checkHeaderValue(String(v))) : [checkHeaderValue(String(value as string | number))];
    let at = this.keys.indexOf(key);
    const spelled = at === -1 ? canonicalName(key, name) : this.names[at]!;
    if (at !== -1) this.removeKey(key);
    else at = this.keys.length;
    this.names.splice(at, 0, ...vals.map(() => spelled));
    this.keys.splice(at, 0, ...vals.map(() => key));
    this.values.splice(at, 0, ...vals);
    this.raws.splice(at, 0, ...vals.map(() => undefined));
    this.dropView(key);
    return this;
  }

  /** The first line of `name` gets `value` in place (position, spelling kept; one value, not `Via: a, b`): cheaper than set(). False if there is none. */
  replaceFirst(name: string, value: string): boolean {
    const key = headerKey(name);
    const src = this.src;
    if (src !== undefined) {
      // Received lines: the value overrides that line's (as a folded line's does), the rest stay
      // unsplit for createResponse's in-place copy; the line is written "Name: value", as below.
      const line = findLine(src, key, compactOf(key), 0);
      if (line === -1) return false;
      (src.folded ??= new Map()).set(line, checkHeaderValue(value));
      this.dropView(key);
      return true;
    }
    const at = this.keys.indexOf(key);
    if (at === -1) return false;
    this.values[at] = checkHeaderValue(value);
    this.raws[at] = undefined;
    this.dropView(key);
    return true;
  }

  /**
   * Remove the first line of `name` when it holds one value (not `Via: a, b`), leaving the other
   * lines as they are: what a proxy does to its own Via on every response it relays, without
   * set()'s rewrite of the rest. False (and nothing changed) when there is no such line.
   */
  removeFirst(name: string): boolean {
    this.load();
    const key = headerKey(name);
    const at = this.keys.indexOf(key);
    if (at === -1 || (LIST_HEADERS.has(key) && this.values[at]!.indexOf(',') !== -1)) return false;
    this.names.splice(at, 1);
    this.keys.splice(at, 1);
    this.values.splice(at, 1);
    this.raws.splice(at, 1);
    this.dropView(key);
    return true;
  }

  /** How many lines of `name` there are (a line may hold several comma-separated values). */
  lineCount(name: string): number { return this.countOf(headerKey(name)); }

  /** Add a line after the existing ones. */
  append(name: string, value: string | number): this {
    this.load();
    const key = headerKey(checkHeaderName(name));
    const v = checkHeaderValue(String(value)); // checked before anything changes
    this.names.push(canonicalName(key, name));
    this.keys.push(key);
    this.values.push(v);
    this.raws.push(undefined);
    this.dropView(key);
    return this;
  }

  /** Add a line before every other line (e.g. a new top Via). */
  prepend(name: string, value: string | number): this {
    this.load();
    const key = headerKey(checkHeaderName(name));
    const v = checkHeaderValue(String(value)); // checked before anything changes
    this.names.unshift(canonicalName(key, name));
    this.keys.unshift(key);
    this.values.unshift(v);
    this.raws.unshift(undefined);
    this.dropView(key);
    return this;
  }

  delete(name: string): boolean {
    this.load();
    const key = headerKey(name);
    const had = this.removeKey(key);
    if (had) this.dropView(key);
    return had;
  }

  private removeKey(key: string): boolean {
    return removeLines(this.names, this.keys, this.values, this.raws, key);
  }

  /** Copy every line of `key` (spelling and value) onto another header set. */
  copyTo(target: SipHeaders, key: string): void {
    target.load();
    const src = this.src;
    if (src !== undefined) {
      // Lines still in the received text: copied from it in place, without splitting every line
      // of this header set into strings (createResponse copies five headers of each request).
      copySourceLines(src, key, target);
    } else {
      for (let i = 0; i < this.keys.length; i++) {
        if (this.keys[i] === key) target.pushRaw(this.names[i]!, key, this.values[i]!, this.raws[i]);
      }
    }
    target.dropView(key);
  }

  clone(): SipHeaders { return new SipHeaders(this); }

  /** [name, value] per line, in wire order. */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    const src = this.src;
    if (src !== undefined) {
      // Read in place (the lines stay unsplit, so toBuffer still copies the received bytes).
      const { text, spans } = src;
      for (let i = 0; i < spans.length / 3; i++) yield [text.slice(spans[i * 3], spans[i * 3 + 1]), sourceValue(src, i)];
      return;
    }
    for (let i = 0; i < this.keys.length; i++) yield [this.names[i]!, this.values[i]!];
  }

  entries(): IterableIterator<[string, string]> { return this[Symbol.iterator](); }

  /** Cached structured view of a header (see message views). */
  view<T>(key: string, parse: (h: SipHeaders) => T): T {
    const cached = this.viewOf(key);
    if (cached !== NONE) return cached as T;
    const v = parse(this);
    this.primeView(key, v);
    return v;
  }

  private viewOf(key: string): unknown {
    switch (key) {
      case 'via': return this.vVia;
      case 'cseq': return this.vCSeq;
      case 'from': return this.vFrom;
      case 'to': return this.vTo;
      case 'call-id': return this.vCallId;
      case 'max-forwards': return this.vMaxForwards;
      case 'contact': return this.vContact;
      case 'route': return this.vRoute;
      case 'record-route': return this.vRecordRoute;
      case 'content-type': return this.vContentType;
    }
    const m = this.vOther;
    return m !== undefined && m.has(key) ? m.get(key) : NONE;
  }

  /** Store a parsed view (the parser fills the views it validates anyway). */
  primeView(key: string, value: unknown): void {
    switch (key) {
      case 'via': this.vVia = value; return;
      case 'cseq': this.vCSeq = value; return;
      case 'from': this.vFrom = value; return;
      case 'to': this.vTo = value; return;
      case 'call-id': this.vCallId = value; return;
      case 'max-forwards': this.vMaxForwards = value; return;
      case 'contact': this.vContact = value; return;
      case 'route': this.vRoute = value; return;
      case 'record-route': this.vRecordRoute = value; return;
      case 'content-type': this.vContentType = value; return;
    }
    (this.vOther ??= new Map()).set(key, value);
  }

  private dropView(key: string): void {
    if (this.viewOf(key) !== NONE) this.primeView(key, NONE);
  }

  /** The header lines as text, Content-Length set to the body length (see serializeLines). */
  serialize(bodyLength: number): string {
    this.load();
    return serializeLines(this.names, this.keys, this.values, this.raws, bodyLength);
  }

  /** toBuffer's fast path (see receivedLength in header-source.ts): -1 once the lines were changed. */
  receivedLength(bodyLength: number): number {
    return this.src === undefined ? -1 : receivedLength(this.src, bodyLength);
  }

  /** Write what receivedLength measured at `at` in `out`; returns the offset after it. */
  writeReceived(out: Buffer, at: number, bodyLength: number): number {
    return writeReceived(this.src!, out, at, bodyLength);
  }

  toJSON(): [string, string][] { return [...this]; }
}
