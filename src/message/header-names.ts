/**
 * Header name normalisation: every name becomes a lower-case long-form key.
 * Compact forms from RFC 3261 §7.3.3 and the registered extension ones.
 */
// Null-prototype tables: a header named "constructor" or "__proto__" must not find Object.prototype.
const COMPACT: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
  f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via',
  o: 'event', r: 'refer-to', b: 'referred-by', u: 'allow-events', x: 'session-expires',
  y: 'identity', a: 'accept-contact', j: 'reject-contact', d: 'request-disposition',
});

/** Spelling used when we write a header that the caller named in another case or form. */
const CANONICAL: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  'call-id': 'Call-ID', cseq: 'CSeq', 'www-authenticate': 'WWW-Authenticate', 'mime-version': 'MIME-Version',
  'content-length': 'Content-Length', via: 'Via', from: 'From', to: 'To', contact: 'Contact',
  'max-forwards': 'Max-Forwards', 'content-type': 'Content-Type', 'record-route': 'Record-Route',
  route: 'Route', allow: 'Allow', supported: 'Supported', require: 'Require', unsupported: 'Unsupported',
  'user-agent': 'User-Agent', server: 'Server', expires: 'Expires', 'min-expires': 'Min-Expires',
  accept: 'Accept', 'accept-encoding': 'Accept-Encoding', 'accept-language': 'Accept-Language',
  'proxy-require': 'Proxy-Require', 'retry-after': 'Retry-After', 'content-encoding': 'Content-Encoding',
  'allow-events': 'Allow-Events', event: 'Event', 'refer-to': 'Refer-To', 'referred-by': 'Referred-By',
  'session-expires': 'Session-Expires', 'proxy-authenticate': 'Proxy-Authenticate',
  'proxy-authorization': 'Proxy-Authorization', authorization: 'Authorization', subject: 'Subject',
  'reply-to': 'Reply-To', warning: 'Warning', timestamp: 'Timestamp', date: 'Date', path: 'Path',
  'service-route': 'Service-Route', 'content-disposition': 'Content-Disposition', identity: 'Identity',
  'accept-contact': 'Accept-Contact', 'reject-contact': 'Reject-Contact', 'request-disposition': 'Request-Disposition',
});

/**
 * Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1 and extensions), so that
 * `getAll` splits "Via: a, b" into two values. Other headers (Date, WWW-Authenticate, unknown ones)
 * may contain commas that do not separate values and are never split.
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via', 'contact', 'route', 'record-route', 'path', 'service-route', 'allow', 'supported', 'require',
  'proxy-require', 'unsupported', 'accept', 'accept-encoding', 'accept-language', 'content-encoding',
  'content-language', 'alert-info', 'call-info', 'error-info', 'in-reply-to', 'warning', 'allow-events',
  'accept-contact', 'reject-contact', 'request-disposition', 'p-asserted-identity', 'p-preferred-identity',
  'reason', 'security-client', 'security-server', 'security-verify', 'history-info', 'p-associated-uri',
]);

/**
 * The key of a header name: its lower-case long form. A common name gives the one shared key
 * string (see keyAt), which later compares with the keys of received lines by identity.
 */
export function headerKey(name: string): string {
  return keyAt(name, 0, name.length);
}

/** headerKey of a name keyAt does not know. */
function slowKey(name: string): string {
  if (name.length === 1) {
    const c = COMPACT[name] ?? COMPACT[name.toLowerCase()];
    if (c !== undefined) return c;
  }
  return name.toLowerCase();
}

export function canonicalName(key: string, given: string): string {
  if (given.length === 1) return CANONICAL[key] ?? given;
  return CANONICAL[key] ?? given;
}

/**
 * Lower-case long-form keys of the names messages usually carry, by (length, first letter): a
 * received name is matched against them in place, so the key is one shared string and no name is
 * sliced or lower-cased per message (see keyAt).
 */
const COMMON_KEYS = new Set<string>([
  ...Object.values(COMPACT),
  ...Object.keys(CANONICAL),
  ...LIST_HEADERS,
  'subscription-state', 'content-language', 'organization', 'priority', 'privacy', 'rseq', 'rack', 'min-se',
  'sip-etag', 'sip-if-match', 'authentication-info', 'in-reply-to', 'mime-version', 'p-charging-vector',
  'p-access-network-info', 'p-called-party-id', 'diversion', 'replaces', 'refer-sub', 'target-dialog', 'geolocation',
]);
const MAX_COMMON = 40;
// Filled to its full length first: an array written at scattered indices turns into a slow dictionary.
const BY_SHAPE: (string[] | undefined)[] = new Array<string[] | undefined>(MAX_COMMON * 32).fill(undefined);
for (const key of COMMON_KEYS) {
  if (key.length >= MAX_COMMON) continue;
  ((BY_SHAPE[key.length * 32 + (key.charCodeAt(0) & 31)] ??= [])).push(key);
}
/** Compact form by the letter's code folded to 0..31 (a..z), as keys. */
const COMPACT_BY_LETTER: (string | undefined)[] = new Array<string | undefined>(32).fill(undefined);
for (const [c, key] of Object.entries(COMPACT)) COMPACT_BY_LETTER[c.charCodeAt(0) & 31] = key;

/**
 * headerKey of the name text[from..to) (a token, as the parser checked), without slicing it when it
 * is a common name: any case, compact forms included.
 */
export function keyAt(text: string, from: number, to: number): string {
  const n = to - from;
  const c0 = text.charCodeAt(from);
  const letter = (c0 >= 65 && c0 <= 90) || (c0 >= 97 && c0 <= 122);
  if (letter) {
    if (n === 1) {
      const k = COMPACT_BY_LETTER[c0 & 31];
      if (k !== undefined) return k;
    } else if (n < MAX_COMMON) {
      const list = BY_SHAPE[n * 32 + (c0 & 31)];
      if (list !== undefined) {
        for (let j = 0; j < list.length; j++) {
          const key = list[j]!;
          let i = 1;
          for (; i < n; i++) {
            let c = text.charCodeAt(from + i);
            if (c >= 65 && c <= 90) c += 32;
            if (c !== key.charCodeAt(i)) break;
          }
          if (i === n) return key;
        }
      }
    }
  }
  return slowKey(from === 0 && to === text.length ? text : text.slice(from, to));
}

/** The compact form's letter (lower-case char code) of a key, 0 if it has none. */
const COMPACT_OF: Record<string, number> = Object.create(null) as Record<string, number>;
for (const [c, key] of Object.entries(COMPACT)) COMPACT_OF[key] = c.charCodeAt(0);
export function compactOf(key: string): number {
  return COMPACT_OF[key] ?? 0;
}
