import { createHash } from 'node:crypto';
import { BRANCH_COOKIE, generateTag, type SipRequest, type Via } from '../message/index.js';

/**
 * The part of our Via branch that names the request as it reached us (RFC 3261 §16.6 step 8):
 * To and From tags, Call-ID, Request-URI as received, the Via it arrived with on top, CSeq number,
 * Proxy-Require and Proxy-Authorization. The same request coming back unchanged hashes the same
 * (a loop, §16.3 step 4); a spiral (a changed Request-URI) does not.
 */
export function loopHash(req: SipRequest, topVia: string | undefined): string {
  const h = req.headers;
  const hash = createHash('sha1');
  hash.update(req.uri);
  hash.update('\n');
  hash.update(req.callId);
  hash.update('\n');
  hash.update(req.from.tag ?? '');
  hash.update('\n');
  hash.update(req.to.tag ?? '');
  hash.update('\n');
  hash.update(String(req.cseq.seq));
  hash.update('\n');
  hash.update(topVia ?? '');
  for (const name of ['proxy-require', 'proxy-authorization']) {
    for (const v of h.getAll(name)) {
      hash.update('\n');
      hash.update(v);
    }
  }
  return hash.digest('base64url').slice(0, 16);
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
