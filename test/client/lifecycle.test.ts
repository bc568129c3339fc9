// SipClient lifecycle: connect() idempotent, status, close() failing what is pending and freeing
// every socket and timer, on('error'), unwrap(), and registration through Nest's ClientsModule.
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { ClientsModule } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { firstValueFrom, lastValueFrom, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createResponse, SipClient, SipClientClosedError, SocketPool, type SipResponse } from 'nestjs-sip';
import { rawStreamPeer, rawUdpPeer, sleep, waitUntil } from './support.js';

/** Live handles by type (sockets, servers, timers), as Node reports them. */
function handles(): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of process.getActiveResourcesInfo()) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}
const SOCKET_TYPES = ['UDPWrap', 'TCPWrap', 'TCPServerWrap', 'TLSWrap', 'PipeWrap', 'Timeout'];
function noMoreThan(before: Map<string, number>): string[] {
  const now = handles();
  return SOCKET_TYPES.filter((t) => (now.get(t) ?? 0) > (before.get(t) ?? 0)).map((t) => `${t}: ${before.get(t) ?? 0} -> ${now.get(t)}`);
}

/** Subscribe and collect the outcome without awaiting it. */
function outcome(o: Observable<unknown>): Promise<unknown> {
  return lastValueFrom(o).then(
    (v) => ({ value: v }),
    (e: unknown) => e,
  );
}

describe('SipClient lifecycle', () => {
  it('connect() is idempotent; status emits connected, then closed', async () => {
    const c = new SipClient({ localHost: '127.0.0.1' });
    const seen: string[] = [];
    c.status.subscribe((s) => seen.push(s));
    expect(() => c.unwrap()).toThrow(/connect/);
    const a = c.connect();
    const b = c.connect();
    expect(a).toBe(b);
    expect(await a).toBe(await c.connect());
    expect(c.unwrap<SocketPool[]>()).toEqual([]); // sockets are bound on first use
    await c.close();
    await c.close(); // idempotent too
    expect(seen).toEqual(['connected', 'closed']);
    await expect(c.connect()).rejects.toBeInstanceOf(SipClientClosedError);
  });

  it('close() fails every pending request with SipClientClosedError and frees its sockets and timers', async () => {
    const udp = await rawUdpPeer();
    const tcp = await rawStreamPeer();
    await sleep(20);
    const before = handles();
    const c = new SipClient({ localHost: '127.0.0.1', timers: { T1: 50 } });
    const options = outcome(c.send('OPTIONS', { uri: `sip:127.0.0.1:${udp.port}` }));
    const invite = outcome(c.send('INVITE', { uri: `sip:127.0.0.1:${tcp.port};transport=tcp` }));
    const ringing = outcome(c.send('INVITE', { uri: `sip:127.0.0.1:${udp.port}` }));
    await udp.next();
    await tcp.next();
    const inv = await udp.next();
    inv.reply(createResponse(inv.req, 180)); // Proceeding: Timer C, not B, is running
    await waitUntil(() => c.unwrap<SocketPool[]>().length === 2, 2000, 'two legs');
    await sleep(50);
    expect(noMoreThan(before)).not.toEqual([]); // the client holds sockets and timers now
    const pools = c.unwrap<SocketPool[]>();
    await c.close();
    for (const r of [await options, await invite, await ringing]) expect(r).toBeInstanceOf(SipClientClosedError);
    // Sent after close: the same error.
    expect(await outcome(c.send('OPTIONS', { uri: `sip:127.0.0.1:${udp.port}` }))).toBeInstanceOf(SipClientClosedError);
    expect(pools.every((p) => p.closed)).toBe(true);
    expect(() => c.unwrap()).toThrow();
    await waitUntil(() => noMoreThan(before).length === 0, 3000, `handles to go: ${noMoreThan(before).join(', ')}`);
    await udp.close();
    await tcp.close();
  });

  it('close() right after send() (its socket still binding) leaves nothing open', async () => {
    await sleep(20);
    const before = handles();
    const c = new SipClient({ localHost: '127.0.0.1' });
    const r = outcome(c.send('OPTIONS', { uri: 'sip:127.0.0.1:9;transport=tcp' }));
    const r2 = outcome(c.send('OPTIONS', { uri: 'sip:127.0.0.1:9' }));
    for (let i = 0; i < 10; i++) await Promise.resolve(); // the binds have started, not finished (that takes an event-loop turn)
    await c.close();
    expect(await r).toBeInstanceOf(SipClientClosedError);
    expect(await r2).toBeInstanceOf(SipClientClosedError);
    await waitUntil(() => noMoreThan(before).length === 0, 3000, `handles to go: ${noMoreThan(before).join(', ')}`);
  });

  it('on("error") receives what has no caller: the failure of an emitted request', async () => {
    const c = new SipClient({ localHost: '127.0.0.1' });
    const errors: unknown[] = [];
    c.on('error', (e) => errors.push(e));
    // TCP port 1 (tcpmux): nobody listens there (a freed ephemeral port could be taken again meanwhile).
    await lastValueFrom(c.emit('OPTIONS', { uri: 'sip:127.0.0.1:1;transport=tcp' }), { defaultValue: undefined });
    await waitUntil(() => errors.length > 0, 5000, 'an error event');
    expect((errors[0] as { code?: string }).code).toBe('ERR_SIP_CONNECT_REFUSED');
    await c.close();
  });

  it('unsubscribing from a non-INVITE just stops listening: no CANCEL', async () => {
    const udp = await rawUdpPeer();
    const c = new SipClient({ localHost: '127.0.0.1', timers: { T1: 1000 } });
    const values: number[] = [];
    const sub = c.send<SipResponse>('OPTIONS', { uri: `sip:127.0.0.1:${udp.port}` }).subscribe((r) => values.push(r.status));
    const got = await udp.next();
    sub.unsubscribe();
    got.reply(createResponse(got.req, 200));
    await sleep(100);
    expect(values).toEqual([]);
    expect(udp.received.map((r) => r.req.method)).toEqual(['OPTIONS']);
    await c.close();
    await udp.close();
  });

  it('unsubscribing from an INVITE before it was sent sends nothing', async () => {
    const udp = await rawUdpPeer();
    const c = new SipClient({ localHost: '127.0.0.1' });
    c.send('INVITE', { uri: `sip:127.0.0.1:${udp.port}` }).subscribe().unsubscribe();
    await sleep(100);
    expect(udp.received).toEqual([]);
    await c.close();
    await udp.close();
  });
});

describe('SipClient in Nest ClientsModule', () => {
  it('register([{ name, customClass: SipClient, options }]): the options reach the client; app shutdown closes it', async () => {
    const peer = await rawUdpPeer();
    const mod = await Test.createTestingModule({
      imports: [ClientsModule.register([{ name: 'SIP', customClass: SipClient, options: { localHost: '127.0.0.1', userAgent: 'registered' } }])],
    }).compile();
    const client = mod.get<SipClient>('SIP');
    expect(client).toBeInstanceOf(SipClient);
    const res = lastValueFrom(client.send<SipResponse>('OPTIONS', { uri: `sip:127.0.0.1:${peer.port}` }));
    const got = await peer.next();
    expect(got.req.headers.get('user-agent')).toBe('registered');
    got.reply(createResponse(got.req, 200));
    expect((await res).status).toBe(200);
    const statuses: string[] = [];
    client.status.subscribe((s) => statuses.push(s));
    await mod.close();
    expect(statuses.at(-1)).toBe('closed');
    await peer.close();
  });

  it('registerAsync with useFactory (and an injected provider) returning { customClass, options }', async () => {
    @Injectable()
    class SipConfig {
      readonly userAgent = 'from-config';
    }
    @Module({ providers: [SipConfig], exports: [SipConfig] })
    class ConfigModule {}

    const peer = await rawUdpPeer();
    const mod = await Test.createTestingModule({
      imports: [
        ClientsModule.registerAsync([
          {
            name: 'SIP',
            imports: [ConfigModule],
            inject: [SipConfig],
            useFactory: (cfg: SipConfig) => ({ customClass: SipClient, options: { localHost: '127.0.0.1', userAgent: cfg.userAgent } }),
          },
        ]),
      ],
    }).compile();
    const client = mod.get<SipClient>('SIP');
    expect(client).toBeInstanceOf(SipClient);
    const res = firstValueFrom(client.send<SipResponse>('OPTIONS', { uri: `sip:127.0.0.1:${peer.port}` }));
    const got = await peer.next();
    expect(got.req.headers.get('user-agent')).toBe('from-config');
    got.reply(createResponse(got.req, 200));
    expect((await res).status).toBe(200);
    await mod.close();
    await expect(client.connect()).rejects.toBeInstanceOf(SipClientClosedError);
    await peer.close();
  });
});
