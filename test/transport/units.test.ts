import fc from 'fast-check';
import { isIPv4 as netIsIPv4 } from 'node:net';
import { describe, expect, it, test } from 'vitest';
import { parseMessage, SipRequest, SipResponse } from '../../src/message/index.js';
import { familyOf, isIPv4, normalizeAddr } from '../../src/transport/address.js';
import { DEFAULT_LIMITS, InvalidOptionsError, resolveLimits, responseTarget, transactionKey } from '../../src/transport/index.js';
import { CheckedLookup } from '../../src/transport/checked-lookup.js';
import { SettleQueue } from '../../src/transport/settle-queue.js';
import { TidRegistry, type TidOwner } from '../../src/transport/tid-registry.js';
import { request } from './helpers.js';

class Owner implements TidOwner {
  tidRing: Int32Array | undefined;
  tidNext = 0;
  tidCount = 0;
  busy = 0;
  usable = true;
}

describe('TidRegistry', () => {
  test('a closed connection takes its holds along: the same id held again lands on the live connection', () => {
    const r = new TidRegistry<Owner>(5);
    const dead = new Owner();
    const live = new Owner();
    r.add('t', dead);
    expect(r.hold('t')).toBe(true);
    dead.usable = false;
    r.removeOwner(dead);
    r.add('t', live);
    expect(r.hold('t')).toBe(true);
    expect(live.busy).toBe(1);
    expect(r.heldBy(live)).toEqual(['t']);
    expect(r.release('t')).toBe(live);
    expect(live.busy).toBe(0);
  });

  test('keeps at most MAX_TIDLIST ids per connection, oldest out', () => {
    const r = new TidRegistry<Owner>(3);
    const a = new Owner();
    for (const t of ['1', '2', '3', '4']) r.add(t, a);
    expect(r.lookup('1')).toBeUndefined();
    expect(['2', '3', '4'].map((t) => r.lookup(t))).toEqual([a, a, a]);
    expect(r.size).toBe(3);
    expect(a.tidCount).toBe(3);
  });

  test('never removes an id another connection owns', () => {
    const r = new TidRegistry<Owner>(2);
    const a = new Owner();
    const b = new Owner();
    r.add('x', a);
    r.add('x', b); // moved to b
    r.add('y', a);
    r.add('z', a); // a's ring drops 'x': b's entry stays
    expect(r.lookup('x')).toBe(b);
    r.removeOwner(a);
    expect(r.lookup('x')).toBe(b);
    expect(r.lookup('z')).toBeUndefined();
  });

  test('a dead owner is never returned; MAX_TIDLIST 0 remembers nothing', () => {
    const r = new TidRegistry<Owner>(5);
    const a = new Owner();
    r.add('x', a);
    a.usable = false;
    expect(r.lookup('x')).toBeUndefined();
    const none = new TidRegistry<Owner>(0);
    none.add('x', a);
    expect(none.size).toBe(0);
  });

  test('hold / release count busy transactions on the owning connection', () => {
    const r = new TidRegistry<Owner>(5);
    const a = new Owner();
    r.add('x', a);
    expect(r.hold('x')).toBe(true);
    expect(r.hold('x')).toBe(true);
    expect(r.hold('unknown')).toBe(false);
    expect(a.busy).toBe(2);
    r.release('x');
    r.release('x');
    r.release('x'); // extra release is harmless
    expect(a.busy).toBe(0);
    expect(r.held).toBe(0);
  });
});

/** The registry's rules over a Map of id strings (what TidRegistry was): the model its table must agree with. */
class ModelRegistry {
  readonly owners = new Map<string, Owner>();
  readonly rings = new Map<Owner, string[]>();
  constructor(private readonly max: number) {}
  add(tid: string, owner: Owner): void {
    if (this.max === 0 || this.owners.get(tid) === owner) return;
    this.owners.set(tid, owner);
    const ring = this.rings.get(owner) ?? [];
    this.rings.set(owner, ring);
    ring.push(tid);
    if (ring.length > this.max) {
      const old = ring.shift()!;
      if (old !== tid && this.owners.get(old) === owner) this.owners.delete(old);
    }
  }
  lookup(tid: string): Owner | undefined {
    const c = this.owners.get(tid);
    return c !== undefined && c.usable ? c : undefined;
  }
  removeOwner(owner: Owner): void {
    for (const t of this.rings.get(owner) ?? []) if (this.owners.get(t) === owner) this.owners.delete(t);
    this.rings.delete(owner);
  }
}

describe('TidRegistry agrees with a Map of id strings', () => {
  test('random adds, moves, lookups and closes (the table grows, shifts entries back on removal)', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('add' as const), tid: fc.integer({ min: 0, max: 120 }), owner: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ k: fc.constant('remove' as const), tid: fc.constant(0), owner: fc.integer({ min: 0, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.array(op, { maxLength: 400 }), (max, ops) => {
        const real = new TidRegistry<Owner>(max);
        const model = new ModelRegistry(max);
        const owners = Array.from({ length: 6 }, () => new Owner());
        const id = (n: number) => `z9hG4bK-${n} host.example:${5060 + (n % 3)}`;
        for (const o of ops) {
          if (o.k === 'add') {
            real.add(id(o.tid), owners[o.owner]!);
            model.add(id(o.tid), owners[o.owner]!);
          } else {
            real.removeOwner(owners[o.owner]!);
            model.removeOwner(owners[o.owner]!);
          }
        }
        for (let n = 0; n <= 120; n++) expect(real.lookup(id(n))).toBe(model.lookup(id(n)));
        expect(real.size).toBe(model.owners.size);
      }),
      { numRuns: 300 },
    );
  });

  test('a request is filed and found by its id without the id string: the same entry as transactionKey names', () => {
    const r = new TidRegistry<Owner>(5);
    const a = new Owner();
    const b = new Owner();
    const req = parseMessage(request({ method: 'INVITE', branch: 'z9hG4bKabc', sentBy: 'h.example:5070' })) as SipRequest;
    expect(r.addMessage(req, a)).toBe(true);
    expect(r.lookup(transactionKey(req)!)).toBe(a);
    r.add('z9hG4bKabc h.example:5070', b);
    expect(r.lookupMessage(req)).toBe(b);
    expect(r.size).toBe(1);
    // RFC 2543: Call-ID and CSeq number.
    const old = parseMessage(request({ method: 'OPTIONS', branch: 'x1', sentBy: 'h.example' })) as SipRequest;
    expect(r.addMessage(old, a)).toBe(true);
    expect(r.lookup(transactionKey(old)!)).toBe(a);
    expect(transactionKey(old)).toMatch(/ #\d+$/);
    // A Call-ID with a space in it (lenient peers): the id string still names the same entry.
    const spaced = parseMessage(request({ method: 'OPTIONS', branch: 'x2', sentBy: 'h.example' }).replace(/Call-ID: [^\r]*/, 'Call-ID: two words@h')) as SipRequest;
    expect(r.addMessage(spaced, b)).toBe(true);
    expect(transactionKey(spaced)).toMatch(/^two words@h #/);
    expect(r.lookup(transactionKey(spaced)!)).toBe(b);
  });
});

describe('transactionKey', () => {
  test('RFC 3261 branch + sent-by; the same for the response; ACK/CANCEL share the INVITE key', () => {
    const req = parseMessage(request({ method: 'INVITE', branch: 'z9hG4bKabc', sentBy: 'h.example:5070' })) as SipRequest;
    expect(transactionKey(req)).toBe('z9hG4bKabc h.example:5070');
    const res = parseMessage(
      'SIP/2.0 180 Ringing\r\nVia: SIP/2.0/TCP h.example:5070;branch=z9hG4bKabc;received=1.2.3.4\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
    );
    expect(transactionKey(res)).toBe('z9hG4bKabc h.example:5070');
    const cancel = parseMessage(request({ method: 'CANCEL', branch: 'z9hG4bKabc', sentBy: 'h.example:5070' }));
    expect(transactionKey(cancel)).toBe(transactionKey(req));
  });

  test('without the magic cookie: Call-ID + CSeq number; undefined without Via', () => {
    expect(transactionKey(parseMessage(request({ branch: 'old', callId: 'cid', cseq: 42 })))).toBe('cid #42');
    expect(transactionKey(parseMessage(request({ branch: null, callId: 'cid', cseq: 42 })))).toBe('cid #42');
    expect(transactionKey(new SipRequest({ method: 'OPTIONS', uri: 'sip:x', headers: { 'Call-ID': 'c', CSeq: '1 OPTIONS' } }))).toBeUndefined();
  });
});

describe('responseTarget (RFC 3261 §18.2.2)', () => {
  const res = (via: string): SipResponse =>
    new SipResponse({ status: 200, headers: { Via: via, 'Call-ID': 'c', CSeq: '1 OPTIONS' } });
  test('received, else sent-by host; sent-by port, else the default', () => {
    expect(responseTarget(res('SIP/2.0/TCP h.example:5070;branch=z9hG4bK1;received=10.0.0.1;rport=40000'), 'tcp')).toEqual({ addr: '10.0.0.1', port: 5070 });
    expect(responseTarget(res('SIP/2.0/TCP h.example;branch=z9hG4bK1'), 'tcp')).toEqual({ addr: 'h.example', port: 5060 });
    expect(responseTarget(res('SIP/2.0/TLS [2001:DB8::1];branch=z9hG4bK1'), 'tls')).toEqual({ addr: '2001:db8::1', port: 5061 });
  });
  test('the observed source address wins over any received the sender wrote (issue 17 #2)', () => {
    expect(responseTarget(res('SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bK1;received=203.0.113.9'), 'tcp', '10.0.0.1')).toEqual({ addr: '10.0.0.1', port: 5070 });
    expect(responseTarget(res('SIP/2.0/TCP h.example;branch=z9hG4bK1'), 'tcp', '::FFFF:10.0.0.2')).toEqual({ addr: '10.0.0.2', port: 5060 });
  });
  test('UDP uses rport (RFC 3581) when it has a value', () => {
    expect(responseTarget(res('SIP/2.0/UDP h:5070;branch=z9hG4bK1;received=10.0.0.1;rport=40000'), 'udp')).toEqual({ addr: '10.0.0.1', port: 40000 });
    expect(responseTarget(res('SIP/2.0/UDP h:5070;branch=z9hG4bK1;rport'), 'udp')).toEqual({ addr: 'h', port: 5070 });
  });
});

describe('addresses', () => {
  test('normalizeAddr', () => {
    expect(normalizeAddr('[::1]')).toBe('::1');
    expect(normalizeAddr('::FFFF:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddr('Example.COM')).toBe('example.com');
    expect(normalizeAddr('10.1.2.3')).toBe('10.1.2.3');
  });
  test('isIPv4 / familyOf', () => {
    expect(isIPv4('255.255.255.255')).toBe(true);
    expect(isIPv4('256.1.1.1')).toBe(false);
    expect(isIPv4('1.2.3')).toBe(false);
    expect(isIPv4('1.2.3.4.5')).toBe(false);
    expect(familyOf('::1')).toBe(6);
    expect(familyOf('1.2.3.4')).toBe(4);
    expect(familyOf('localhost')).toBeUndefined();
  });
});

describe('limits', () => {
  test('defaults are the seed values plus the two caps', () => {
    expect(DEFAULT_LIMITS).toMatchObject({
      MAX_SIP_HEADER: 16384,
      MAX_SIP_BODY: 65536,
      MAX_TIDLIST: 30,
      MIN_EXPIRE: 15,
      MAX_EXPIRE: 120,
      CONNECT_TIMEOUT: 10,
      TCP_READSIZE: 65536,
    });
    expect(DEFAULT_LIMITS.MAX_CONNECTIONS).toBeGreaterThan(1000);
    expect(DEFAULT_LIMITS.MAX_QUEUED_BYTES).toBeGreaterThan(DEFAULT_LIMITS.MAX_SIP_HEADER + DEFAULT_LIMITS.MAX_SIP_BODY);
  });
  test('overrides, fractional seconds, validation', () => {
    expect(resolveLimits({ MIN_EXPIRE: 0.05, MAX_EXPIRE: 0.1, CONNECT_TIMEOUT: 0.2 })).toMatchObject({ MIN_EXPIRE: 0.05, CONNECT_TIMEOUT: 0.2, MAX_TIDLIST: 30 });
    expect(() => resolveLimits({ MAX_TIDLIST: 1.5 })).toThrow(InvalidOptionsError);
    expect(() => resolveLimits({ CONNECT_TIMEOUT: 0 })).toThrow(InvalidOptionsError);
    expect(() => resolveLimits({ MAX_SIP_BODY: Number.NaN })).toThrow(InvalidOptionsError);
  });
});

describe('SettleQueue', () => {
  test('settles in order, rejects the rest, compacts', async () => {
    const q = new SettleQueue();
    const out: string[] = [];
    const ps = Array.from({ length: 3000 }, (_, i) => q.enqueue().then(() => out.push(`ok${i}`), (e: Error) => out.push(`${e.message}${i}`)));
    for (let i = 0; i < 2000; i++) q.settle();
    q.settle(new Error('bad'));
    q.rejectAll(new Error('closed'));
    expect(q.settle()).toBe(false);
    await Promise.all(ps);
    expect(out[0]).toBe('ok0');
    expect(out[1999]).toBe('ok1999');
    expect(out[2000]).toBe('bad2000');
    expect(out[2999]).toBe('closed2999');
    expect(q.size).toBe(0);
  });
});

describe('addresses are what Node says they are (issue 17, defect 6)', () => {
  it('isIPv4 agrees with net.isIPv4: leading zeros are not addresses', () => {
    for (const s of ['010.0.0.1', '1.2.3.04', '00.1.1.1', '1.1.1.00', '0.0.0.0', '10.0.0.1', '255.255.255.255', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.02.03.04', '1.2.3.0']) {
      expect(isIPv4(s), s).toBe(netIsIPv4(s));
    }
    const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.stringMatching(/^[0-9]{1,4}$/));
    fc.assert(
      fc.property(fc.array(octet, { minLength: 1, maxLength: 5 }), fc.constantFrom('.', '.', '.', ',', ''), (parts, sep) => {
        const s = parts.join(sep);
        expect(isIPv4(s), s).toBe(netIsIPv4(s));
      }),
      { numRuns: 5000 },
    );
  });

  it('familyOf: IPv6 only when Node takes it as one', () => {
    expect([familyOf('::1'), familyOf('fe80::1'), familyOf('::zz'), familyOf('1.2.3.04'), familyOf('example.com')]).toEqual([6, 6, undefined, undefined, undefined]);
  });
});

describe('CheckedLookup (the UDP master socket lookup)', () => {
  it('answers the address the transport checked at once, and sends anything else to dns.lookup', async () => {
    const l = new CheckedLookup();
    l.checked = '127.0.0.1';
    let sync: unknown[] | undefined;
    l.lookup('127.0.0.1', 4, (...a) => (sync = a));
    expect(sync).toEqual([null, '127.0.0.1', 4]);
    // Not the checked one: the default route, asynchronous, and a name is resolved.
    let early = true;
    const viaDns = await new Promise<unknown[]>((resolve) => {
      l.lookup('localhost', 4, (...a) => resolve(a));
      early = false;
    });
    expect(early).toBe(false);
    expect(viaDns[0]).toBeNull();
    expect(viaDns[1]).toBe('127.0.0.1');
  });
});
