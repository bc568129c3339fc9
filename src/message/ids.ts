import { randomBytes } from 'node:crypto';

/**
 * Random identifiers from a pooled CSPRNG buffer: cheap per call, unguessable (RFC 3261 §8.1.1.7
 * wants branches unique across space and time; tags and Call-IDs must be globally unique).
 */
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const s = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return s;
}

/** RFC 3261 magic cookie. */
export const BRANCH_COOKIE = 'z9hG4bK';

export const generateBranch = (): string => BRANCH_COOKIE + randomHex(10);
export const generateTag = (): string => randomHex(6);
export const generateCallId = (host?: string): string => (host ? randomHex(12) + '@' + host : randomHex(16));
