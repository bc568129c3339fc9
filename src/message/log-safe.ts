/**
 * A value from the wire made safe for a log line: control characters (C0, DEL, C1) and backslash
 * as `\xNN`, so no terminal escape sequence, bell or fake line reaches an operator's console; cut
 * to `max` characters with a marker of how much was left out. Clean input comes back as it is,
 * after one scan.
 */
export function printable(value: string, max = 200, keepNewlines = false): string {
  const n = value.length;
  let clean = n <= max;
  if (clean) {
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c < 32 || c === 92 || (c >= 127 && c < 160)) {
        if (keepNewlines && c === 10) continue;
        clean = false;
        break;
      }
    }
  }
  if (clean) return value;
  const end = Math.min(n, max);
  let out = '';
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    if ((c < 32 && !(keepNewlines && c === 10)) || c === 92 || (c >= 127 && c < 160)) out += '\\x' + (c < 16 ? '0' : '') + c.toString(16);
    else out += value[i];
  }
  return n > max ? `${out}...(${n - max} more)` : out;
}
