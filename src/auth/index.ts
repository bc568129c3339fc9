export { computeHa1, digestAlgorithm, digestHash, digestResponse, type DigestAlgorithm, type DigestInput } from './digest.js';
