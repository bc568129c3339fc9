import { SipRequest } from '../message/index.js';
import type { SipClientRequest } from './sip-client-options.js';
import type { SipTransportName } from './sip-resolver.js';

/** A method token (RFC 3261 §25.1). */
const METHOD = /^[A-Za-z0-9.!%*_+`'~-]+$/;

/** SipClient's request for `send(method, data)` (headers are filled in once the leg is known). */
export function buildClientRequest(method: string, data: SipClientRequest | SipRequest): SipRequest {
  if (!METHOD.test(method)) throw new TypeError(`invalid SIP method ${method}`);
  if (data instanceof SipRequest) {
    if (data.method !== method) data.method = method;
    return data;
  }
  if (data === null || typeof data !== 'object' || typeof data.uri !== 'string') throw new TypeError('SipClient: send(method, { uri, headers?, body? }) needs a uri');
  return new SipRequest({ method, uri: data.uri, headers: data.headers, body: data.body });
}

/** A dialog's transport as a name the resolver knows (UDP for anything else). */
export function transportName(t: string): SipTransportName {
  return t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss' ? t : 'udp';
}
