import { SipParseError } from './errors.js';
import { HOST, parseUint, skipWs, TOKEN } from './chars.js';
import { formatParams, parseParams, type Params } from './params.js';

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

function token(s: string, i: number): number {
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) break;
    i++;
  }
  return i;
}

export function parseVia(s: string): Via {
  const n = s.length;
  let i = skipWs(s, 0);
  let e = token(s, i);
  if (e === i) throw bad('protocol');
  const name = s.slice(i, e);
  i = skipWs(s, e);
  if (s.charCodeAt(i) !== 47) throw bad('protocol');
  i = skipWs(s, i + 1);
  e = token(s, i);
  if (e === i) throw bad('version');
  const version = s.slice(i, e);
  i = skipWs(s, e);
  if (s.charCodeAt(i) !== 47) throw bad('protocol');
  i = skipWs(s, i + 1);
  e = token(s, i);
  if (e === i) throw bad('transport');
  const transport = s.slice(i, e).toUpperCase();
  i = skipWs(s, e);
  if (i === e) throw bad('missing sent-by');
  const hs = i;
  let host: string;
  if (s.charCodeAt(i) === 91) {
    const close = s.indexOf(']', i);
    if (close === -1) throw bad('IPv6 reference');
    host = s.slice(i + 1, close);
    i = close + 1;
  } else {
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 58 || c === 59 || c === 32 || c === 9) break;
      if (c >= 128 || HOST[c] === 0) throw bad('host');
      i++;
    }
    host = s.slice(hs, i);
  }
  if (host.length === 0) throw bad('empty host');
  let port: number | undefined;
  let j = skipWs(s, i);
  if (j < n && s.charCodeAt(j) === 58) {
    j = skipWs(s, j + 1);
    const ps = j;
    while (j < n && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
    port = parseUint(s, 65535, ps, j);
    if (port < 0) throw bad('port');
    i = j;
  }
  const sentBy = port === undefined ? s.slice(hs, i) : (s.charCodeAt(hs) === 91 ? s.slice(hs, s.indexOf(']', hs) + 1) : host) + ':' + port;
  const params: Params = new Map();
  i = parseParams(s, i, params, 'Via');
  if (i < n) throw bad('trailing characters');
  const via: Via = { protocol: name.toUpperCase() + '/' + version, transport, host, port, sentBy, params };
  const branch = params.get('branch');
  if (branch) via.branch = branch;
  const received = params.get('received');
  if (received) via.received = received;
  if (params.has('rport')) {
    const r = params.get('rport');
    const v = r === null || r === undefined ? -1 : parseUint(r, 65535);
    via.rport = v < 0 ? null : v;
  }
  return via;
}

export function formatVia(v: Via): string {
  const host = v.host.indexOf(':') !== -1 ? '[' + v.host + ']' : v.host;
  return `${v.protocol}/${v.transport} ${host}${v.port === undefined ? '' : ':' + v.port}${formatParams(v.params)}`;
}
