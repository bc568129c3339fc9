import { SipParseError } from './errors.js';
import { scratchBytesOf, HOST8, parseUintB, TOKEN8 } from './chars.js';
import { CAP, capValue, formatParams, parseParams, scanParams, type Params } from './params.js';

/** One Via header value (RFC 3261 §20.42). A parsed one reads `params` on first access, so `{ ...via }` has none: copy it explicitly. */
export interface Via {
  /** Protocol name and version, normally "SIP/2.0". */
  protocol: string;
  /** Transport token, upper case: UDP, TCP, TLS, SCTP, WS... */
  transport: string;
  /** Host of sent-by, IPv6 without brackets. */
  host: string;
  port?: number;
  /** sent-by as written (host[:port], brackets kept). */
  sentBy: string;
  params: Params;
  branch?: string;
  received?: string;
  /** RFC 3581: number when filled in, null when the flag was sent without a value. */
  rport?: number | null;
}

const bad = (why: string): SipParseError => new SipParseError(`Malformed Via: ${why}`);

function token(b: Uint8Array, o: number, i: number, n: number): number {
  while (i < n && TOKEN8[b[o + i]!] === 1) i++;
  return i;
}

/** "SIP/2.0/" at i (the usual spelling; anything else takes the general path). */
function sip20(b: Uint8Array, o: number, i: number, n: number): boolean {
  const k = o + i;
  return (
    n > i + 8 &&
    b[k] === 83 && b[k + 1] === 73 && b[k + 2] === 80 && b[k + 3] === 47 &&
    b[k + 4] === 50 && b[k + 5] === 46 && b[k + 6] === 48 && b[k + 7] === 47
  );
}

/** Upper-case transport token s[i..e); the common ones without allocating. */
function transportOf(s: string, b: Uint8Array, o: number, i: number, e: number): string {
  if (e - i === 3) {
    const x = b[o + i]! | 32;
    const y = b[o + i + 1]! | 32;
    const z = b[o + i + 2]! | 32;
    if (x === 117 && y === 100 && z === 112) return 'UDP';
    if (x === 116 && y === 99 && z === 112) return 'TCP';
    if (x === 116 && y === 108 && z === 115) return 'TLS';
  }
  return s.slice(i, e).toUpperCase();
}

const isLws = (c: number): boolean => c === 32 || c === 9;

/** Characters of an IPv6 reference between the brackets: hex digits, ':' and '.' (IPv4 tail). */
const IPV6_8 = new Uint8Array(256);
for (const ch of '0123456789abcdefABCDEF:.') IPV6_8[ch.charCodeAt(0)] = 1;

/** Host characters 1, characters that end a host 2 (':' ';' SP HT ','), anything else 0. */
const HOST_CLASS = new Uint8Array(256);
HOST_CLASS.set(HOST8);
for (const ch of ':; \t,') HOST_CLASS[ch.charCodeAt(0)] = 2;
/** 1 exactly where HOST_CLASS is 1 (for the four-bytes-a-step run; ':' ends a host here). */
const HOST_RUN = HOST_CLASS.map((k) => (k === 1 ? 1 : 0));

/** One Via value, s[from..to) (default: all of s). */
export function parseVia(s: string, from = 0, to = s.length): Via {
  return viaElement(s, scratchBytesOf(s), 0, from, to, false);
}

/**
 * One Via starting at `from` (b[o + i] stands for s[i], see bytesOf). In a list (`list` true) it
 * may end at a ',' (after LWS) that separates it from the next value: CAP.end tells where it
 * ended. Otherwise it must fill s[from..to).
 */
export function viaElement(s: string, b: Uint8Array, o: number, from: number, to: number, list: boolean): Via {
  const n = to;
  let i = from;
  while (i < n && isLws(b[o + i]!)) i++;
  let protocol: string;
  let e: number;
  if (sip20(b, o, i, n)) {
    protocol = 'SIP/2.0';
    i += 8;
  } else {
    // sent-protocol = protocol-name LWS? "/" LWS? protocol-version LWS? "/" LWS? transport
    e = token(b, o, i, n);
    if (e === i) throw bad('protocol');
    const name = s.slice(i, e);
    while (e < n && isLws(b[o + e]!)) e++;
    if (e >= n || b[o + e] !== 47) throw bad('protocol');
    i = e + 1;
    while (i < n && isLws(b[o + i]!)) i++;
    e = token(b, o, i, n);
    if (e === i) throw bad('version');
    protocol = name.toUpperCase() + '/' + s.slice(i, e);
    while (e < n && isLws(b[o + e]!)) e++;
    if (e >= n || b[o + e] !== 47) throw bad('protocol');
    i = e + 1;
    while (i < n && isLws(b[o + i]!)) i++;
  }
  e = token(b, o, i, n);
  if (e === i) throw bad('transport');
  const transport = transportOf(s, b, o, i, e);
  i = e;
  while (i < n && isLws(b[o + i]!)) i++;
  if (i === e) throw bad('missing sent-by');

  // sent-by = host [ ":" port ]
  const hs = i;
  let host: string;
  if (i < n && b[o + i] === 91 /* [ */) {
    const close = s.indexOf(']', i);
    if (close === -1 || close >= n) throw bad('IPv6 reference');
    for (let k = i + 1; k < close; k++) if (IPV6_8[b[o + k]!] === 0) throw bad('IPv6 reference');
    host = s.slice(i + 1, close);
    i = close + 1;
  } else {
    let k = 0;
    let j = o + i;
    const je = o + n;
    // Four host bytes a step, then one at a time up to the byte that ends the host.
    while (j + 3 < je && (HOST_RUN[b[j]!]! & HOST_RUN[b[j + 1]!]! & HOST_RUN[b[j + 2]!]! & HOST_RUN[b[j + 3]!]!) === 1) j += 4;
    while (j < je && (k = HOST_CLASS[b[j]!]!) === 1) j++;
    i = j - o;
    if (i < n && k === 0) throw bad('host');
    host = s.slice(hs, i);
  }
  if (host.length === 0) throw bad('empty host');
  const hostEnd = i;
  let port: number | undefined;
  let sentBy: string;
  let j = i;
  while (j < n && isLws(b[o + j]!)) j++;
  if (j < n && b[o + j] === 58) {
    const colon = j;
    j++;
    while (j < n && isLws(b[o + j]!)) j++;
    const ps = j;
    let v = 0;
    while (j < n) {
      const d = b[o + j]! - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      if (v > 65535) throw bad('port');
      j++;
    }
    if (j === ps) throw bad('port');
    port = v;
    // As written when written plainly ("host:port"); LWS around ':' is dropped.
    sentBy = colon === hostEnd && ps === colon + 1 ? s.slice(hs, j) : s.slice(hs, hostEnd) + ':' + v;
    i = j;
  } else sentBy = host.length === hostEnd - hs ? host : s.slice(hs, hostEnd);
  const paramsFrom = i;

  i = scanParams(b, o, i, 'Via', n, list ? 44 : -1);
  if (i < n && !list) throw bad('trailing characters');
  CAP.end = i;
  let rport: number | null | undefined;
  if (CAP.rportS >= 0) {
    const v = CAP.rportE < 0 ? -1 : parseUintB(b, o, 65535, CAP.rportS, CAP.rportE);
    rport = v < 0 ? null : v;
  }
  return new ParsedVia(
    protocol,
    transport,
    host,
    port,
    sentBy,
    capValue(s, CAP.branchS, CAP.branchE),
    capValue(s, CAP.receivedS, CAP.receivedE),
    rport,
    s,
    paramsFrom,
    i, // where the parameters end (a ',' in a list)
  );
}

/** Node's util.inspect hook (a registered symbol: the codec imports no Node module for it). */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * A Via read by parseVia. Its parameters were checked while parsing; the `params` Map is built
 * on first access (branch, received and rport are fields already), from the text it came from.
 */
class ParsedVia implements Via {
  #params: Params | undefined;
  readonly #src: string;
  readonly #from: number;
  readonly #to: number;

  constructor(
    public protocol: string,
    public transport: string,
    public host: string,
    public port: number | undefined,
    public sentBy: string,
    public branch: string | undefined,
    public received: string | undefined,
    public rport: number | null | undefined,
    src: string,
    from: number,
    to: number,
  ) {
    this.#src = src;
    this.#from = from;
    this.#to = to;
  }

  get params(): Params {
    if (this.#params === undefined) {
      this.#params = new Map();
      parseParams(this.#src, this.#from, this.#params, 'Via', -1, this.#to);
    }
    return this.#params;
  }

  set params(value: Params) {
    this.#params = value;
  }

  /**
   * A plain copy with the params read (JSON.stringify and console.log use it): they are read on
   * first access, so `{ ...via }` has no params.
   */
  toJSON(): Via {
    return { ...this, params: Object.fromEntries(this.params) as unknown as Params };
  }

  [INSPECT](): Via {
    return { ...this, params: this.params };
  }
}

export function formatVia(v: Via): string {
  const host = v.host.indexOf(':') !== -1 ? '[' + v.host + ']' : v.host;
  return `${v.protocol}/${v.transport} ${host}${v.port === undefined ? '' : ':' + v.port}${formatParams(v.params)}`;
}
