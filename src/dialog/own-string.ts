/**
 * A copy of `s` that holds no reference to the message it was read from: V8 keeps a substring as a
 * view of its parent, so a dialog keeping a tag would keep the whole INVITE's text alive.
 */
export function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

export function ownOrUndefined(s: string | undefined): string | undefined {
  return s === undefined ? undefined : own(s);
}
