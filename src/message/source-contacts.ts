import { bytesOf } from './chars.js';
import { compactOf } from './header-names.js';
import { lineCountOf, lineIs, linesIn, valueEnd, valueStart, type HeaderSource } from './header-source.js';
import { idOfKey } from './known-headers.js';
import { contactElement, nameAddrElement, type Contact, type NameAddr } from './name-addr.js';
import { CAP } from './params.js';

/**
 * The Contact view of header lines still in the received text (parseMessage checked them but left
 * the view to first access): every element of every Contact line, read in place from the received
 * bytes (as SipHeaders.valuesOf would split them), so that the header set stays unsplit and
 * toBuffer keeps copying received bytes.
 */
export function contactsOfSource(src: HeaderSource): Contact[] {
  return elementsOfSource(src, 'contact', 'Contact', 0) as Contact[];
}

/**
 * The Route or Record-Route view (`key` 'route' / 'record-route') of lines still in the received
 * text: every entry of every line in one pass over the bytes, as contactsOfSource (no value
 * strings sliced and encoded again per entry, as getAll + parseNameAddr would).
 */
export function nameAddrsOfSource(src: HeaderSource, key: 'route' | 'record-route', what: string): NameAddr[] {
  // parseMessage noted their first line (-1: none).
  const at = key === 'route' ? src.routeAt : src.rrAt;
  return at < 0 ? [] : elementsOfSource(src, key, what, at);
}

/** The elements of every `key` line from line `at` on (no earlier line is one). */
function elementsOfSource(src: HeaderSource, key: string, what: string, at: number): NameAddr[] {
  const { text, spans, folded } = src;
  const compact = compactOf(key);
  const contact = key === 'contact';
  // Starts as [first] (a [] grows to 17 slots on its first push).
  let out: NameAddr[] | undefined;
  // A header the parser counted (fewer than three lines): the scan ends at its last line.
  let left = linesIn(src.counts, idOfKey(key));
  if (left === 3) left = -1;
  // What the element parser reads (b[o + i] stands for text[i], see bytesOf): the received bytes,
  // or a byte copy of text that is not one byte per char (non-ASCII).
  let whole: Uint8Array | undefined = src.bytes;
  let o = src.byteStart;
  for (let line = at; line < lineCountOf(src) && left !== 0; line++) {
    if (!lineIs(src, line, key, compact)) continue;
    left--;
    const f = folded === undefined ? undefined : folded.get(line);
    let s = text;
    let b: Uint8Array;
    let bo: number;
    let i: number;
    let to: number;
    if (f !== undefined) {
      s = f;
      b = bytesOf(f);
      bo = 0;
      i = 0;
      to = f.length;
    } else {
      if (whole === undefined) {
        whole = bytesOf(text);
        o = 0;
      }
      b = whole;
      bo = o;
      const k = line * 3;
      i = valueStart(text, spans[k + 1]!, spans[k + 2]!);
      to = valueEnd(text, i, spans[k + 2]!);
    }
    for (;;) {
      const v = contact ? contactElement(s, b, bo, i, to, true) : nameAddrElement(s, b, bo, what, i, to, true);
      if (out === undefined) out = [v];
      else out.push(v);
      i = CAP.end;
      if (i >= to) break;
      i++; // the ',' before the next value
    }
  }
  return out ?? [];
}
