// Corner cases of the RFC 3263 pieces with a fake resolver and a fake clock (test/client/dns.test.ts
// runs them against a real dnsmasq): the TTL cache, the down list, the target set, NAPTR filtering.
import { describe, expect, it } from 'vitest';
import {
  ConnectRefusedError,
  createResponse,
  DnsCache,
  DownList,
  failoverCause,
  naptrServices,
  parseMessage,
  PoolClosedError,
  retryAfterSeconds,
  SipTimeoutError,
  TargetSet,
  tooLargeForUdp,
  wireSize,
  SipRequest as Request,
  type SipDnsResolver,
  type SipRequest,
} from 'nestjs-sip';

const req = parseMessage('OPTIONS sip:a@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@example.test>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n') as SipRequest;

function counting(answers: { srv?: { ttl?: number }[]; addr?: { address: string; family: number; ttl?: number }[]; fail?: string }): SipDnsResolver & { asked: number } {
  const r = {
    asked: 0,
    resolveSrv: async () => {
      r.asked++;
      if (answers.fail !== undefined) throw Object.assign(new Error(answers.fail), { code: answers.fail });
      return (answers.srv ?? []).map((x, i) => ({ name: `t${i}.example.test`, port: 5060, priority: 0, weight: 0, ...x }));
    },
    lookup: async () => ({ address: '192.0.2.1', family: 4 }),
    resolveAddresses: async () => {
      r.asked++;
      return answers.addr ?? [];
    },
  };
  return r;
}

describe('DnsCache', () => {
  it('keeps an answer for its lowest TTL, then asks again', async () => {
    let now = 0;
    const inner = counting({ addr: [{ address: '192.0.2.1', family: 4, ttl: 30 }, { address: '2001:db8::1', family: 6, ttl: 10 }] });
    const c = new DnsCache(inner, { now: () => now });
    await c.resolveAddresses('h.test');
    now = 9_999;
    expect(await c.resolveAddresses('H.TEST')).toHaveLength(2);
    expect(inner.asked).toBe(1);
    now = 10_000;
    await c.resolveAddresses('h.test');
    expect(inner.asked).toBe(2);
  });

  it('TTL 0 is not kept; no TTL: the default; TTLs are capped', async () => {
    let now = 0;
    const zero = counting({ addr: [{ address: '192.0.2.1', family: 4, ttl: 0 }] });
    const c0 = new DnsCache(zero, { now: () => now });
    await c0.resolveAddresses('h');
    await c0.resolveAddresses('h');
    expect(zero.asked).toBe(2);
    const none = counting({ srv: [{}] });
    const c1 = new DnsCache(none, { now: () => now, defaultTtl: 5 });
    await c1.resolveSrv('_sip._udp.x');
    now = 4_999;
    await c1.resolveSrv('_sip._udp.x');
    expect(none.asked).toBe(1);
    now = 5_000;
    await c1.resolveSrv('_sip._udp.x');
    expect(none.asked).toBe(2);
    const long = counting({ srv: [{ ttl: 86400 }] });
    const c2 = new DnsCache(long, { now: () => now, maxTtl: 60 });
    await c2.resolveSrv('a');
    now += 60_000;
    await c2.resolveSrv('a');
    expect(long.asked).toBe(2);
  });

  it('"no such name" is kept for negativeTtl; a server failure is not kept', async () => {
    let now = 0;
    const nx = counting({ fail: 'ENOTFOUND' });
    const c = new DnsCache(nx, { now: () => now, negativeTtl: 10 });
    await expect(c.resolveSrv('a')).rejects.toThrow('ENOTFOUND');
    await expect(c.resolveSrv('a')).rejects.toThrow('ENOTFOUND');
    expect(nx.asked).toBe(1);
    now = 10_000;
    await expect(c.resolveSrv('a')).rejects.toThrow('ENOTFOUND');
    expect(nx.asked).toBe(2);
    // The zone's SOA said 5 s (RFC 2308): kept that long, not negativeTtl.
    const soa: SipDnsResolver & { asked: number } = {
      asked: 0,
      resolveSrv: async () => {
        soa.asked++;
        throw Object.assign(new Error('ENODATA'), { code: 'ENODATA', ttl: 5 });
      },
      lookup: async () => ({ address: '192.0.2.1', family: 4 }),
    };
    const c3 = new DnsCache(soa, { now: () => now, negativeTtl: 10 });
    now = 0;
    await expect(c3.resolveSrv('a')).rejects.toThrow();
    now = 4_999;
    await expect(c3.resolveSrv('a')).rejects.toThrow();
    expect(soa.asked).toBe(1);
    now = 5_000;
    await expect(c3.resolveSrv('a')).rejects.toThrow();
    expect(soa.asked).toBe(2);
    const servfail = counting({ fail: 'ESERVFAIL' });
    const c2 = new DnsCache(servfail, { now: () => now });
    await expect(c2.resolveSrv('a')).rejects.toThrow();
    await expect(c2.resolveSrv('a')).rejects.toThrow();
    expect(servfail.asked).toBe(2);
  });

  it('questions asked at once share one query; the table is bounded', async () => {
    const inner = counting({ srv: [{ ttl: 60 }] });
    const c = new DnsCache(inner, { maxEntries: 3 });
    await Promise.all([c.resolveSrv('a'), c.resolveSrv('a'), c.resolveSrv('a')]);
    expect(inner.asked).toBe(1);
    for (const n of ['b', 'c', 'd', 'e']) await c.resolveSrv(n);
    expect(c.size).toBe(3);
    await c.resolveSrv('a'); // dropped as the oldest: asked again
    expect(inner.asked).toBe(6);
  });

  it('a resolver with lookup only (the interface before NAPTR) still works behind the cache', async () => {
    const c = new DnsCache({ resolveSrv: async () => [], lookup: async () => ({ address: '192.0.2.9', family: 4 }) });
    expect(await c.resolveAddresses('h')).toEqual([{ address: '192.0.2.9', family: 4 }]);
    expect(await c.resolveNaptr('h')).toEqual([]);
    expect(await c.lookup('h')).toEqual({ address: '192.0.2.9', family: 4 });
  });
});

describe('fail-over pieces', () => {
  it('failoverCause: 503, Timer B/F, unreachable transports; not other answers, Timer C, our own pool closing', () => {
    expect(failoverCause(createResponse(req, 503))).toBe('503');
    expect(failoverCause(createResponse(req, 500))).toBeUndefined();
    expect(failoverCause(createResponse(req, 486))).toBeUndefined();
    expect(failoverCause(undefined, new SipTimeoutError('F', req, 32000))).toBe('timeout');
    expect(failoverCause(undefined, new SipTimeoutError('C', req, 180000))).toBeUndefined();
    expect(failoverCause(undefined, new ConnectRefusedError('refused'))).toBe('transport');
    expect(failoverCause(undefined, new PoolClosedError('closed'))).toBeUndefined();
    expect(failoverCause(undefined, new Error('other'))).toBeUndefined();
  });

  it('retryAfterSeconds reads delta-seconds (comment and parameters ignored) and refuses garbage', () => {
    const with503 = (v: string) => createResponse(req, 503, undefined, { headers: { 'Retry-After': v } });
    expect(retryAfterSeconds(with503('120'))).toBe(120);
    expect(retryAfterSeconds(with503('18000 (in a meeting);duration=3600'))).toBe(18000);
    expect(retryAfterSeconds(with503('soon'))).toBeUndefined();
    expect(retryAfterSeconds(createResponse(req, 503))).toBeUndefined();
    expect(retryAfterSeconds(with503('99999999999999999999'))).toBe(9999999999); // ten digits at most
  });

  it('DownList: down for Retry-After (capped), moved last, forgotten after; bounded', () => {
    let now = 0;
    const down = new DownList({ now: () => now, maxSeconds: 100, maxEntries: 2 });
    const a = { proto: 'udp' as const, addr: '192.0.2.1', port: 5060, family: 4 as const };
    const b = { ...a, addr: '192.0.2.2' };
    const c = { ...a, addr: '192.0.2.3' };
    down.markDown(a, 1000);
    expect(down.order([a, b, c]).map((t) => t.addr)).toEqual(['192.0.2.2', '192.0.2.3', '192.0.2.1']);
    now = 100_000; // capped at maxSeconds
    expect(down.isDown(a)).toBe(false);
    down.markDown(a, 10);
    down.markDown(b, 10);
    down.markDown(c, 10);
    expect(down.size).toBe(2);
    expect(down.isDown(a)).toBe(false); // the oldest was dropped
    expect(down.isDown(c)).toBe(true);
  });

  it('TargetSet: one target after another; a 503 with Retry-After marks its target down', () => {
    const down = new DownList();
    const t = (addr: string) => ({ proto: 'udp' as const, addr, port: 5060, family: 4 as const });
    const set = new TargetSet([t('192.0.2.1'), t('192.0.2.2')], down);
    expect(set.next()?.addr).toBe('192.0.2.1');
    expect(set.remaining).toBe(1);
    set.failed(createResponse(req, 503, undefined, { headers: { 'Retry-After': '30' } }));
    expect(set.next()?.addr).toBe('192.0.2.2');
    expect(set.next()).toBeUndefined();
    expect(new TargetSet([t('192.0.2.1'), t('192.0.2.2')], down).next()?.addr).toBe('192.0.2.2');
    // after(): the next target only when the outcome calls for fail-over.
    const s2 = new TargetSet([t('192.0.2.7'), t('192.0.2.8'), t('192.0.2.9')]);
    s2.next();
    expect(s2.after(createResponse(req, 486))).toBeUndefined();
    expect(s2.after(createResponse(req, 503))?.addr).toBe('192.0.2.8');
    expect(s2.after(undefined, new ConnectRefusedError('refused'))?.addr).toBe('192.0.2.9');
    expect(s2.after(createResponse(req, 503))).toBeUndefined(); // none left
  });

  it('naptrServices: only terminal SRV pointers for SIP over UDP/TCP/TLS, by order then preference, no repeats', () => {
    const n = (order: number, preference: number, service: string, replacement: string, flags = 's') => ({ order, preference, flags, service, regexp: '', replacement });
    const recs = [n(10, 20, 'SIP+D2U', '_sip._udp.x'), n(10, 10, 'SIP+D2T', '_sip._tcp.x'), n(5, 0, 'SIP+D2S', '_sip._sctp.x'), n(1, 0, 'SIP+D2U', 'ignored', 'a'), n(20, 0, 'sips+d2t', '_sips._tcp.x'), n(30, 0, 'SIP+D2T', '_sip._tcp.x')];
    expect(naptrServices(recs, false)).toEqual([
      { proto: 'tcp', name: '_sip._tcp.x' },
      { proto: 'udp', name: '_sip._udp.x' },
      { proto: 'tls', name: '_sips._tcp.x' },
    ]);
    expect(naptrServices(recs, true)).toEqual([{ proto: 'tls', name: '_sips._tcp.x' }]);
  });
});

describe('RFC 3261 §18.1.1 size check', () => {
  it('wireSize is the serialised length (multi-byte characters and body included); over 1300 bytes is too large for UDP', () => {
    const m = new Request({ method: 'MESSAGE', uri: 'sip:bob@example.test', headers: { Subject: 'Grüße', Via: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx' }, body: 'é'.repeat(100) });
    expect(wireSize(m)).toBe(m.toBuffer().length);
    expect(tooLargeForUdp(m)).toBe(false);
    m.setBody('x'.repeat(1300 - (wireSize(m) - m.body.length)));
    m.setBody('x'.repeat(m.body.length - (wireSize(m) - 1300))); // Content-Length grew a digit
    expect(wireSize(m)).toBe(1300);
    expect(tooLargeForUdp(m)).toBe(false);
    m.setBody(m.body.toString() + 'x');
    expect(tooLargeForUdp(m)).toBe(true);
    expect(wireSize(req)).toBe(req.toBuffer().length); // a parsed message too
  });
});

describe('an injected resolver that misbehaves', () => {
  it('throwing instead of rejecting, or answering no list: treated as no records, never an escaped exception', async () => {
    const { resolveTargets, parseUri } = await import('nestjs-sip');
    const odd: SipDnsResolver = {
      resolveSrv: () => {
        throw new Error('sync');
      },
      resolveNaptr: async () => undefined as never,
      lookup: async () => ({ address: '192.0.2.5', family: 4 }),
    };
    expect(await resolveTargets(parseUri('sip:odd.test'), 'udp', {}, odd)).toEqual([{ addr: '192.0.2.5', port: 5060, family: 4, proto: 'udp', servername: 'odd.test' }]);
    const cached = new DnsCache(odd);
    expect(await resolveTargets(parseUri('sip:odd.test'), 'udp', {}, cached)).toHaveLength(1);
    const broken: SipDnsResolver = {
      resolveSrv: async () => [],
      lookup: () => {
        throw Object.assign(new Error('sync lookup'), { code: 'ENOTFOUND' });
      },
    };
    await expect(resolveTargets(parseUri('sip:odd.test'), 'udp', {}, broken)).rejects.toThrow('sync lookup');
    await expect(resolveTargets(parseUri('sip:odd.test'), 'udp', {}, new DnsCache(broken))).rejects.toThrow('sync lookup');
  });
});
