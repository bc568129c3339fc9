export { SipServer, type SipServerOptions, type SipServerStatus, type SipServerEvents } from './sip-server.js';
export { SipContext, type SipContextArgs } from './sip-context.js';
export { SipException, isSipErrorPayload, type SipErrorPayload } from './sip-exception.js';
export { toSipResponse, type SipReply, type SipResponseDescription } from './sip-reply.js';
export { SipEndpoint, type SipLeg, type SipEndpointOptions } from './sip-endpoint.js';
