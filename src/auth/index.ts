export { computeHa1, digestAlgorithm, digestHash, digestResponse, type DigestAlgorithm, type DigestInput } from './digest.js';
export { NonceMinter, NonceCounts, type NonceCheck } from './nonce.js';
export type { SharedNonceCounts } from './shared-nonce-counts.js';
export { RedisNonceCounts } from './redis-nonce-counts.js';
export type { RedisScriptClient } from './redis-script.js';
export type { SharedAuthStrikes, SharedBlock, StrikeRules } from './shared-auth-strikes.js';
export { RedisAuthStrikes } from './redis-auth-strikes.js';
export { challenges, verifyDigest, inspectDigest, checkDigestResponse, OFFERED, type StoredSecret, type DigestFailure, type DigestVerdict, type DigestRequest, type DigestFields } from './server-digest.js';
export { AuthThrottle, type AuthThrottleOptions, type AuthThrottleStats, type ThrottleVerdict, type ThrottleWarning } from './auth-throttle.js';
export {
  DigestAuthenticator,
  type DigestAuthOptions,
  type CredentialsLookup,
  type MatchUser,
  type SipAuthIdentity,
  type AuthRefusal,
  type AuthOutcome,
  type AuthCheckOptions,
  type DigestAuthStats,
} from './digest-authenticator.js';
