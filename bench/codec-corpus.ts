/**
 * The messages `npm run bench:codec` parses (issue 16): five realistic ones, each as a UDP datagram
 * would bring it, and the OPTIONS the earlier benchmark measured.
 */

const crlf = (lines: string[]): string => lines.join('\r\n');

/** A message with a body: Content-Length is computed, the body appended. */
function withBody(head: string[], body: string): string {
  return crlf([...head, `Content-Length: ${Buffer.byteLength(body)}`, '', body]);
}

const OFFER = crlf([
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.0.2.101',
  's=-',
  'c=IN IP4 192.0.2.101',
  't=0 0',
  'm=audio 49172 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=sendrecv',
  '',
]);

const ANSWER = crlf([
  'v=0',
  'o=bob 2808844564 2808844564 IN IP4 192.0.2.201',
  's=-',
  'c=IN IP4 192.0.2.201',
  't=0 0',
  'm=audio 3456 RTP/AVP 0 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=sendrecv',
  '',
]);

/** (1) INVITE through a proxy: two Vias, Record-Route, Route, Allow, Supported, SDP. */
const INVITE = withBody(
  [
    'INVITE sip:bob@biloxi.example.com;transport=udp SIP/2.0',
    'Via: SIP/2.0/UDP proxy1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1',
    'Via: SIP/2.0/UDP 192.0.2.101:5060;received=192.0.2.101;rport=5060;branch=z9hG4bK74bf9',
    'Record-Route: <sip:proxy1.atlanta.example.com;lr>',
    'Route: <sip:proxy2.biloxi.example.com;lr>',
    'Max-Forwards: 69',
    'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=9fxced76sl',
    'To: Bob <sip:bob@biloxi.example.com>',
    'Call-ID: 3848276298220188511@atlanta.example.com',
    'CSeq: 1 INVITE',
    'Contact: <sip:alice@192.0.2.101:5060;transport=udp>',
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, UPDATE',
    'Supported: replaces, timer, 100rel',
    'User-Agent: Example UA 1.0',
    'Content-Type: application/sdp',
  ],
  OFFER,
);

/** (2) 200 OK to that INVITE, back through two proxies: Record-Route with two entries, Contact, SDP. */
const OK200 = withBody(
  [
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP proxy2.biloxi.example.com:5060;branch=z9hG4bK721e4.1;received=192.0.2.222',
    'Via: SIP/2.0/UDP proxy1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;received=192.0.2.111',
    'Via: SIP/2.0/UDP 192.0.2.101:5060;received=192.0.2.101;rport=5060;branch=z9hG4bK74bf9',
    'Record-Route: <sip:proxy2.biloxi.example.com;lr>, <sip:proxy1.atlanta.example.com;lr>',
    'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=9fxced76sl',
    'To: Bob <sip:bob@biloxi.example.com>;tag=314159',
    'Call-ID: 3848276298220188511@atlanta.example.com',
    'CSeq: 1 INVITE',
    'Contact: <sip:bob@192.0.2.201:5060;transport=udp>',
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE',
    'Supported: replaces, timer',
    'Server: Example UAS 2.1',
    'Content-Type: application/sdp',
  ],
  ANSWER,
);

/** (3) REGISTER with three Contacts (params, expires, +sip.instance, reg-id). */
const REGISTER = withBody(
  [
    'REGISTER sip:registrar.biloxi.example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.201:5060;rport;branch=z9hG4bKnashds7',
    'Max-Forwards: 70',
    'From: Bob <sip:bob@biloxi.example.com>;tag=a73kszlfl',
    'To: Bob <sip:bob@biloxi.example.com>',
    'Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com',
    'CSeq: 2 REGISTER',
    'Contact: <sip:bob@192.0.2.201:5060;transport=udp>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1',
    'Contact: <sip:bob@198.51.100.7:5070;transport=tcp;ob>;expires=1800;q=0.7;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEE00>";reg-id=2',
    'Contact: "Bob mobile" <sip:bob@203.0.113.40:41234>;expires=600;q=0.5',
    'Expires: 3600',
    'Supported: path, outbound, gruu',
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, NOTIFY',
    'User-Agent: Example UA 1.0',
  ],
  '',
);

/** (4) BYE from the callee back through two proxies: three Vias, a Route set of two. */
const BYE = withBody(
  [
    'BYE sip:alice@192.0.2.101:5060;transport=udp SIP/2.0',
    'Via: SIP/2.0/UDP proxy1.atlanta.example.com:5060;branch=z9hG4bK2d4790.2;received=192.0.2.111',
    'Via: SIP/2.0/UDP proxy2.biloxi.example.com:5060;branch=z9hG4bK721e4.2;received=192.0.2.222',
    'Via: SIP/2.0/UDP 192.0.2.201:5060;rport=5060;received=192.0.2.201;branch=z9hG4bKnashds8',
    'Route: <sip:proxy1.atlanta.example.com;lr>',
    'Route: <sip:alice@192.0.2.101:5060;lr>',
    'Max-Forwards: 68',
    'From: Bob <sip:bob@biloxi.example.com>;tag=314159',
    'To: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=9fxced76sl',
    'Call-ID: 3848276298220188511@atlanta.example.com',
    'CSeq: 231 BYE',
    'User-Agent: Example UAS 2.1',
  ],
  '',
);

const DIALOG_INFO = crlf([
  '<?xml version="1.0"?>',
  '<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="7" state="full" entity="sip:bob@biloxi.example.com">',
  '  <dialog id="as7d900as8" call-id="3848276298220188511@atlanta.example.com" local-tag="314159" remote-tag="9fxced76sl" direction="recipient">',
  '    <state>confirmed</state>',
  '    <duration>274</duration>',
  '    <local><identity>sip:bob@biloxi.example.com</identity></local>',
  '    <remote><identity display="Alice Liddell">sip:alice@atlanta.example.com</identity></remote>',
  '  </dialog>',
  '</dialog-info>',
  '',
]);

/** (5) NOTIFY for the dialog event package with a dialog-info body. */
const NOTIFY = withBody(
  [
    'NOTIFY sip:watcher@192.0.2.50:5060 SIP/2.0',
    'Via: SIP/2.0/TCP pres.biloxi.example.com:5060;branch=z9hG4bKpres9a4c',
    'Via: SIP/2.0/TCP 192.0.2.201:5060;received=192.0.2.201;branch=z9hG4bKn0t1fy',
    'Max-Forwards: 69',
    'From: <sip:bob@biloxi.example.com>;tag=ffd2',
    'To: <sip:watcher@example.com>;tag=xfg9',
    'Call-ID: 2010-watch-7b3a@192.0.2.50',
    'CSeq: 17 NOTIFY',
    'Contact: <sip:pres.biloxi.example.com;transport=tcp>',
    'Event: dialog',
    'Subscription-State: active;expires=3240',
    'Content-Type: application/dialog-info+xml',
  ],
  DIALOG_INFO,
);

/** The small OPTIONS the earlier benchmark measured (not part of the corpus's mean). */
const OPTIONS = withBody(
  [
    'OPTIONS sip:carol@chicago.example.com SIP/2.0',
    'Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877',
    'Max-Forwards: 70',
    'To: <sip:carol@chicago.example.com>',
    'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710',
    'CSeq: 63104 OPTIONS',
    'Accept: application/sdp',
  ],
  '',
);

export const CORPUS: readonly { name: string; text: string }[] = [
  { name: 'INVITE+SDP', text: INVITE },
  { name: '200 INVITE', text: OK200 },
  { name: 'REGISTER', text: REGISTER },
  { name: 'BYE 2 proxies', text: BYE },
  { name: 'NOTIFY+XML', text: NOTIFY },
];

export const EXTRA: readonly { name: string; text: string }[] = [{ name: 'OPTIONS', text: OPTIONS }];
