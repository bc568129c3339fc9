/**
 * RFC 3261 §20.1 / §21.4.7: may a response body of `contentType` be sent to a request with these
 * Accept values (one media range each, as `headers.getAll('accept')` gives them; undefined when the
 * request had no Accept)? No Accept: yes. An empty Accept: no body at all. `*\/*` and `type/*`
 * match; a range with `q=0` excludes; parameters other than q are ignored. No regex: Accept comes
 * from the wire.
 */
export function acceptsContentType(accept: readonly string[] | undefined, contentType: string): boolean {
  if (accept === undefined) return true;
  const [type, sub] = mediaType(contentType);
  let best = -1;
  let bestQ = 0;
  for (const range of accept) {
    const r = range.trim();
    if (r === '') continue;
    const semi = r.indexOf(';');
    const [rt, rs] = mediaType(semi === -1 ? r : r.slice(0, semi));
    const specificity = rt === '*' ? 0 : rs === '*' ? 1 : 2;
    if (!(rt === '*' || (rt === type && (rs === '*' || rs === sub)))) continue;
    if (specificity < best) continue;
    best = specificity;
    bestQ = semi === -1 ? 1 : qOf(r.slice(semi + 1));
  }
  return best >= 0 && bestQ > 0;
}

function mediaType(v: string): [string, string] {
  const semi = v.indexOf(';');
  const t = (semi === -1 ? v : v.slice(0, semi)).trim().toLowerCase();
  const slash = t.indexOf('/');
  return slash === -1 ? [t, ''] : [t.slice(0, slash).trim(), t.slice(slash + 1).trim()];
}

function qOf(params: string): number {
  for (const p of params.split(';')) {
    const eq = p.indexOf('=');
    if (eq === -1 || p.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const q = Number(p.slice(eq + 1).trim());
    return Number.isFinite(q) ? q : 1;
  }
  return 1;
}
