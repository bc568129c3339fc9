export { B2bua, type B2buaInbound, type B2buaOutbound, type B2buaAnswer, type BridgeOptions, type BridgeTarget, type BridgedCall } from './b2bua.js';
export { SipProxy } from './sip-proxy.js';
export { ProxyRun, type BranchResponse } from './proxy-run.js';
export type { ProxyHost, ProxyLeg, ProxyOptions, ProxyOutcome, ProxyBranchInfo, ProxyTarget } from './proxy-types.js';
export { bestResponse } from './best-response.js';
export { preprocessRoute, nextHop } from './route-set.js';
export {
  resolveTargets,
  resolveTarget,
  resolveLiteral,
  naptrServices,
  orderSrv,
  MAX_TARGETS,
  type ResolvedTarget,
  type ResolvedTransport,
  type ResolveOverrides,
} from './rfc3263.js';
export {
  createDnsResolver,
  systemDns,
  type SipDnsResolver,
  type SipSrvRecord,
  type SipNaptrRecord,
  type SipAddressRecord,
  type DnsResolverOptions,
} from './dns-resolver.js';
export { DnsCache, type DnsCacheOptions } from './dns-cache.js';
export { TargetSet, DownList, failoverCause, isConnectFailure, retryAfterSeconds, type FailoverCause, type DownListOptions } from './target-set.js';
export { UDP_SIZE_LIMIT, wireSize, tooLargeForUdp } from './udp-size.js';
