// The small DNS client that reads SRV/NAPTR TTLs (src/proxy/dns-wire.ts): its parser on crafted and
// random input (answers come from the network: a malformed one is an error, never a hang or a crash).
// Against a real server it runs in test/client/dns.test.ts (dnsmasq).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeQuery, parseResponse, parseServer, TYPE_NAPTR, TYPE_SRV } from '../../src/proxy/dns-wire.js';

/** A response to `q` with the given answer records (name = pointer to the question). */
function response(q: Buffer, answers: { type: number; ttl: number; rdata: Buffer }[], rcode = 0): Buffer {
  const head = Buffer.from(q);
  head.writeUInt16BE(0x8180 | rcode, 2);
  head.writeUInt16BE(answers.length, 6);
  const parts: Buffer[] = [head];
  for (const a of answers) {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(a.type, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(a.ttl, 6);
    rr.writeUInt16BE(a.rdata.length, 10);
    parts.push(rr, a.rdata);
  }
  return Buffer.concat(parts);
}

const name = (s: string): Buffer => Buffer.concat([...s.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);

describe('dns-wire', () => {
  it('reads SRV and NAPTR answers with their TTLs, following compression pointers', () => {
    const q = encodeQuery(0x1234, '_sip._udp.example.test', TYPE_SRV);
    const srv = Buffer.concat([Buffer.from([0, 10, 0, 60, 0x13, 0xc4]), Buffer.from([0xc0, 0x16])]); // target: pointer to "example.test" in the question
    const a = parseResponse(response(q, [{ type: TYPE_SRV, ttl: 42, rdata: srv }]), TYPE_SRV);
    expect(a).toMatchObject({ id: 0x1234, rcode: 0, truncated: false });
    expect(a.records).toEqual([{ priority: 10, weight: 60, port: 5060, name: 'example.test', ttl: 42 }]);

    const nq = encodeQuery(7, 'example.test', TYPE_NAPTR);
    const str = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);
    const naptr = Buffer.concat([Buffer.from([0, 10, 0, 20]), str('s'), str('SIP+D2T'), str(''), name('_sip._tcp.example.test')]);
    expect(parseResponse(response(nq, [{ type: TYPE_NAPTR, ttl: 5, rdata: naptr }]), TYPE_NAPTR).records).toEqual([
      { order: 10, preference: 20, flags: 's', service: 'SIP+D2T', regexp: '', replacement: '_sip._tcp.example.test', ttl: 5 },
    ]);
  });

  it('refuses pointer loops, truncated records and names DNS cannot carry', () => {
    const q = encodeQuery(1, 'a.test', TYPE_SRV);
    const loop = Buffer.from([0, 1, 0, 1, 0, 1, 0xc0, 0]); // pointer to the header, which points on...
    const r = response(q, [{ type: TYPE_SRV, ttl: 1, rdata: loop }]);
    r.writeUInt16BE(0xc000 | (r.length - 2), r.length - 2); // the target name points at itself
    expect(() => parseResponse(r, TYPE_SRV)).toThrow(/malformed/);
    expect(() => parseResponse(response(q, [{ type: TYPE_SRV, ttl: 1, rdata: Buffer.from([0, 1]) }]), TYPE_SRV)).toThrow(/malformed/);
    expect(() => encodeQuery(1, 'a..test', TYPE_SRV)).toThrow(/bad DNS name/);
    expect(() => encodeQuery(1, 'x'.repeat(64) + '.test', TYPE_SRV)).toThrow(/bad DNS name/);
  });

  it('random bytes after a valid question: an answer or an error, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 2 }), fc.boolean(), (tail, an, ns, naptr) => {
        const type = naptr ? TYPE_NAPTR : TYPE_SRV;
        const b = Buffer.concat([encodeQuery(9, '_sip._tcp.example.test', type), Buffer.from(tail)]);
        b.writeUInt16BE(0x8180, 2);
        b.writeUInt16BE(an, 6);
        b.writeUInt16BE(ns, 8);
        try {
          const a = parseResponse(b, type);
          expect(Array.isArray(a.records)).toBe(true);
        } catch (err) {
          expect((err as Error).message).toBe('malformed DNS response');
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('records of random rdata (SRV, NAPTR, SOA in the authority section): an answer or an error', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ type: fc.constantFrom(TYPE_SRV, TYPE_NAPTR, 6, 1), ttl: fc.nat(), rdata: fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)) }), { maxLength: 4 }),
        fc.boolean(),
        (answers, naptr) => {
          const type = naptr ? TYPE_NAPTR : TYPE_SRV;
          const b = response(encodeQuery(3, 'x.test', type), answers);
          if (answers.length > 1) b.writeUInt16BE(answers.length - 1, 6), b.writeUInt16BE(1, 8); // the last one as authority
          try {
            parseResponse(b, type);
          } catch (err) {
            expect((err as Error).message).toBe('malformed DNS response');
          }
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('parseServer reads what Resolver.getServers() writes', () => {
    expect(parseServer('192.0.2.53')).toEqual({ host: '192.0.2.53', port: 53, family: 4 });
    expect(parseServer('127.0.0.1:5353')).toEqual({ host: '127.0.0.1', port: 5353, family: 4 });
    expect(parseServer('::1')).toEqual({ host: '::1', port: 53, family: 6 });
    expect(parseServer('[2001:db8::1]:5353')).toEqual({ host: '2001:db8::1', port: 5353, family: 6 });
    expect(parseServer('dns.example')).toBeUndefined();
    expect(parseServer('127.0.0.1:99999')).toBeUndefined();
  });
});
