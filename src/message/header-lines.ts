// Operations on SipHeaders' parallel line arrays (names, keys, values, raws: see SipHeaders).

/** Remove every line of `key`, keeping the others in order; true if there was one. */
export function removeLines(names: string[], keys: string[], values: string[], raws: (string | undefined)[], key: string): boolean {
  let w = 0;
  for (let r = 0; r < keys.length; r++) {
    if (keys[r] === key) continue;
    names[w] = names[r]!;
    keys[w] = keys[r]!;
    values[w] = values[r]!;
    raws[w] = raws[r];
    w++;
  }
  const had = w !== keys.length;
  names.length = keys.length = values.length = raws.length = w;
  return had;
}

/**
 * The header lines as text. Content-Length is written where it first stood (or last) with the
 * real body length; repeated Content-Length lines are dropped. Lines kept as received (raws) are
 * written as they came.
 */
export function serializeLines(names: string[], keys: string[], values: string[], raws: (string | undefined)[], bodyLength: number): string {
  let s = '';
  let wroteLength = false;
  for (let i = 0; i < keys.length; i++) {
    const raw = raws[i];
    if (keys[i] === 'content-length') {
      if (wroteLength) continue;
      wroteLength = true;
      const len = String(bodyLength);
      s += (raw !== undefined && values[i] === len ? raw : names[i] + ': ' + len) + '\r\n';
      continue;
    }
    s += (raw !== undefined ? raw : names[i] + ': ' + values[i]) + '\r\n';
  }
  if (!wroteLength) s += 'Content-Length: ' + bodyLength + '\r\n';
  return s;
}
