import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasTag } from '../../src/message/response.js';

// createResponse adds the To tag when the request's To has none; hasTag scans the value without
// making strings. The reference is the split-and-trim rule it replaced.
function reference(value: string): boolean {
  const gt = value.lastIndexOf('>');
  const start = gt === -1 ? value.indexOf(';') : gt + 1;
  if (start === -1) return false;
  for (const p of value.slice(start).split(';')) {
    const eq = p.indexOf('=');
    if ((eq === -1 ? p : p.slice(0, eq)).trim().toLowerCase() === 'tag') return true;
  }
  return false;
}

const CASES = [
  '<sip:bob@example.com>',
  '<sip:bob@example.com>;tag=1',
  '"B" <sip:bob@example.com;tag=x>',
  '"B" <sip:bob@example.com;tag=x>;foo=1',
  '<sip:bob@example.com> ; TAG = 7',
  '<sip:bob@example.com>;tagx=1;xtag=2',
  '<sip:bob@example.com>;tag',
  '<sip:bob@example.com>tag=1',
  'sip:bob@example.com;tag=1',
  'sip:bob@example.com',
  'sip:bob@example.com;user=phone',
  '<sip:bob@example.com>;\t tag\t=1',
  '<sip:bob@example.com>;ta=1;g=2',
  '<sip:a>;x="a;tag=b"',
  '',
  ';',
  '>;tag',
];

describe('hasTag', () => {
  it('agrees with the split-and-trim rule on hand-picked values', () => {
    for (const v of CASES) expect([v, hasTag(v)]).toEqual([v, reference(v)]);
    expect(hasTag('<sip:bob@example.com> ; TAG = 7')).toBe(true);
    expect(hasTag('"B" <sip:bob@example.com;tag=x>')).toBe(false);
  });

  it('agrees with it on generated values', () => {
    const piece = fc.constantFrom('<', '>', ';', '=', ' ', '\t', 'tag', 'TaG', 't', 'a', 'g', 'x', '"', 'sip:b@h', ',');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), (parts) => {
        const v = parts.join('');
        expect(hasTag(v)).toBe(reference(v));
      }),
      { numRuns: 5000 },
    );
  });
});
