import { SipParseError } from './errors.js';
import { HOST, parseUint, TOKEN } from './chars.js';
import { CAP, capValue, formatParams, parseParams, scanParams, type Params } from './params.js';

/** One Via header value (RFC 3261 §20.42). */
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

function token(s: string, i: number, n: number): number {
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) break;
    i++;
  }
  return i;
}

/** "SIP/2.0/" at i (the usual spelling; anything else takes the general path). */
function sip20(s: string, i: number, n: number): boolean {
  return (
    n > i + 8 &&
    s.charCodeAt(i) === 83 && s.charCodeAt(i + 1) === 73 && s.charCodeAt(i + 2) === 80 && s.charCodeAt(i + 3) === 47 &&
    s.charCodeAt(i + 4) === 50 && s.charCodeAt(i + 5) === 46 && s.charCodeAt(i + 6) === 48 && s.charCodeAt(i + 7) === 47
  );
}

/** Upper-case transport token s[i..e); the common ones without allocating. */
function transportOf(s: string, i: number, e: number): string {
  if (e - i === 3) {
    const a = s.charCodeAt(i) | 32;
    const b = s.charCodeAt(i + 1) | 32;
    const c = s.charCodeAt(i + 2) | 32;
    if (a === 117 && b === 100 && c === 112) return 'UDP';
    if (a === 116 && b === 99 && c === 112) return 'TCP';
    if (a === 116 && b === 108 && c === 115) return 'TLS';
  }
  return s.slice(i, e).toUpperCase();
}

const isLws = (c: number): boolean => c === 32 || c === 9;

/** Host characters 1, characters that end a host 2 (':' ';' SP HT), anything else 0. */
const HOST_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) HOST_CLASS[c] = HOST[c]!;
for (const ch of ':; \t,') HOST_CLASS[ch.charCodeAt(0)] = 2;

/** One Via value, s[from..to) (default: all of s). */
export function parseVia(s: string, from = 0, to = s.length): Via {
  return viaElement(s, from, to, false);
}

/**
 * One Via starting at `from`. In a list (`list` true) it may end at a ',' (after LWS) that
 * separates it from the next value: CAP.end tells where it ended. Otherwise it must fill s[from..to).
 */
export function viaElement(s: string, from: number, to: number, list: boolean): Via {
  const n = to;
  let i = from;
  while (i < n && isLws(s.charCodeAt(i))) i++;
  let protocol: string;
  let e: number;
  if (sip20(s, i, n)) {
    protocol = 'SIP/2.0';
    i += 8;
  } else {
    // sent-protocol = protocol-name LWS? "/" LWS? protocol-version LWS? "/" LWS? transport
    e = token(s, i, n);
    if (e === i) throw bad('protocol');
    const name = s.slice(i, e);
    while (e < n && isLws(s.charCodeAt(e))) e++;
    if (s.charCodeAt(e) !== 47) throw bad('protocol');
    i = e + 1;
    while (i < n && isLws(s.charCodeAt(i))) i++;
    e = token(s, i, n);
    if (e === i) throw bad('version');
    protocol = name.toUpperCase() + '/' + s.slice(i, e);
    while (e < n && isLws(s.charCodeAt(e))) e++;
    if (s.charCodeAt(e) !== 47) throw bad('protocol');
    i = e + 1;
    while (i < n && isLws(s.charCodeAt(i))) i++;
  }
  e = token(s, i, n);
  if (e === i) throw bad('transport');
  const transport = transportOf(s, i, e);
  i = e;
  while (i < n && isLws(s.charCodeAt(i))) i++;
  if (i === e) throw bad('missing sent-by');

  // sent-by = host [ ":" port ]
  const hs = i;
  let host: string;
  if (s.charCodeAt(i) === 91 /* [ */) {
    const close = s.indexOf(']', i);
    if (close === -1 || close >= n) throw bad('IPv6 reference');
    host = s.slice(i + 1, close);
    i = close + 1;
  } else {
    while (i < n) {
      const c = s.charCodeAt(i);
      const k = c < 128 ? HOST_CLASS[c]! : 0;
      if (k === 1) {
        i++;
        continue;
      }
      if (k === 2) break;
      throw bad('host');
    }
    host = s.slice(hs, i);
  }
  if (host.length === 0) throw bad('empty host');
  const hostEnd = i;
  let port: number | undefined;
  let sentBy: string;
  let j = i;
  while (j < n && isLws(s.charCodeAt(j))) j++;
  if (j < n && s.charCodeAt(j) === 58) {
    const colon = j;
    j++;
    while (j < n && isLws(s.charCodeAt(j))) j++;
    const ps = j;
    let v = 0;
    while (j < n) {
      const d = s.charCodeAt(j) - 48;
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

  i = scanParams(s, i, 'Via', n, list ? 44 : -1);
  if (i < n && !list) throw bad('trailing characters');
  CAP.end = i;
  let rport: number | null | undefined;
  if (CAP.rportS >= 0) {
    const v = CAP.rportE < 0 ? -1 : parseUint(s, 65535, CAP.rportS, CAP.rportE); // rportS >= 0 here
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
}

export function formatVia(v: Via): string {
  const host = v.host.indexOf(':') !== -1 ? '[' + v.host + ']' : v.host;
  return `${v.protocol}/${v.transport} ${host}${v.port === undefined ? '' : ':' + v.port}${formatParams(v.params)}`;
}
