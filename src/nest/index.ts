export { SipServer, type SipServerOptions, type SipServerStatus, type SipServerEvents } from './sip-server.js';
export { SipContext, type SipContextArgs } from './sip-context.js';
export { SipException, isSipErrorPayload, type SipErrorPayload } from './sip-exception.js';
export { toSipResponse, type SipReply, type SipResponseDescription } from './sip-reply.js';
export { SipEndpoint, type SipLeg, type SipEndpointOptions } from './sip-endpoint.js';
export { SipClient } from './sip-client.js';
export type { SipClientOptions, SipClientRequest, SipClientStatus, SipClientEvents, SipAckOptions } from './sip-client-options.js';
export { SipResponseError, SipClientClosedError } from './sip-response-error.js';
export { resolveTarget, resolveLiteral, systemDns, type ResolvedTarget, type ResolveOverrides, type SipTransportName, type SipDnsResolver, type SipSrvRecord } from './sip-resolver.js';
