import type { SipMessage } from '../message/index.js';

/**
 * RFC 3261 §18.1.1: a request that would leave over UDP but is larger than this (bytes, the whole
 * message) goes over TCP instead, to the same address and port: a path MTU of 1500 less headroom.
 */
export const UDP_SIZE_LIMIT = 1300;

/** Bytes `msg` takes on the wire (what toBuffer() would write), without building the buffer. */
export function wireSize(msg: SipMessage): number {
  const n = msg.body.length;
  return Buffer.byteLength(msg.startLine(), 'utf8') + Buffer.byteLength(msg.headers.serialize(n), 'utf8') + 4 + n;
}

/** True when `msg` must not go over UDP (RFC 3261 §18.1.1): larger than UDP_SIZE_LIMIT. */
export function tooLargeForUdp(msg: SipMessage): boolean {
  return wireSize(msg) > UDP_SIZE_LIMIT;
}
