export { SipServer, type SipServerOptions, type SipServerStatus, type SipServerEvents } from './sip-server.js';
export { SipContext, type SipContextArgs } from './sip-context.js';
export { SipException, SipDropException, isSipErrorPayload, isSipDropPayload, type SipErrorPayload, type SipDropPayload } from './sip-exception.js';
export { toSipResponse, type SipReply, type SipResponseDescription } from './sip-reply.js';
export { SipEndpoint, type SipLeg, type SipEndpointOptions } from './sip-endpoint.js';
export { SipClient } from './sip-client.js';
export type { PlaceCallOptions } from './client-dialogs.js';
export type { SipClientOptions, SipClientRequest, SipClientStatus, SipClientEvents, SipAckOptions } from './sip-client-options.js';
export { SipResponseError, SipClientClosedError } from './sip-response-error.js';
export { EndpointProxyHost, type SipProxyOptions } from './proxy-host.js';
// The RFC 3263 resolver itself is exported by proxy/index.ts.
export type { SipTransportName } from './sip-resolver.js';
export type { SipClientAuth, SipCredentials, SipCredentialsLookup, DigestHashName } from '../auth/client-challenge.js';
export { SipRegistration, type SipRegisterOptions, type SipRegistrationState, type SipRegistrationStatus } from './sip-registration.js';
export { SipAuthModule, type SipAuthModuleOptions, type SipAuthModuleAsyncOptions } from './sip-auth-module.js';
export { SipDigestGuard, SipAuth, SipPublic, SIP_AUTH_METADATA, type SipAuthHandlerOptions } from './sip-digest-guard.js';
export { SipRegistrarModule, type SipRegistrarModuleAsyncOptions } from './sip-registrar-module.js';
export { ServerMetrics } from './server-metrics.js';
export { ServerHealth, type SipHealthOptions, type SipHealthReport, type SipLegHealth } from './server-health.js';
