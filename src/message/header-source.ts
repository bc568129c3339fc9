import { compactOf, keyAt } from './header-names.js';
import { CONTENT_LENGTH, idOfKey, OTHER } from './known-headers.js';

/**
 * Header lines as parseMessage found them, still in the received text: SipHeaders answers reads
 * from them in place and splits them into names/keys/values only when a line is changed (most
 * messages are read and answered, or forwarded, without that).
 */
export interface HeaderSource {
  /** Decoded text holding the header section (for a small datagram: all of it). */
  text: string;
  /** Three offsets in `text` per line: start, name end, end (see valueStart / valueEnd). */
  spans: number[];
  /**
   * Values of lines that are not their received text, by line index: folded lines (continuations
   * joined with one SP) and values replaced in place (SipHeaders.replaceFirst). Such a line is
   * written "Name: value", and the message is no longer copied whole.
   */
  folded: Map<number, string> | undefined;
  /** The lines' keys (see keyAt), made on the first lookup by name. */
  keys: string[] | undefined;
  /** Index of the first Content-Length line (-1 if none); how many there are is in `counts`. */
  clLine: number;
  /**
   * How many lines each header parseMessage knows by id has (see knownName: Via, From, To, Call-ID,
   * CSeq, Max-Forwards, Content-Length...), two bits per id (0, 1, 2, 3 or more) at bit 2 * id:
   * validateRequest's answer without a lookup (names never change while the lines are here).
   */
  counts: number;
  /** First Route, Record-Route and Content-Type line (-1: none), for their views. */
  routeAt: number;
  rrAt: number;
  ctAt: number;
  /** The received bytes and the offset of `text` in them, when `text` is ASCII (one char = one byte). */
  bytes: Buffer | undefined;
  byteStart: number;
  /**
   * For copying the whole received message (see SipMessage.toBuffer): where its start line
   * begins in `text` (-1: the message cannot be copied whole, e.g. its start line is not written
   * exactly as SipMessage.startLine() writes it), where its body begins in `bytes` and that body, and the start
   * line as parsed (method and URI, or reason and status).
   */
  wholeStart: number;
  bodyStart: number;
  /** The body as parsed (a view of `bytes` at bodyStart): still the message's body when it is this object. */
  body: Buffer | undefined;
  startA: string;
  startB: string;
  status: number;
}

/** Lines of the known header `id` in a HeaderSource's `counts`: 0, 1, 2, or 3 for three or more. */
export const linesIn = (counts: number, id: number): number => (counts >>> (2 * id)) & 3;

/** Start of the value of a header line whose name ends at `ne`: past LWS, ':' and LWS. */
export function valueStart(text: string, ne: number, end: number): number {
  let i = ne;
  while (i < end && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
  i++; // ':'
  while (i < end && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
  return i;
}

/** End of the value starting at `vs` of a line ending at `end`: trailing LWS dropped. */
export function valueEnd(text: string, vs: number, end: number): number {
  while (end > vs && (text.charCodeAt(end - 1) === 32 || text.charCodeAt(end - 1) === 9)) end--;
  return end;
}

/** The value of (unfolded) line `line` of a HeaderSource's spans. */
export function lineValue(text: string, spans: number[], line: number): string {
  const vs = valueStart(text, spans[line * 3 + 1]!, spans[line * 3 + 2]!);
  return text.slice(vs, valueEnd(text, vs, spans[line * 3 + 2]!));
}

/** The value of line `line` (folded lines joined). */
export function sourceValue(src: HeaderSource, line: number): string {
  const f = src.folded === undefined ? undefined : src.folded.get(line);
  return f !== undefined ? f : lineValue(src.text, src.spans, line);
}

/**
 * Whether line `line` is a `key` line (key: a lower-case long form, see headerKey; compact: its
 * compact letter, see compactOf), compared in place: most lines differ in length or first letter,
 * so a lookup costs a few comparisons per line and no line's key is made. The parser let only
 * token characters into names, so folding ASCII letters is the whole of headerKey's lower-casing.
 */
export function lineIs(src: HeaderSource, line: number, key: string, compact: number): boolean {
  const { text, spans } = src;
  const start = spans[line * 3]!;
  const n = spans[line * 3 + 1]! - start;
  if (n === key.length) {
    for (let i = 0; i < n; i++) {
      let c = text.charCodeAt(start + i);
      if (c >= 65 && c <= 90) c += 32;
      if (c !== key.charCodeAt(i)) return false;
    }
    return true;
  }
  return n === 1 && compact !== 0 && (text.charCodeAt(start) | 32) === compact;
}

/** Number of lines of a HeaderSource. */
export const lineCountOf = (src: HeaderSource): number => src.spans.length / 3;

/**
 * Index of the first `key` line at or after `from` (-1 if none), compared in place (lineIs): reads
 * split nothing, so toBuffer keeps copying the received bytes.
 */
export function findLine(src: HeaderSource, key: string, compact: number, from: number): number {
  const n = src.spans.length / 3;
  for (let i = from; i < n; i++) if (lineIs(src, i, key, compact)) return i;
  return -1;
}

/** The key of every line (made once per message, shared strings for the usual names). */
export function sourceKeys(src: HeaderSource): string[] {
  let keys = src.keys;
  if (keys === undefined) {
    const { text, spans } = src;
    const n = spans.length / 3;
    keys = new Array<string>(n);
    for (let i = 0; i < n; i++) keys[i] = keyAt(text, spans[i * 3]!, spans[i * 3 + 1]!);
    src.keys = keys;
  }
  return keys;
}

/**
 * toBuffer's fast path: when the lines are still the received ones, ASCII and unfolded, with at
 * most one Content-Length, they are copied from the received bytes (the Content-Length line
 * rewritten if it does not match the body). Returns the byte length written by writeReceived
 * (every line with its CRLF), or -1 when the lines must be serialised.
 */
export function receivedLength(src: HeaderSource, bodyLength: number): number {
  const clLines = linesIn(src.counts, CONTENT_LENGTH);
  if (src.bytes === undefined || src.folded !== undefined || clLines > 1) return -1;
  const { spans } = src;
  if (spans.length === 0) return 'Content-Length: '.length + String(bodyLength).length + 2;
  let n = spans[spans.length - 1]! - spans[0]! + 2;
  const len = String(bodyLength);
  if (clLines === 0) n += 'Content-Length: '.length + len.length + 2;
  else {
    const k = src.clLine * 3;
    if (lineValue(src.text, spans, src.clLine) !== len) n += spans[k + 1]! - spans[k]! + 2 + len.length - (spans[k + 2]! - spans[k]!);
  }
  return n;
}

/** Write what receivedLength measured at `at` in `out`; returns the offset after it. */
export function writeReceived(src: HeaderSource, out: Buffer, at: number, bodyLength: number): number {
  const { spans, text, bytes, byteStart, clLine } = src;
  const clLines = linesIn(src.counts, CONTENT_LENGTH);
  const len = String(bodyLength);
  if (spans.length > 0) {
    const from = byteStart + spans[0]!;
    const to = byteStart + spans[spans.length - 1]!;
    const k = clLine * 3;
    if (clLines === 1 && lineValue(text, spans, clLine) !== len) {
      at += bytes!.copy(out, at, from, byteStart + spans[k]!);
      at += out.write(text.slice(spans[k], spans[k + 1]) + ': ' + len, at, 'latin1');
      at += bytes!.copy(out, at, byteStart + spans[k + 2]!, to);
    } else at += bytes!.copy(out, at, from, to);
    out[at++] = 13;
    out[at++] = 10;
  }
  if (clLines === 0) at += out.write('Content-Length: ' + len + '\r\n', at, 'latin1');
  return at;
}

/**
 * Append every `key` line of `src` (every line when `key` is undefined) to `target` as a split
 * line (name as written, value, the line as received unless it is exactly "name: value"; folded
 * lines unfolded): what SipHeaders.load does to all of them and copyTo to one header's.
 */
export function copySourceLines(src: HeaderSource, key: string | undefined, target: { pushRaw(name: string, key: string, value: string, raw?: string): void }): void {
  const { text, spans, folded } = src;
  const keys = key === undefined ? sourceKeys(src) : undefined;
  const compact = key === undefined ? 0 : compactOf(key);
  const count = spans.length / 3;
  // A header the parser counted (fewer than three lines): the scan ends at its last line.
  const id = key === undefined ? OTHER : idOfKey(key);
  let left = id === OTHER ? -1 : linesIn(src.counts, id);
  if (left === 3) left = -1;
  for (let line = 0; line < count && left !== 0; line++) {
    if (key !== undefined && !lineIs(src, line, key, compact)) continue;
    left--;
    const lineKey = key ?? keys![line]!;
    const k = line * 3;
    const start = spans[k]!;
    const ne = spans[k + 1]!;
    const end = spans[k + 2]!;
    const name = text.slice(start, ne);
    const f = folded === undefined ? undefined : folded.get(line);
    if (f !== undefined) {
      target.pushRaw(name, lineKey, f, undefined); // folded lines are written unfolded
      continue;
    }
    const vs = valueStart(text, ne, end);
    const ve = valueEnd(text, vs, end);
    const normal = text.charCodeAt(ne) === 58 && text.charCodeAt(ne + 1) === 32 && vs === ne + 2 && ve === end;
    target.pushRaw(name, lineKey, text.slice(vs, ve), normal ? undefined : text.slice(start, end));
  }
}
