import { hash as cryptoHash } from 'node:crypto';
import { BRANCH_COOKIE, generateTag, type SipRequest, type Via } from '../message/index.js';

/**
 * The part of our Via branch that names the request as it reached us (RFC 3261 §16.6 step 8):
 * To and From tags, Call-ID, Request-URI as received, the Via it arrived with on top, CSeq number,
 * Proxy-Require and Proxy-Authorization. The same request coming back unchanged hashes the same
 * (a loop, §16.3 step 4); a spiral (a changed Request-URI) does not.
 */
export function loopHash(req: SipRequest, topVia: string | undefined): string {
  const h = req.headers;
  // One string, one-shot hash: the same digest as update() piece by piece, without a Hash object per request.
  let s = `${req.uri}\n${req.callId}\n${req.from.tag ?? ''}\n${req.to.tag ?? ''}\n${req.cseq.seq}\n${topVia ?? ''}`;
  if (h.has('proxy-require')) for (const v of h.getAll('proxy-require')) s += `\n${v}`;
  if (h.has('proxy-authorization')) for (const v of h.getAll('proxy-authorization')) s += `\n${v}`;
  return cryptoHash('sha1', s, 'base64url').slice(0, 16);
}

/** A branch for one forwarded copy: `z9hG4bK` + loop hash + `.` + a per-branch part. */
export function proxyBranch(hash: string): string {
  return `${BRANCH_COOKIE}${hash}.${generateTag()}`;
}

/**
 * §16.3 step 4: a Via of ours (on top when we sent it to ourselves) whose loop hash equals the hash of this request as it
 * arrived then (with the Via that followed ours taken as top) means the request came back
 * unchanged: a loop. `ours` tells whether a Via's sent-by is one of our legs.
 */
export function isLoop(req: SipRequest, vias: readonly Via[], rawVias: readonly string[], ours: (via: Via) => boolean): boolean {
  for (let i = 0; i < vias.length; i++) {
    const v = vias[i]!;
    const branch = v.branch;
    if (branch === undefined || !branch.startsWith(BRANCH_COOKIE) || !ours(v)) continue;
    const dot = branch.indexOf('.', BRANCH_COOKIE.length);
    if (dot === -1) continue;
    const seen = branch.slice(BRANCH_COOKIE.length, dot);
    if (seen === loopHash(req, rawVias[i + 1])) return true;
  }
  return false;
}
