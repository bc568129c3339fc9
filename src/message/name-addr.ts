import { SipParseError } from './errors.js';
import { decimalB, scratchBytesOf, isWs, parseUintB, stableBytes, TOKEN8 } from './chars.js';
import { CAP, capValue, formatParams, parseParams, parseParamsB, quotedEndB, scanParams, unquote, type Params } from './params.js';
import { linkUri, parseUri, type SipUri } from './uri.js';

/**
 * From, To, Contact, Route, Record-Route...: `[display-name] <uri>;params` or `uri;params`.
 * A parsed one reads its display name, URI and params on first access: copy the fields explicitly
 * (`{ uri: na.uri, params: new Map(na.params), ... }`); `{ ...na }` copies the tag only.
 */
export interface NameAddr {
  /** Display name, unquoted; undefined when absent. */
  displayName?: string;
  /** The addr-spec as written (not unescaped). Use `parseUri` (or `uriOf`) for its parts. */
  uri: string;
  /** Header parameters (after the URI), names lower-cased. */
  params: Params;
  tag?: string;
}

export interface Contact extends NameAddr {
  /** `Contact: *` (REGISTER removing every binding). */
  star?: boolean;
  /** `expires` parameter when it is a valid number (out-of-range values are ignored, RFC 4475 scalar02). */
  expires?: number;
  /** `q` parameter, 0..1. */
  q?: number;
}

/** Node's util.inspect hook (a registered symbol: the codec imports no Node module for it). */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

const bad = (what: string, why: string): SipParseError => new SipParseError(`Malformed ${what}: ${why}`);

/** One name-addr or addr-spec with header parameters, s[from..to) (default: all of s). */
export function parseNameAddr(s: string, what = 'name-addr', from = 0, to = s.length): NameAddr {
  return nameAddrElement(s, scratchBytesOf(s), 0, what, from, to, false);
}

/**
 * Bytes a URI cannot hold: controls, SP, DEL, and '"' '<' '>' (not URI characters; they would also
 * change how splitList cuts a Contact list, so the lazily parsed view could differ).
 */
const URI_BAD8 = new Uint8Array(256);
for (let c = 0; c <= 32; c++) URI_BAD8[c] = 1;
for (const c of [127, 34, 60, 62]) URI_BAD8[c] = 1;

/** Token characters and LWS (an unquoted display name), over all 256 byte values. */
const DISPLAY8 = new Uint8Array(256);
DISPLAY8.set(TOKEN8);
DISPLAY8[32] = DISPLAY8[9] = 1;

/**
 * Where scanNameAddr found the parts of the last name-addr (reused: read before the next scan).
 * Display name s[dnS..dnE) (dnS -1 = none; quoted: the quotes included), URI s[us..ue).
 */
const NA = { dnS: -1, dnE: -1, dnQuoted: false, us: 0, ue: 0, ps: 0 };

/**
 * Check one name-addr starting at `from` without building anything (b[o + i] stands for s[i],
 * see bytesOf): the parts are left in NA, the parameters in CAP, and the end is returned. In a list
 * (`list` true) it may end at a ',' (after LWS; an addr-spec URI ends there too) that separates
 * it from the next value. Otherwise it must fill s[from..to).
 */
function scanNameAddr(s: string, b: Uint8Array, o: number, what: string, from: number, to: number, list: boolean): number {
  const n = to;
  let i = from;
  while (i < n && isWs(b[o + i]!)) i++;
  NA.dnS = -1;
  let lt = -1;
  if (i < n && b[o + i] === 34) {
    const end = quotedEndB(b, o, i, n);
    if (end < 0) throw bad(what, 'unterminated quoted display name');
    NA.dnS = i;
    NA.dnE = end;
    NA.dnQuoted = true;
    i = end;
    while (i < n && isWs(b[o + i]!)) i++;
    if (i >= n || b[o + i] !== 60) throw bad(what, 'expected <');
    lt = i;
  } else {
    // Unquoted display name: tokens separated by LWS, then '<' (RFC 4475 lwsdisp: no LWS needed).
    let j = o + i;
    const je = o + n;
    // Four bytes a step while all four qualify (see URI_BAD8 below), then one at a time.
    while (j + 3 < je && (DISPLAY8[b[j]!]! & DISPLAY8[b[j + 1]!]! & DISPLAY8[b[j + 2]!]! & DISPLAY8[b[j + 3]!]!) === 1) j += 4;
    while (j < je && DISPLAY8[b[j]!] === 1) j++;
    let k = j - o;
    if (k < n && b[o + k] === 60) {
      lt = k;
      while (k > i && isWs(b[o + k - 1]!)) k--;
      if (k > i) {
        NA.dnS = i;
        NA.dnE = k;
        NA.dnQuoted = false;
      }
    }
  }
  let us: number;
  let ue: number;
  let colon = -1;
  if (lt !== -1) {
    // <URI>: no whitespace or control characters inside (RFC 4475 badaspec). '>' is one of the
    // URI_BAD8 bytes, so one loop finds the end and checks what comes before it.
    us = lt + 1;
    let j = o + us;
    const je = o + n;
    let c = 0;
    // The scheme up to its ':', then the rest with one test per byte.
    while (j < je && URI_BAD8[(c = b[j]!)] === 0 && c !== 58) j++;
    if (j < je && c === 58) {
      colon = j - o;
      j++;
      // Four bytes a step while none ends the URI (a quarter of the loop tests: about twice as
      // fast on a long URI), then one at a time up to the byte that ends it.
      while (j + 3 < je && (URI_BAD8[b[j]!]! | URI_BAD8[b[j + 1]!]! | URI_BAD8[b[j + 2]!]! | URI_BAD8[b[j + 3]!]!) === 0) j += 4;
      while (j < je && URI_BAD8[(c = b[j]!)] === 0) j++;
    }
    ue = j - o;
    if (ue >= n || c !== 62) {
      const gt = s.indexOf('>', ue);
      if (gt === -1 || gt >= n) throw bad(what, 'missing >');
      throw bad(what, 'whitespace or a control character, \'"\' or \'<\' inside the URI');
    }
    i = ue + 1;
  } else {
    // addr-spec form: the URI ends at the first ';' and cannot hold ',', '?' or ';' (RFC 3261 §20).
    us = ue = i;
    while (ue < n) {
      const c = b[o + ue]!;
      if (c === 59 || c === 32 || c === 9 || (c === 44 && list)) break;
      if (c === 63 || c === 44) throw bad(what, 'a URI with "?" or "," must be enclosed in <>');
      if (URI_BAD8[c] === 1) throw bad(what, 'a URI cannot hold controls, \'"\', \'<\' or \'>\'');
      if (c === 58 && colon === -1) colon = ue;
      ue++;
    }
    i = ue;
  }
  if (colon <= us) throw bad(what, 'missing URI');
  NA.us = us;
  NA.ue = ue;
  NA.ps = i;
  i = scanParams(b, o, i, what, n, list ? 44 : -1);
  if (i < n && !list) throw bad(what, 'trailing characters');
  CAP.end = i;
  return i;
}

/**
 * One name-addr starting at `from` (b[o + i] stands for s[i], see bytesOf). In a list (`list`
 * true) it may end at a ',' (after LWS; an addr-spec URI ends there too) that separates it from
 * the next value: CAP.end tells where it ended. Otherwise it must fill s[from..to).
 */
export function nameAddrElement(s: string, b: Uint8Array, o: number, what: string, from: number, to: number, list: boolean): ParsedNameAddr {
  const end = scanNameAddr(s, b, o, what, from, to, list);
  return new ParsedNameAddr(NA.dnS, NA.dnE, NA.dnQuoted, NA.us, NA.ue, capValue(s, CAP.tagS, CAP.tagE), s, stableBytes(b), o, NA.ps, end, what);
}

/** One Contact value (name-addr, addr-spec or '*'), s[from..to) (default: all of s). */
export function parseContact(s: string, from = 0, to = s.length): Contact {
  return contactElement(s, scratchBytesOf(s), 0, from, to, false);
}

/** `Contact: *` (alone, or ended by ',' in a list) starting at `from`: where it ends, else -1. */
function starEnd(b: Uint8Array, o: number, from: number, to: number, list: boolean): number {
  let x = from;
  while (x < to && isWs(b[o + x]!)) x++;
  if (x >= to || b[o + x] !== 42 /* * */) return -1;
  let y = x + 1;
  while (y < to && isWs(b[o + y]!)) y++;
  return y === to || (list && b[o + y] === 44) ? y : -1;
}

/**
 * Check one Contact starting at `from` as contactElement would read it, building nothing (the
 * parser validates Contact eagerly but most messages never read it); returns where it ended.
 */
export function checkContact(s: string, b: Uint8Array, o: number, from: number, to: number, list: boolean): number {
  const star = starEnd(b, o, from, to, list);
  if (star !== -1) return (CAP.end = star);
  // expires and q never fail (a bad value is ignored).
  return scanNameAddr(s, b, o, 'Contact', from, to, list);
}

/** One Contact starting at `from`, as nameAddrElement (CAP.end tells where it ended). */
export function contactElement(s: string, b: Uint8Array, o: number, from: number, to: number, list: boolean): Contact {
  const star = starEnd(b, o, from, to, list);
  if (star !== -1) {
    CAP.end = star;
    return contactOf(-1, -1, false, 0, 1, undefined, '*', undefined, 0, 0, 0, true, undefined, undefined);
  }
  const end = scanNameAddr(s, b, o, 'Contact', from, to, list);
  // CAP holds what the element's parameter scan found.
  let expires: number | undefined;
  let q: number | undefined;
  // Present with a value: start >= 0 and end >= 0 (the ends are not reset between scans).
  if (CAP.expiresS >= 0 && CAP.expiresE >= 0) {
    const v = parseUintB(b, o, 4294967295, CAP.expiresS, CAP.expiresE);
    if (v >= 0) expires = v;
  }
  if (CAP.qS >= 0 && CAP.qE >= 0) {
    let v = decimalB(b, o, CAP.qS, CAP.qE);
    if (v < 0) v = Number(s.slice(CAP.qS, CAP.qE));
    if (v >= 0 && v <= 1) q = v;
  }
  return contactOf(NA.dnS, NA.dnE, NA.dnQuoted, NA.us, NA.ue, capValue(s, CAP.tagS, CAP.tagE), s, stableBytes(b), o, NA.ps, end, undefined, expires, q);
}

/**
 * A name-addr read by parseNameAddr. Its parts were checked while parsing; the display name, the
 * URI string and the `params` Map are made on first access (most messages only need the tag,
 * which is a field already), from the text it came from.
 */
class ParsedNameAddr implements NameAddr {
  #params: Params | undefined;
  #displayName: string | undefined;
  #uri: string | undefined;
  /** Display name src[#dnS..#dnE) (quoted when #dnQuoted), #dnS -1 when none; -2 once read or set. */
  #dnS: number;
  readonly #dnE: number;
  readonly #dnQuoted: boolean;
  readonly #us: number;
  readonly #ue: number;
  readonly #src: string;
  /** Bytes that stand for #src (b[#o + i] is src[i]) and stay as they are; undefined: none (see linkUri). */
  readonly #b: Uint8Array | undefined;
  readonly #o: number;
  readonly #from: number;
  readonly #to: number;
  readonly #what: string;

  constructor(
    dnS: number,
    dnE: number,
    dnQuoted: boolean,
    us: number,
    ue: number,
    public tag: string | undefined,
    src: string,
    b: Uint8Array | undefined,
    o: number,
    from: number,
    to: number,
    what: string,
  ) {
    this.#dnS = dnS;
    this.#dnE = dnE;
    this.#dnQuoted = dnQuoted;
    this.#us = us;
    this.#ue = ue;
    this.#src = src;
    this.#b = b;
    this.#o = o;
    this.#from = from;
    this.#to = to;
    this.#what = what;
  }

  get displayName(): string | undefined {
    const dnS = this.#dnS;
    if (dnS >= 0) {
      const src = this.#src;
      const dnE = this.#dnE;
      if (!this.#dnQuoted) this.#displayName = src.slice(dnS, dnE);
      else {
        // Without a quoted-pair the contents are the text between the quotes: one slice.
        let i = dnS + 1;
        while (i < dnE && src.charCodeAt(i) !== 92) i++;
        this.#displayName = i >= dnE ? src.slice(dnS + 1, dnE - 1) : unquote(src.slice(dnS, dnE));
      }
    }
    if (dnS !== -2) this.#dnS = -2;
    return this.#displayName;
  }

  set displayName(value: string | undefined) {
    this.#displayName = value;
    this.#dnS = -2;
  }

  get uri(): string {
    let u = this.#uri;
    if (u === undefined) {
      u = this.#uri = this.#src.slice(this.#us, this.#ue);
      // parseUri(na.uri), the usual next step, then reads these bytes (see linkUri).
      if (this.#b !== undefined) linkUri(u, this.#src, this.#b, this.#o, this.#us);
    }
    return u;
  }

  set uri(value: string) {
    this.#uri = value;
  }

  get params(): Params {
    if (this.#params === undefined) {
      this.#params = new Map();
      const b = this.#b;
      if (b !== undefined) parseParamsB(this.#src, b, this.#o, this.#from, this.#params, this.#what, this.#to);
      else parseParams(this.#src, this.#from, this.#params, this.#what, -1, this.#to);
    }
    return this.#params;
  }

  set params(value: Params) {
    this.#params = value;
  }

  /**
   * A plain copy with every part read (JSON.stringify and console.log use it): the display name,
   * URI and params are read on first access, so `{ ...na }` copies only the tag.
   */
  toJSON(): NameAddr {
    // The inspect copy with its params Map made a plain object (JSON has no Map).
    const plain = this[INSPECT]();
    return { ...plain, params: Object.fromEntries(plain.params) as unknown as Params };
  }

  [INSPECT](): NameAddr | Contact {
    const na = { displayName: this.displayName, uri: this.uri, params: this.params, tag: this.tag };
    // A Contact has its own three fields (see contactOf).
    if (!Object.hasOwn(this, 'q')) return na;
    const c = this as unknown as Contact;
    return { ...na, star: c.star, expires: c.expires, q: c.q };
  }

}

/**
 * A Contact read by parseContact: a ParsedNameAddr with its Contact fields, set right after the
 * constructor, always all three in that order (one object shape for every Contact, the From/To
 * shape plus three). Not a subclass: V8 does not inline a subclass's construction (a default
 * constructor goes through a generic builtin, FindNonDefaultConstructorOrConstruct, which perf put
 * at 1.5-2% of (a) answering sipp's OPTIONS with its Contact; an explicit super() call through a
 * generic construct).
 */
type ParsedContact = ParsedNameAddr & Contact;

/** A ParsedContact (the name-addr's parts as for ParsedNameAddr), with its Contact fields. */
function contactOf(
  dnS: number,
  dnE: number,
  dnQuoted: boolean,
  us: number,
  ue: number,
  tag: string | undefined,
  src: string,
  b: Uint8Array | undefined,
  o: number,
  from: number,
  to: number,
  star: boolean | undefined,
  expires: number | undefined,
  q: number | undefined,
): ParsedContact {
  const c = new ParsedNameAddr(dnS, dnE, dnQuoted, us, ue, tag, src, b, o, from, to, 'Contact') as ParsedContact;
  c.star = star;
  c.expires = expires;
  c.q = q;
  return c;
}

/** The parsed URI of a name-addr. */
export const uriOf = (na: NameAddr): SipUri => parseUri(na.uri);

export function formatNameAddr(na: NameAddr): string {
  let s = '';
  if (na.displayName !== undefined) s += '"' + na.displayName.replace(/["\\]/g, '\\$&') + '" ';
  s += '<' + na.uri + '>';
  return s + formatParams(na.params);
}
