import { beforeEach, describe, expect, it } from 'vitest';
import { parseMessage, validateRequest, type SipRequest } from '../../src/message/index.js';

const BASE: [string, string][] = [
  ['Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-v1'],
  ['From', '<sip:a@example.com>;tag=1'],
  ['To', '<sip:b@example.com>'],
  ['Call-ID', 'c1@192.0.2.1'],
  ['CSeq', '1 OPTIONS'],
  ['Max-Forwards', '70'],
  ['Content-Length', '0'],
];

// Both ways validateRequest counts: the parser's counts (lines as received), and a pass over the
// keys once a change split the lines (CHANGED=1 in the name of the run below).
let changed = false;
function request(lines: [string, string][]): SipRequest {
  const text = `OPTIONS sip:b@example.com SIP/2.0\r\n${lines.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  const m = parseMessage(Buffer.from(text)) as SipRequest;
  if (changed) {
    m.headers.set('X-Changed', '1');
    expect(m.headers.source).toBeUndefined();
  } else expect(m.headers.source).toBeDefined();
  return m;
}
const without = (name: string) => BASE.filter(([n]) => n !== name);
const twice = (name: string, value?: string) => {
  const out = BASE.slice();
  const i = out.findIndex(([n]) => n === name);
  out.splice(i + 1, 0, [name, value ?? out[i]![1]]);
  return out;
};

describe.each([['lines as received', false], ['lines changed', true]])('validateRequest (RFC 3261 §8.2), %s', (_, change) => {
  beforeEach(() => {
    changed = change;
  });

  it('passes a complete request, received or changed', () => {
    const m = request(BASE);
    expect(validateRequest(m)).toBeUndefined();
    m.headers.set('X-Changed', '1'); // the lines leave the received text
    expect(validateRequest(m)).toBeUndefined();
  });

  it('names the first missing mandatory header, in the order Via, From, To, Call-ID, CSeq', () => {
    for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) expect(validateRequest(request(without(name)))?.reason, name).toBe(`Missing ${name} header`);
    expect(validateRequest(request(without('Via').filter(([n]) => n !== 'To')))?.reason).toBe('Missing Via header');
    // Max-Forwards may be absent (RFC 2543 peers).
    expect(validateRequest(request(without('Max-Forwards')))).toBeUndefined();
  });

  it('refuses a second From, To, Call-ID, CSeq or Max-Forwards, and allows several Vias', () => {
    for (const name of ['From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards']) expect(validateRequest(request(twice(name)))?.reason, name).toBe(`Multiple ${name} values`);
    expect(validateRequest(request(twice('Via', 'SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK-v0')))).toBeUndefined();
  });

  it('counts compact forms and any case as the same header', () => {
    expect(validateRequest(request([...BASE, ['f', '<sip:c@example.com>;tag=2']]))?.reason).toBe('Multiple From values');
    expect(validateRequest(request([...BASE, ['i', 'other']]))?.reason).toBe('Multiple Call-ID values');
    expect(validateRequest(request([...BASE, ['CSEQ', '2 OPTIONS']]))?.reason).toBe('Multiple CSeq values');
    const compact = request([['v', BASE[0]![1]], ['f', BASE[1]![1]], ['t', BASE[2]![1]], ['i', BASE[3]![1]], ['CSeq', '1 OPTIONS'], ['l', '0']]);
    expect(validateRequest(compact)).toBeUndefined();
  });

  it('allows repeated equal Content-Lengths and refuses conflicting ones', () => {
    expect(validateRequest(request([...BASE, ['l', '0']]))).toBeUndefined();
    expect(validateRequest(request(twice('Content-Length', '5')))?.reason).toBe('Conflicting Content-Length values');
  });

  it('refuses an empty Call-ID, also one emptied after parsing', () => {
    expect(validateRequest(request(BASE.map(([n, v]) => [n, n === 'Call-ID' ? '' : v])))?.reason).toBe('Empty Call-ID');
    const m = request(BASE);
    m.headers.replaceFirst('Call-ID', '');
    expect(validateRequest(m)?.reason).toBe('Empty Call-ID');
  });

  it('counts three or more lines of a header as more than one', () => {
    expect(validateRequest(request([...BASE, ['To', '<sip:c@x>'], ['t', '<sip:d@x>'], ['TO', '<sip:e@x>']]))?.reason).toBe('Multiple To values');
  });
});
