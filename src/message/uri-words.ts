import { bytesStartWith } from './chars.js';

// The parameter names and values most messages carry (`;lr`, `;transport=udp`, `;tag=`, `;expires=`...),
// recognised in place over bytes (b[o + i] stands for s[i], see bytesOf) so that one shared string
// is used instead of a slice per parameter (a shared string also has its hash already, which a
// Map key needs). Exact, lower-case matches only: anything else is sliced as before.

/** Slot of a word of length n with first byte c0 and last byte c1 in a table of 256. */
const slot = (n: number, c0: number, c1: number): number => (n * 31 + c0 * 5 + c1) & 255;

/**
 * Each word at its slot, so that a lookup compares against one candidate. A word whose slot is
 * taken is left out (it is sliced like any other: the tables only make the usual case cheaper).
 */
function tableOf(words: string[]): (string | undefined)[] {
  // Filled to its full length first: an array written at scattered indices turns into a slow dictionary.
  const table = new Array<string | undefined>(256).fill(undefined);
  for (const w of words) {
    const k = slot(w.length, w.charCodeAt(0), w.charCodeAt(w.length - 1));
    if (table[k] === undefined) table[k] = w;
  }
  return table;
}

/** URI parameter names and values. */
const URI_WORDS = tableOf(['lr', 'ob', 'transport', 'user', 'maddr', 'method', 'ttl', 'udp', 'tcp', 'tls', 'sctp', 'ws', 'wss', 'phone', 'ip', 'gr']);
/** Header parameter names (Via, From, To, Contact, Route...). */
const PARAM_WORDS = tableOf([
  'tag', 'branch', 'received', 'rport', 'expires', 'q', '+sip.instance', 'reg-id', 'methods', 'maddr', 'ttl',
  'lr', 'ob', 'pub-gruu', 'temp-gruu', 'refresher', 'handling', 'purpose', 'reason', 'id', 'alias',
]);

/** The word of `table` equal to b[from..to), or undefined. */
function wordAt(table: (string | undefined)[], b: Uint8Array, from: number, to: number): string | undefined {
  const n = to - from;
  if (n <= 0) return undefined;
  const w = table[slot(n, b[from]!, b[to - 1]!)];
  return w !== undefined && w.length === n && bytesStartWith(b, from, w) ? w : undefined;
}

/** The shared URI word equal to s[from..to), or undefined. */
export const uriWord = (b: Uint8Array, o: number, from: number, to: number): string | undefined => wordAt(URI_WORDS, b, o + from, o + to);

/** The shared header parameter name equal to b[from..to) (offsets in b), or undefined. */
export const paramWord = (b: Uint8Array, from: number, to: number): string | undefined => wordAt(PARAM_WORDS, b, from, to);
