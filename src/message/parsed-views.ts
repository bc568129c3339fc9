import { bytesOf, parseUint, parseUintB } from './chars.js';
import { cseqOf, parseCSeq, type CSeq } from './cseq.js';
import { SipParseError } from './errors.js';
import type { SipHeaders } from './headers.js';
import { CALL_ID, CONTACT, CSEQ, FROM, ID_COUNT, MAX_FORWARDS, nameId, TO, VIA } from './known-headers.js';
import { contactElement, nameAddrElement, parseNameAddr, type Contact, type NameAddr } from './name-addr.js';
import { CAP } from './params.js';
import { viaElement, type Via } from './via.js';

// The views parseMessage makes while it parses (Via, CSeq, From, To, Max-Forwards, Call-ID,
// Contact): what every layer reads, validated at once, read in place from the received bytes.

const KNOWN_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE']);

/**
 * Where parseMessage found the first line of each known header (-1: none) and how many lines
 * of it there are, by id (see knownName). Module state: parseMessage fills it and runs to completion.
 */
export const FIRST = new Int32Array(ID_COUNT);
export const COUNT = new Int32Array(ID_COUNT);

/**
 * Validate the headers every layer needs (lines in FIRST, COUNT) and keep their parsed values as views
 * (stored in their slots directly).
 * A function of its own (not part of parseMessage) so that the JIT inlines the element parsers
 * into it: parseMessage alone uses up the inlining budget.
 */
export function primeViews(
  headers: SipHeaders,
  text: string,
  b: Uint8Array,
  o: number,
  spans: number[],
  folded: Map<number, string> | undefined,
  method: string,
  isResponse: boolean,
): void {
  if (COUNT[VIA]! > 0) {
    headers.vVia = listOf(text, b, o, spans, folded, FIRST[VIA]!, COUNT[VIA]!, VIA);
  }
  const cseqAt = FIRST[CSEQ]!;
  const fromAt = FIRST[FROM]!;
  const toAt = FIRST[TO]!;
  const mfAt = FIRST[MAX_FORWARDS]!;
  const callIdAt = FIRST[CALL_ID]!;
  if (cseqAt !== -1) {
    const f = folded?.get(cseqAt);
    let cseq: CSeq;
    if (f !== undefined) cseq = parseCSeq(f);
    else {
      const vs = vStart(b, o, spans[cseqAt * 3 + 1]!, spans[cseqAt * 3 + 2]!);
      cseq = cseqOf(text, b, o, vs, vEnd(b, o, vs, spans[cseqAt * 3 + 2]!), method);
    }
    headers.vCSeq = cseq;
    if (!isResponse && cseq.method !== method) {
      throw KNOWN_METHODS.has(method)
        ? new SipParseError('CSeq method does not match the Request-Line')
        : new SipParseError('CSeq method does not match the Request-Line', 501);
    }
  }
  if (fromAt !== -1) headers.vFrom = nameAddrAt(text, b, o, spans, folded, fromAt, 'From');
  if (toAt !== -1) headers.vTo = nameAddrAt(text, b, o, spans, folded, toAt, 'To');
  if (mfAt !== -1) {
    const v = parseValueUint(text, b, o, spans, folded, mfAt, 255);
    if (v < 0) throw new SipParseError('Max-Forwards out of range');
    headers.vMaxForwards = v;
  } else headers.vMaxForwards = undefined; // what its view says of no line (responses have none)
  if (callIdAt !== -1) {
    const f = folded?.get(callIdAt);
    let v: string;
    if (f !== undefined) v = f;
    else {
      const vs = vStart(b, o, spans[callIdAt * 3 + 1]!, spans[callIdAt * 3 + 2]!);
      v = text.slice(vs, vEnd(b, o, vs, spans[callIdAt * 3 + 2]!));
    }
    headers.vCallId = v;
  }
  // Contact: reading it costs what checking it does, so the view is made here (handlers of the
  // requests that carry one, INVITE, REGISTER, SUBSCRIBE, their 2xx, read it).
  headers.vContact = COUNT[CONTACT]! > 0 ? listOf(text, b, o, spans, folded, FIRST[CONTACT]!, COUNT[CONTACT]!, CONTACT) : [];
}

/** valueStart over bytes: past LWS, ':' and LWS after the name ending at `ne`. */
export function vStart(b: Uint8Array, o: number, ne: number, end: number): number {
  let i = ne;
  while (i < end && (b[o + i] === 32 || b[o + i] === 9)) i++;
  i++; // ':'
  while (i < end && (b[o + i] === 32 || b[o + i] === 9)) i++;
  return i;
}

/** valueEnd over bytes: trailing LWS dropped. */
export function vEnd(b: Uint8Array, o: number, vs: number, end: number): number {
  while (end > vs && (b[o + end - 1] === 32 || b[o + end - 1] === 9)) end--;
  return end;
}

/** Unsigned decimal value of header line `line` (see parseUint), or -1. */
export function parseValueUint(
  head: string,
  b: Uint8Array,
  o: number,
  spans: number[],
  folded: Map<number, string> | undefined,
  line: number,
  max: number,
): number {
  const f = folded?.get(line);
  if (f !== undefined) return parseUint(f, max);
  const vs = vStart(b, o, spans[line * 3 + 1]!, spans[line * 3 + 2]!);
  return parseUintB(b, o, max, vs, vEnd(b, o, vs, spans[line * 3 + 2]!));
}

function nameAddrAt(
  head: string,
  b: Uint8Array,
  o: number,
  spans: number[],
  folded: Map<number, string> | undefined,
  line: number,
  what: string,
): NameAddr {
  const f = folded?.get(line);
  if (f !== undefined) return parseNameAddr(f, what);
  const vs = vStart(b, o, spans[line * 3 + 1]!, spans[line * 3 + 2]!);
  return nameAddrElement(head, b, o, what, vs, vEnd(b, o, vs, spans[line * 3 + 2]!), false);
}

/** What listOf returns for no element (not reached: a list line holds at least one). */
const NO_ELEMENTS: (Via | Contact)[] = [];

/**
 * Read every element of a list header (Via, Contact) whose first line is `at` and that has
 * `lines` lines: each value is read up to the ',' that ends it (commas in quoted strings and <>
 * do not count), which splits the line as splitList does, without slicing. Every element is
 * parsed and returned.
 */
function listOf(
  head: string,
  b: Uint8Array,
  o: number,
  spans: number[],
  folded: Map<number, string> | undefined,
  at: number,
  lines: number,
  id: typeof VIA | typeof CONTACT,
): (Via | Contact)[] {
  // Starts as [first] (a [] grows to 17 slots on its first push).
  let out: (Via | Contact)[] | undefined;
  const count = spans.length / 3;
  for (let line = at; line < count && lines > 0; line++) {
    const k = line * 3;
    if (line !== at && nameId(b, o, spans[k]!, spans[k + 1]!) !== id) continue;
    lines--;
    const f = folded === undefined ? undefined : folded.get(line);
    const s = f ?? head;
    const sb = f !== undefined ? bytesOf(f) : b;
    const so = f !== undefined ? 0 : o;
    let i = f !== undefined ? 0 : vStart(b, o, spans[k + 1]!, spans[k + 2]!);
    const to = f !== undefined ? f.length : vEnd(b, o, i, spans[k + 2]!);
    for (;;) {
      const v = id === VIA ? viaElement(s, sb, so, i, to, true) : contactElement(s, sb, so, i, to, true);
      // Literals of the exact length up to three (Via lines through two proxies): a push grows the array to 17 slots.
      if (out === undefined) out = [v];
      else if (out.length === 1) out = [out[0]!, v];
      else if (out.length === 2) out = [out[0]!, out[1]!, v];
      else out.push(v);
      i = CAP.end;
      if (i >= to) break;
      i++; // the ',' before the next value
    }
  }
  return out ?? NO_ELEMENTS;
}
