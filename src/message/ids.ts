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

/**
 * Tags (one per response to a new request) come from pooled random bytes already turned into hex:
 * a 12-character slice is a copy in JS (V8 copies slices that short), not a call into C++ per tag.
 */
const HEX_POOL_BYTES = 2048;
let hexPool = randomBytes(HEX_POOL_BYTES).toString('hex');
let hexOffset = 0;

function randomTag(): string {
  if (hexOffset + 12 > hexPool.length) {
    hexPool = randomBytes(HEX_POOL_BYTES).toString('hex');
    hexOffset = 0;
  }
  const s = hexPool.slice(hexOffset, hexOffset + 12);
  hexOffset += 12;
  return s;
}

/** RFC 3261 magic cookie. */
export const BRANCH_COOKIE = 'z9hG4bK';

export const generateBranch = (): string => BRANCH_COOKIE + randomHex(10);
export const generateTag = (): string => randomTag();
export const generateCallId = (host?: string): string => (host ? randomHex(12) + '@' + host : randomHex(16));
