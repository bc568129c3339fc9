import { formatUri } from '../message/index.js';

/** The leg a Contact is for: transport, and the address the peer can reach us at. */
export interface ContactLeg {
  proto: string;
  host: string;
  port: number;
}

/**
 * Our Contact for a leg (RFC 3261 §8.1.1.8, §12.1.1): `sips:` only when the request's target was
 * `sips:` (RFC 5630: a `sip:` URI reached over TLS stays `sip:`), `;transport=` for every
 * transport but UDP (a `sips:` URI implies TLS), the host and port the peer can reach.
 */
export function localContact(leg: ContactLeg, user: string | undefined, secure: boolean): string {
  const params = new Map<string, string | null>();
  const proto = leg.proto.toLowerCase();
  if (proto !== 'udp' && !(secure && proto === 'tls')) params.set('transport', proto);
  const host = leg.host.startsWith('[') ? leg.host.slice(1, -1) : leg.host;
  return '<' + formatUri({ scheme: secure ? 'sips' : 'sip', user: user === '' ? undefined : user, host, port: leg.port, params, headers: new Map() }) + '>';
}
