import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** RFC 4475 torture messages (test/fixtures/rfc4475), byte-exact. */
export const RFC4475_DIR = fileURLToPath(new URL('../fixtures/rfc4475/', import.meta.url));
export const RFC4475_DIRS = ['valid', 'invalid', 'semantic', 'extra'] as const;
export type Rfc4475Dir = (typeof RFC4475_DIRS)[number];

export function torture(dir: Rfc4475Dir, name: string): Buffer {
  return readFileSync(`${RFC4475_DIR}${dir}/${name}`);
}

export function tortureNames(dir: Rfc4475Dir): string[] {
  return readdirSync(`${RFC4475_DIR}${dir}`).filter((f) => f.endsWith('.dat')).sort();
}

/** Every torture message: [dir, name, bytes]. */
export function allTorture(): [Rfc4475Dir, string, Buffer][] {
  const out: [Rfc4475Dir, string, Buffer][] = [];
  for (const dir of RFC4475_DIRS) for (const name of tortureNames(dir)) out.push([dir, name, torture(dir, name)]);
  return out;
}

const crlf = (lines: string[]): string => lines.join('\r\n');

/** Typical messages (RFC 3665-style) used by unit and property tests. */
export const SDP = crlf([
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.0.2.101',
  's=-',
  'c=IN IP4 192.0.2.101',
  't=0 0',
  'm=audio 49172 RTP/AVP 0 8',
  'a=rtpmap:0 PCMU/8000',
  '',
]);

export const INVITE = crlf([
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport',
  'Via: SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>',
  'Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>',
  'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE',
  'Content-Type: application/sdp',
  `Content-Length: ${Buffer.byteLength(SDP)}`,
  '',
  SDP,
]);

export const OPTIONS = crlf([
  'OPTIONS sip:carol@chicago.example.com SIP/2.0',
  'Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877',
  'Max-Forwards: 70',
  'To: <sip:carol@chicago.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710',
  'CSeq: 63104 OPTIONS',
  'Accept: application/sdp',
  'Content-Length: 0',
  '',
  '',
]);

export const REGISTER = crlf([
  'REGISTER sip:registrar.biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: Bob <sip:bob@biloxi.example.com>;tag=456248',
  'Call-ID: 843817637684230@998sdasdh09',
  'CSeq: 1826 REGISTER',
  'Contact: <sip:bob@192.0.2.4>;expires=7200, "Bob, mobile" <sip:bob@192.0.2.5>;q=0.5',
  'Expires: 7200',
  'Content-Length: 0',
  '',
  '',
]);

export const RESPONSE_200 = crlf([
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;received=192.0.2.101',
  'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
  'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:bob@192.0.2.4>',
  'Content-Length: 0',
  '',
  '',
]);

export const TYPICAL = { INVITE, OPTIONS, REGISTER, RESPONSE_200 };

/** Header lines of a serialised message (simple split, for checking what was written). */
export function headerLines(data: Buffer | string): { start: string; lines: [string, string][] } {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  const [start, ...rest] = head.split('\r\n');
  return {
    start: start!,
    lines: rest.map((l) => {
      const c = l.indexOf(':');
      return [l.slice(0, c).trim(), l.slice(c + 1).trim()] as [string, string];
    }),
  };
}
