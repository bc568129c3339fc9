// Names of the headers parseMessage validates (and of a few it notes), recognised where they
// stand (any letter case, compact forms included) without slicing.
export const OTHER = 0;
export const VIA = 1 as const;
export const CSEQ = 2;
export const FROM = 3;
export const TO = 4;
export const MAX_FORWARDS = 5;
export const CALL_ID = 6;
export const CONTACT = 7 as const;
export const CONTENT_LENGTH = 8;
// Not validated, but read by most handlers (the route set, the body's type): their lines are
// noted too, so that their views go straight to them.
export const ROUTE = 9;
export const RECORD_ROUTE = 10;
export const CONTENT_TYPE = 11;
/** Ids are 0..15 (four bits of knownName's answer). */
export const ID_COUNT = 16;
/** Ids in use (0..CONTENT_TYPE): what the parser's per-id tables are reset and read over. */
export const ID_USED = CONTENT_TYPE + 1;

/** Which known header b[o+from..o+to) names (any case, compact forms included), or OTHER. */
export function nameId(b: Uint8Array, o: number, from: number, to: number): number {
  // A stored name is followed by ':' or LWS, as knownName requires.
  const known = knownName(b, o + from);
  return known >> 4 === to - from ? known & 15 : OTHER;
}

/**
 * First letters (either case) of the names knownName recognises: a line starting with any other
 * byte (Allow, Supported, User-Agent, Expires...) is not one of them, without the call.
 */
export const KNOWN_FIRST8 = new Uint8Array(256);
for (const ch of 'vftilmrc') KNOWN_FIRST8[ch.charCodeAt(0)] = KNOWN_FIRST8[ch.toUpperCase().charCodeAt(0)] = 1;

/** A name ends at ':' or LWS (the other bytes that may follow a token start no header line). */
const NAME_END8 = new Uint8Array(256);
NAME_END8[58] = NAME_END8[32] = NAME_END8[9] = 1;

/**
 * The validated header whose name starts at b[k], when the name is one of theirs in any case or
 * compact form and is followed by ':' or LWS: (name length << 4) | id. 0 for any other name (read
 * as a token by the caller; its id is OTHER).
 *
 * The length and first letter rule out almost every other name before a full comparison, which
 * is written out letter by letter: x | 32 folds the case of a letter, and only a letter folds
 * onto a letter ('-' is compared exactly), so a match is exact and made of token characters.
 * No comparison matches CR or LF, so reads stop at the line's end. (A call to a comparison
 * helper per header line costs more than the comparison itself.)
 */
export function knownName(b: Uint8Array, k: number): number {
  switch (b[k]! | 32) {
    case 118: // v, via
      if (NAME_END8[b[k + 1]!] === 1) return (1 << 4) | VIA;
      return (b[k + 1]! | 32) === 105 && (b[k + 2]! | 32) === 97 && NAME_END8[b[k + 3]!] === 1 ? (3 << 4) | VIA : 0;
    case 102: // f, from
      if (NAME_END8[b[k + 1]!] === 1) return (1 << 4) | FROM;
      return (b[k + 1]! | 32) === 114 && (b[k + 2]! | 32) === 111 && (b[k + 3]! | 32) === 109 && NAME_END8[b[k + 4]!] === 1 ? (4 << 4) | FROM : 0;
    case 116: // t, to
      if (NAME_END8[b[k + 1]!] === 1) return (1 << 4) | TO;
      return (b[k + 1]! | 32) === 111 && NAME_END8[b[k + 2]!] === 1 ? (2 << 4) | TO : 0;
    case 105: // i
      return NAME_END8[b[k + 1]!] === 1 ? (1 << 4) | CALL_ID : 0;
    case 108: // l
      return NAME_END8[b[k + 1]!] === 1 ? (1 << 4) | CONTENT_LENGTH : 0;
    case 109: // m, max-forwards
      if (NAME_END8[b[k + 1]!] === 1) return (1 << 4) | CONTACT;
      return NAME_END8[b[k + 12]!] === 1 &&
        (b[k + 1]! | 32) === 97 && (b[k + 2]! | 32) === 120 && b[k + 3] === 45 && (b[k + 4]! | 32) === 102 &&
        (b[k + 5]! | 32) === 111 && (b[k + 6]! | 32) === 114 && (b[k + 7]! | 32) === 119 && (b[k + 8]! | 32) === 97 &&
        (b[k + 9]! | 32) === 114 && (b[k + 10]! | 32) === 100 && (b[k + 11]! | 32) === 115
        ? (12 << 4) | MAX_FORWARDS
        : 0;
    case 114: // route, record-route
      if (NAME_END8[b[k + 5]!] === 1) {
        return (b[k + 1]! | 32) === 111 && (b[k + 2]! | 32) === 117 && (b[k + 3]! | 32) === 116 && (b[k + 4]! | 32) === 101
          ? (5 << 4) | ROUTE
          : 0;
      }
      return NAME_END8[b[k + 12]!] === 1 &&
        (b[k + 1]! | 32) === 101 && (b[k + 2]! | 32) === 99 && (b[k + 3]! | 32) === 111 && (b[k + 4]! | 32) === 114 &&
        (b[k + 5]! | 32) === 100 && b[k + 6] === 45 && (b[k + 7]! | 32) === 114 && (b[k + 8]! | 32) === 111 &&
        (b[k + 9]! | 32) === 117 && (b[k + 10]! | 32) === 116 && (b[k + 11]! | 32) === 101
        ? (12 << 4) | RECORD_ROUTE
        : 0;
    case 99: // c (Content-Type), cseq, call-id, contact, content-length, content-type
      if (NAME_END8[b[k + 1]!] === 1) return (1 << 4) | CONTENT_TYPE;
      if (NAME_END8[b[k + 4]!] === 1) {
        return (b[k + 1]! | 32) === 115 && (b[k + 2]! | 32) === 101 && (b[k + 3]! | 32) === 113 ? (4 << 4) | CSEQ : 0;
      }
      if (NAME_END8[b[k + 7]!] === 1) {
        if ((b[k + 1]! | 32) === 97) {
          return (b[k + 2]! | 32) === 108 && (b[k + 3]! | 32) === 108 && b[k + 4] === 45 && (b[k + 5]! | 32) === 105 && (b[k + 6]! | 32) === 100
            ? (7 << 4) | CALL_ID
            : 0;
        }
        return (b[k + 1]! | 32) === 111 && (b[k + 2]! | 32) === 110 && (b[k + 3]! | 32) === 116 && (b[k + 4]! | 32) === 97 &&
          (b[k + 5]! | 32) === 99 && (b[k + 6]! | 32) === 116
          ? (7 << 4) | CONTACT
          : 0;
      }
      if (NAME_END8[b[k + 12]!] === 1) {
        return (b[k + 1]! | 32) === 111 && (b[k + 2]! | 32) === 110 && (b[k + 3]! | 32) === 116 && (b[k + 4]! | 32) === 101 &&
          (b[k + 5]! | 32) === 110 && (b[k + 6]! | 32) === 116 && b[k + 7] === 45 && (b[k + 8]! | 32) === 116 &&
          (b[k + 9]! | 32) === 121 && (b[k + 10]! | 32) === 112 && (b[k + 11]! | 32) === 101
          ? (12 << 4) | CONTENT_TYPE
          : 0;
      }
      return NAME_END8[b[k + 14]!] === 1 &&
        (b[k + 1]! | 32) === 111 && (b[k + 2]! | 32) === 110 && (b[k + 3]! | 32) === 116 && (b[k + 4]! | 32) === 101 &&
        (b[k + 5]! | 32) === 110 && (b[k + 6]! | 32) === 116 && b[k + 7] === 45 && (b[k + 8]! | 32) === 108 &&
        (b[k + 9]! | 32) === 101 && (b[k + 10]! | 32) === 110 && (b[k + 11]! | 32) === 103 && (b[k + 12]! | 32) === 116 &&
        (b[k + 13]! | 32) === 104
        ? (14 << 4) | CONTENT_LENGTH
        : 0;
  }
  return 0;
}

/** The id of a header key (headerKey's lower-case long form), OTHER for the rest. */
export function idOfKey(key: string): number {
  switch (key) {
    case 'via': return VIA;
    case 'cseq': return CSEQ;
    case 'from': return FROM;
    case 'to': return TO;
    case 'max-forwards': return MAX_FORWARDS;
    case 'call-id': return CALL_ID;
    case 'contact': return CONTACT;
    case 'content-length': return CONTENT_LENGTH;
    case 'route': return ROUTE;
    case 'record-route': return RECORD_ROUTE;
    case 'content-type': return CONTENT_TYPE;
  }
  return OTHER;
}
