import type { SipResponse } from '../message/index.js';

/** 4xx answers that tell the caller how to try again: preferred within their class (§16.7 step 6). */
const INFORMATIVE = new Set([401, 407, 415, 420, 484]);

/**
 * RFC 3261 §16.7 step 6: the best of the branches' final non-2xx answers: a 6xx if there is one,
 * else the lowest class, preferring within 4xx the answers that say how to retry. Undefined for an
 * empty list.
 */
export function bestResponse(responses: readonly SipResponse[]): SipResponse | undefined {
  let best: SipResponse | undefined;
  for (const r of responses) {
    if (best === undefined || rank(r) < rank(best)) best = r;
  }
  return best;
}

function rank(r: SipResponse): number {
  const s = r.status;
  if (s >= 600) return 0;
  const cls = Math.floor(s / 100);
  // Class first (3 < 4 < 5), then informative 4xx, then 408 last within 4xx (a timeout says least).
  return cls * 10 + (INFORMATIVE.has(s) ? 0 : s === 408 ? 2 : 1);
}

/**
 * §16.7 step 7: a 401/407 chosen to go upstream carries the challenges of every 401 and 407 the
 * branches got, so the caller can answer all of them at once.
 */
export function collectChallenges(chosen: SipResponse, responses: readonly SipResponse[]): void {
  if (chosen.status !== 401 && chosen.status !== 407) return;
  for (const r of responses) {
    if (r === chosen || (r.status !== 401 && r.status !== 407)) continue;
    for (const name of ['WWW-Authenticate', 'Proxy-Authenticate']) {
      for (const v of r.headers.getAll(name)) {
        if (!chosen.headers.getAll(name).includes(v)) chosen.headers.append(name, v);
      }
    }
  }
}
