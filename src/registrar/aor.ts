import { parseUri } from '../message/index.js';

/**
 * The address-of-record of a SIP/SIPS URI: `sip:user@host`, host lower-cased, no port, parameters or
 * headers (sips: is folded into sip:, one AOR either way); undefined for other schemes or bad URIs.
 */
export function aorOf(uri: string): string | undefined {
  let u;
  try {
    u = parseUri(uri);
  } catch {
    return undefined;
  }
  if ((u.scheme !== 'sip' && u.scheme !== 'sips') || u.host === '') return undefined;
  return `sip:${u.user ? `${u.user}@` : ''}${u.host.toLowerCase()}`;
}
