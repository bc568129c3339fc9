export { B2bua, type B2buaInbound, type B2buaOutbound, type B2buaAnswer, type BridgeOptions, type BridgedCall } from './b2bua.js';
export { SipProxy } from './sip-proxy.js';
export { ProxyRun, type BranchResponse } from './proxy-run.js';
export type { ProxyHost, ProxyLeg, ProxyOptions, ProxyOutcome, ProxyBranchInfo } from './proxy-types.js';
export { bestResponse } from './best-response.js';
export { preprocessRoute, nextHop } from './route-set.js';
