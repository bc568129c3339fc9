// RFC 3263 resolution lives in proxy/ (rfc3263.ts, dns-resolver.ts, dns-cache.ts); the nest files keep importing it from here.
export {
  resolveTargets,
  resolveTarget,
  resolveLiteral,
  orderSrv,
  systemDns,
  type ResolvedTarget,
  type ResolveOverrides,
  type SipDnsResolver,
  type SipSrvRecord,
} from '../proxy/index.js';

import type { TransportName } from '../transport/index.js';

/** The transports a client sends over: the one transport-name type (src/transport/types.ts). */
export type SipTransportName = TransportName;
