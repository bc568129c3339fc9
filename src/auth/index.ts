export { computeHa1, digestAlgorithm, digestHash, digestResponse, type DigestAlgorithm, type DigestInput } from './digest.js';
export { NonceMinter, NonceCounts, type NonceCheck } from './nonce.js';
export { challenges, verifyDigest, OFFERED, type StoredSecret, type DigestFailure, type DigestVerdict, type DigestRequest } from './server-digest.js';
