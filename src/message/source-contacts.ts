import { headerKey } from './header-names.js';
import { valueEnd, valueStart, type HeaderSource } from './headers.js';
import { parseContact, type Contact } from './name-addr.js';
import { splitList } from './split-list.js';

/**
 * The Contact view of header lines still in the received text (parseMessage checked them but left
 * the view to first access): each Contact line's value split as SipHeaders.valuesOf splits it,
 * read in place so that the header set stays unsplit (and toBuffer keeps copying received bytes).
 */
export function contactsOfSource(src: HeaderSource): Contact[] {
  const { text, spans, folded } = src;
  const values: string[] = [];
  for (let k = 0, line = 0; k < spans.length; k += 3, line++) {
    const ne = spans[k + 1]!;
    // Names are short: slicing one only to compare it is cheap, and this runs once per message.
    if (headerKey(text.slice(spans[k]!, ne)) !== 'contact') continue;
    let v = folded === undefined ? undefined : folded.get(line);
    if (v === undefined) {
      const vs = valueStart(text, ne, spans[k + 2]!);
      v = text.slice(vs, valueEnd(text, vs, spans[k + 2]!));
    }
    if (v.indexOf(',') === -1) values.push(v);
    else splitList(v, values);
  }
  return values.map((v) => parseContact(v));
}
