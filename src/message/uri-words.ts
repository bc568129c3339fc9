// The URI parameter names and values most URIs carry (`;lr`, `;transport=udp`...), recognised in
// place over bytes (b[o + i] stands for s[i], see bytesOf) so that one shared string is used
// instead of a slice per URI. Exact, lower-case matches only: anything else is sliced as before.

const WORDS = ['lr', 'ob', 'transport', 'user', 'maddr', 'method', 'ttl', 'udp', 'tcp', 'tls', 'sctp', 'ws', 'wss', 'phone', 'ip', 'gr'];
/** By length, then first letter: candidates to compare. */
const BY_LENGTH: string[][] = Array.from({ length: 10 }, () => []);
for (const w of WORDS) BY_LENGTH[w.length]!.push(w);

/** The shared string equal to s[from..to), or undefined when it is not one of WORDS. */
export function uriWord(b: Uint8Array, o: number, from: number, to: number): string | undefined {
  const n = to - from;
  if (n >= BY_LENGTH.length) return undefined;
  const list = BY_LENGTH[n]!;
  for (let j = 0; j < list.length; j++) {
    const w = list[j]!;
    let i = 0;
    while (i < n && b[o + from + i] === w.charCodeAt(i)) i++;
    if (i === n) return w;
  }
  return undefined;
}
