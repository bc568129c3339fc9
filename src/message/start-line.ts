// The start line's checks that parseMessage makes in place, over bytes (b[o + i] stands for text[i]).

/** "SIP/2.0" in b[o+from..o+to), case-insensitive on the letters (RFC 3261 §7.1). */
export function isVersion20(b: Uint8Array, o: number, from: number, to: number): boolean {
  if (to - from !== 7) return false;
  const k = o + from;
  return (
    (b[k]! | 32) === 115 && (b[k + 1]! | 32) === 105 && (b[k + 2]! | 32) === 112 &&
    b[k + 3] === 47 && b[k + 4] === 50 && b[k + 5] === 46 && b[k + 6] === 48
  );
}

/** Index of the first SP in s[from..to), or -1. */
export function spaceAt(s: string, from: number, to: number): number {
  const i = s.indexOf(' ', from);
  return i === -1 || i >= to ? -1 : i;
}

/** What requestUriEnd found wrong with the last Request-URI it read (undefined: nothing). */
export const URI_CHECK: { verdict: string | undefined } = { verdict: undefined };

/**
 * The SP ending the Request-URI that starts at `from` (-1 if none before `to`), with cheap checks
 * of b[o+from..SP) left in URI_CHECK.verdict (the full parse is lazy): a scheme, no <>, controls or
 * whitespace, no URI headers on sip/sips (RFC 4475 escruri). A '?' before the '@' belongs to the
 * user part, which may hold it (intmeth).
 */
export function requestUriEnd(b: Uint8Array, o: number, from: number, to: number): number {
  URI_CHECK.verdict = undefined;
  let colon = -1;
  let at = -1;
  let lastQ = -1;
  let bad = false;
  const u = URI_CHAR8;
  let j = o + from;
  const je = o + to;
  for (; j < je; j++) {
    // Four plain bytes a step; the bytes that need a look (and SP) stop it.
    while (j + 3 < je && (u[b[j]!]! & u[b[j + 1]!]! & u[b[j + 2]!]! & u[b[j + 3]!]!) === 1) j += 4;
    if (j >= je) break;
    const c = b[j]!;
    if (u[c] === 1) continue;
    if (c === 32) break;
    if (c < 33 || c === 127 || c === 60 || c === 62) bad = true;
    else if (c === 58) {
      if (colon === -1) colon = j - o;
    } else if (c === 64) {
      if (at === -1) at = j - o;
    } else if (c === 63) lastQ = j - o;
  }
  if (j >= je) return -1;
  const c0 = b[o + from]! | 32;
  if (bad || j === o + from || !(c0 >= 97 && c0 <= 122) || colon <= from) URI_CHECK.verdict = 'Malformed Request-URI';
  else if (lastQ > at && (colon - from === 3 || colon - from === 4)) {
    const k = o + from;
    const sip = (b[k]! | 32) === 115 && (b[k + 1]! | 32) === 105 && (b[k + 2]! | 32) === 112;
    if (sip && (colon - from === 3 || (b[k + 3]! | 32) === 115)) URI_CHECK.verdict = 'Request-URI must not contain headers';
  }
  return j - o;
}

/** Request-URI bytes needing no further look: all printable ASCII but < > : @ ? (and bytes >= 128). */
const URI_CHAR8 = new Uint8Array(256).fill(1);
for (let c = 0; c < 33; c++) URI_CHAR8[c] = 0;
for (const c of [127, 60, 62, 58, 64, 63]) URI_CHAR8[c] = 0;
