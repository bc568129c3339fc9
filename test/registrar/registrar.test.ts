import { describe, expect, it } from 'vitest';
import { LocationStoreError, MemoryLocationStore, SipRegistrar, type LocationStore, type SipPeer } from 'nestjs-sip';
import { registerRequest as reg } from './register-request.js';

/** A registrar on a clock the test moves. */
function setup(o: { maxBindingsPerAor?: number; maxAors?: number; keepAor?: number } = {}) {
  const clock = { t: 1_800_000_000_000 };
  const registrar = new SipRegistrar({
    store: new MemoryLocationStore({ maxAors: o.maxAors }),
    minExpires: 60,
    maxExpires: 3600,
    defaultExpires: 1800,
    maxBindingsPerAor: o.maxBindingsPerAor,
    keepAor: o.keepAor,
    node: 'node-a',
    now: () => clock.t,
  });
  return { clock, registrar };
}

const uris = async (r: SipRegistrar, aor = 'sip:alice@example.test') => {
  const l = await r.lookup(aor);
  return l.status === 200 ? l.bindings.map((b) => b.uri) : l.status;
};

describe('SipRegistrar (RFC 3261 §10.3) over the in-memory store', () => {
  it('stores a binding, answers 200 with every binding and its time left, and finds it by Request-URI (port and params ignored)', async () => {
    const { registrar, clock } = setup();
    const r = await registrar.register(reg({ contacts: ['<sip:alice@192.0.2.1:5070>;q=0.5'], expires: 300 }));
    expect(r.status).toBe(200);
    expect(r.headers.Contact).toEqual(['<sip:alice@192.0.2.1:5070>;q=0.5;expires=300']);
    expect(r.headers.Date).toBe(new Date(clock.t).toUTCString());
    clock.t += 100_000;
    const l = await registrar.lookup('sip:alice@EXAMPLE.test:5060;transport=tcp');
    expect(l.status).toBe(200);
    if (l.status !== 200) return;
    expect(l.aor).toBe('sip:alice@example.test');
    expect(l.bindings).toMatchObject([{ uri: 'sip:alice@192.0.2.1:5070', params: ';q=0.5', q: 0.5, callId: 'call-1', cseq: 1 }]);
    // A REGISTER without Contact lists the bindings, with the time they have left, and changes nothing.
    const q = await registrar.register(reg({ callId: 'other', cseq: 1 }));
    expect(q.headers.Contact).toEqual(['<sip:alice@192.0.2.1:5070>;q=0.5;expires=200']);
  });

  it('423 with Min-Expires below the minimum; longer than the maximum is cut to it; the header Expires and the default apply', async () => {
    const { registrar } = setup();
    const brief = await registrar.register(reg({ contacts: ['<sip:a@192.0.2.1>'], expires: 10 }));
    expect(brief).toMatchObject({ status: 423, headers: { 'Min-Expires': 60 } });
    expect(await uris(registrar)).toBe(404);
    const long = await registrar.register(reg({ contacts: ['<sip:a@192.0.2.1>;expires=999999', '<sip:b@192.0.2.1>'], expires: 120, cseq: 2 }));
    expect(long.headers.Contact).toEqual(['<sip:a@192.0.2.1>;expires=3600', '<sip:b@192.0.2.1>;expires=120']);
    const def = await registrar.register(reg({ contacts: ['<sip:c@192.0.2.1>'], cseq: 3 }));
    expect(def.headers.Contact).toContain('<sip:c@192.0.2.1>;expires=1800');
  });

  it('Contact: * needs Expires: 0 and no other Contact (400), and then removes every binding: 480 while the AOR is remembered, 404 after', async () => {
    const { registrar, clock } = setup({ keepAor: 600 });
    await registrar.register(reg({ contacts: ['<sip:a@192.0.2.1>', '<sip:b@192.0.2.1>'], expires: 300 }));
    expect((await registrar.register(reg({ contacts: ['*'], cseq: 2 }))).status).toBe(400);
    expect((await registrar.register(reg({ contacts: ['*', '<sip:a@192.0.2.1>'], expires: 0, cseq: 2 }))).status).toBe(400);
    const r = await registrar.register(reg({ contacts: ['*'], expires: 0, cseq: 2 }));
    expect(r.status).toBe(200);
    expect(r.headers.Contact).toBeUndefined();
    expect(await uris(registrar)).toBe(480);
    clock.t += 601_000;
    expect(await uris(registrar)).toBe(404);
  });

  it('expires=0 removes one binding; bindings expire on their own', async () => {
    const { registrar, clock } = setup();
    await registrar.register(reg({ contacts: ['<sip:a@192.0.2.1>;expires=60', '<sip:b@192.0.2.1>;expires=120'] }));
    await registrar.register(reg({ contacts: ['<sip:c@192.0.2.1>'], expires: 300, cseq: 2 }));
    await registrar.register(reg({ contacts: ['<sip:b@192.0.2.1>;expires=0'], cseq: 3 }));
    expect(await uris(registrar)).toEqual(['sip:a@192.0.2.1', 'sip:c@192.0.2.1']);
    clock.t += 60_000;
    expect(await uris(registrar)).toEqual(['sip:c@192.0.2.1']);
    clock.t += 240_000;
    expect(await uris(registrar)).toBe(480);
  });

  it('Call-ID/CSeq ordering (§10.3 step 7): the same Call-ID with a CSeq not higher is refused (500) and changes nothing; another Call-ID may', async () => {
    const { registrar } = setup();
    expect((await registrar.register(reg({ contacts: ['<sip:a@192.0.2.1>'], expires: 300, cseq: 5 }))).status).toBe(200);
    for (const cseq of [5, 4]) {
      const r = await registrar.register(reg({ contacts: ['<sip:a@192.0.2.1>', '<sip:new@192.0.2.1>'], expires: 0, cseq }));
      expect(r.status).toBe(500);
      expect((await registrar.register(reg({ contacts: ['*'], expires: 0, cseq }))).status).toBe(500);
    }
    expect(await uris(registrar)).toEqual(['sip:a@192.0.2.1']);
    // Another phone (Call-ID) with a lower CSeq refreshes the binding: the CSeq is only compared within one Call-ID.
    expect((await registrar.register(reg({ contacts: ['<sip:a@192.0.2.1>'], expires: 600, callId: 'call-2', cseq: 1 }))).headers.Contact).toEqual([
      '<sip:a@192.0.2.1>;expires=600',
    ]);
    expect((await registrar.register(reg({ contacts: ['<sip:a@192.0.2.1>'], expires: 0, cseq: 6 }))).status).toBe(200);
    expect(await uris(registrar)).toBe(480);
  });

  it('at most maxBindingsPerAor bindings: a new one replaces the soonest to expire; a REGISTER bringing more gets 403', async () => {
    const { registrar } = setup({ maxBindingsPerAor: 2 });
    await registrar.register(reg({ contacts: ['<sip:a@192.0.2.1>'], expires: 900, callId: 'p1' }));
    await registrar.register(reg({ contacts: ['<sip:b@192.0.2.1>'], expires: 300, callId: 'p2' }));
    await registrar.register(reg({ contacts: ['<sip:c@192.0.2.1>'], expires: 600, callId: 'p3' }));
    expect(await uris(registrar)).toEqual(['sip:a@192.0.2.1', 'sip:c@192.0.2.1']);
    const many = await registrar.register(reg({ contacts: ['<sip:x@192.0.2.1>', '<sip:y@192.0.2.1>', '<sip:z@192.0.2.1>'], expires: 600, callId: 'p4' }));
    expect(many.status).toBe(403);
    expect(await uris(registrar)).toEqual(['sip:a@192.0.2.1', 'sip:c@192.0.2.1']);
  });

  it('the memory store holds at most maxAors AORs: a new one gets 503 with Retry-After until others are forgotten', async () => {
    const { registrar, clock } = setup({ maxAors: 2, keepAor: 0 });
    for (const u of ['a', 'b']) expect((await registrar.register(reg({ aor: `sip:${u}@example.test`, contacts: [`<sip:${u}@192.0.2.1>`], expires: 60 }))).status).toBe(200);
    const full = await registrar.register(reg({ aor: 'sip:c@example.test', contacts: ['<sip:c@192.0.2.1>'], expires: 60 }));
    expect(full).toMatchObject({ status: 503, headers: { 'Retry-After': 5 } });
    // Known AORs are still served.
    expect((await registrar.register(reg({ aor: 'sip:a@example.test', contacts: ['<sip:a@192.0.2.1>'], expires: 60, cseq: 2 }))).status).toBe(200);
    clock.t += 61_000;
    expect((await registrar.register(reg({ aor: 'sip:c@example.test', contacts: ['<sip:c@192.0.2.1>'], expires: 60 }))).status).toBe(200);
    expect((registrar.store as MemoryLocationStore).size).toBeLessThanOrEqual(2);
  });

  it('records where the REGISTER came from (transport, address, port, node, the connection) and the RFC 5626 parameters; instance + reg-id name the binding', async () => {
    const { registrar } = setup();
    const socket = { fake: 'connection' };
    const from: SipPeer = { proto: 'tcp', addr: '192.0.2.7', port: 40123, family: 4, socket };
    const inst = '"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"';
    await registrar.register(reg({ contacts: [`<sip:x@abc.invalid;transport=ws;ob>;reg-id=1;+sip.instance=${inst}`], expires: 300 }), from);
    // The same instance and reg-id from a new flow (new contact) replaces the binding, not adds one.
    await registrar.register(reg({ contacts: [`<sip:y@def.invalid;transport=ws;ob>;reg-id=1;+sip.instance=${inst}`], expires: 300, cseq: 2 }), { ...from, port: 40999 });
    await registrar.register(reg({ contacts: ['<sip:alice@192.0.2.9>'], expires: 300, callId: 'udp-phone' }), { proto: 'udp', addr: '192.0.2.9', port: 5060, family: 4, socket: {} });
    const l = await registrar.lookup('sip:alice@example.test');
    if (l.status !== 200) throw new Error(`lookup ${l.status}`);
    expect(l.bindings).toHaveLength(2);
    expect(l.bindings[0]).toMatchObject({
      uri: 'sip:y@def.invalid;transport=ws;ob',
      instance: '<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>',
      regId: 1,
      ob: true,
      source: { proto: 'tcp', addr: '192.0.2.7', port: 40999, family: 4, node: 'node-a' },
    });
    expect(l.bindings[0]!.source!.connection).toBe(socket);
    expect(l.bindings[1]!.source).toEqual({ proto: 'udp', addr: '192.0.2.9', port: 5060, family: 4, node: 'node-a' });
  });

  it('a store that fails answers 503 with Retry-After (unreachable) or 500 (a bug), and is reported; lookups too', async () => {
    const errors: Error[] = [];
    let fail: Error = new LocationStoreError('Redis location store: update failed: The client is offline');
    const broken: LocationStore = {
      get: async () => {
        throw fail;
      },
      update: async () => {
        throw fail;
      },
    };
    const registrar = new SipRegistrar({ store: broken, retryAfter: 7, onStoreError: (e) => errors.push(e) });
    expect(await registrar.register(reg({ contacts: ['<sip:a@192.0.2.1>'], expires: 300 }))).toMatchObject({ status: 503, headers: { 'Retry-After': 7 } });
    expect(await registrar.lookup('sip:alice@example.test')).toMatchObject({ status: 503, headers: { 'Retry-After': 7 } });
    fail = new TypeError('boom');
    expect((await registrar.register(reg({ contacts: ['<sip:a@192.0.2.1>'], expires: 300 }))).status).toBe(500);
    expect(errors.map((e) => e.message)).toEqual(['Redis location store: update failed: The client is offline', 'Redis location store: update failed: The client is offline', 'boom']);
  });

  it('bad input: a non-SIP To is 400, a tel: target 416, a malformed Contact 400', async () => {
    const { registrar } = setup();
    expect((await registrar.register(reg({ aor: 'tel:+123', contacts: ['<sip:a@192.0.2.1>'] }))).status).toBe(400);
    expect((await registrar.lookup('tel:+123')).status).toBe(416);
    const bad = reg({ contacts: ['<sip:a@192.0.2.1>'] });
    bad.headers.set('Contact', '<sip:a@192.0.2.1');
    expect((await registrar.register(bad)).status).toBe(400);
  });

  it('RFC 3327: the Path of a REGISTER is stored with its bindings, and returned in the 200 when the UA supports path', async () => {
    const { registrar } = setup();
    const req = reg({ contacts: ['<sip:alice@192.0.2.9:5060>'], expires: 300 });
    req.headers.append('Path', '<sip:edge1.example.test;lr>, <sip:edge2.example.test;lr>');
    const plain = await registrar.register(req);
    expect(plain.headers.Path).toBeUndefined();
    req.headers.append('Supported', 'outbound, path');
    req.headers.set('CSeq', '2 REGISTER');
    const r = await registrar.register(req);
    expect(r.headers.Path).toEqual(['<sip:edge1.example.test;lr>', '<sip:edge2.example.test;lr>']);
    const l = await registrar.lookup('sip:alice@example.test');
    if (l.status !== 200) throw new Error(`lookup ${l.status}`);
    expect(l.bindings[0]!.path).toEqual(['<sip:edge1.example.test;lr>', '<sip:edge2.example.test;lr>']);
  });
});
