// Bad input never reaches a handler and never stops the server: what the codec rejects gets the
// 400 / 505 / 513 it names (when an answer can be built), over UDP and TCP; TCP connections whose
// framing broke are closed (a stream cannot resynchronise), others stay open.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipRequest } from 'nestjs-sip';
import { sipRequest, sleep, startApp, StreamClient, UdpClient, uniq, waitUntil, type RunningApp } from './support.js';

const handled: string[] = [];

@Controller()
class Handlers {
  @MessagePattern('OPTIONS')
  options(@Payload() req: SipRequest) {
    handled.push(req.callId);
    return 200;
  }

  @MessagePattern('MESSAGE')
  message(@Payload() req: SipRequest) {
    handled.push(req.callId);
    return 200;
  }
}

@Module({ controllers: [Handlers] })
class AppModule {}

describe('bad input', () => {
  let app: RunningApp;
  let udp: UdpClient;

  beforeAll(async () => {
    app = await startApp(AppModule, {
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
      ],
      limits: { MAX_SIP_HEADER: 2048, MAX_SIP_BODY: 1024 },
    });
    udp = await UdpClient.open();
  });

  afterAll(async () => {
    await udp?.close();
    await app?.close();
  });

  /** The server still answers, on both legs. */
  async function stillServing(): Promise<void> {
    const id = `alive-${uniq()}`;
    await udp.send(sipRequest({ callId: id }), app.port('udp'));
    expect((await udp.response(id)).status).toBe(200);
    const c = await StreamClient.connect(app.port('tcp'));
    try {
      const id2 = `alive-${uniq()}`;
      c.send(sipRequest({ callId: id2, transport: 'TCP' }));
      expect((await c.response(id2)).status).toBe(200);
    } finally {
      c.close();
    }
  }

  describe('UDP', () => {
    it('a bare LF or CR inside a header value (response splitting): 400 when it can be answered, nothing injected ever comes back', async () => {
      for (const sep of ['\n', '\r']) {
        const c = await UdpClient.open();
        try {
          // In a header we do not copy back: answered 400 from the headers before it.
          const id = `inj-${uniq()}`;
          await c.send(sipRequest({ callId: id, headers: [`Subject: a${sep}X-Injected: yes`] }), app.port('udp'));
          await waitUntil(() => c.received.length > 0, 2000, 'an answer');
          const raw = c.received[0]!.raw.toString('latin1');
          expect(raw).toMatch(/^SIP\/2.0 400 /);
          expect(raw).toMatch(/Warning: 399 [^\r\n]*Bare (LF|CR) in a header line/);
          expect(raw).not.toMatch(/Injected/);
          // In the Call-ID (which every answer copies): nothing to answer with safely, so no answer.
          const id2 = `inj-${uniq()}`;
          await c.send(sipRequest({ callId: `${id2}${sep}X-Injected: yes` }), app.port('udp'));
          await sleep(300);
          expect(c.received).toHaveLength(1);
          expect(handled.some((h) => h.includes(id) || h.includes(id2))).toBe(false);
        } finally {
          await c.close();
        }
      }
      await stillServing();
    });

    it('datagrams that are not SIP at all: no answer', async () => {
      const c = await UdpClient.open();
      try {
        for (const junk of ['hello world', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 'INVITE', 'SIP/2.0 200\r\n\r\n', '\r\n\r\n', Buffer.alloc(600, 0xff)]) {
          await c.send(junk, app.port('udp'));
        }
        await sleep(200);
        expect(c.received).toEqual([]);
        expect(c.unparsed).toEqual([]);
      } finally {
        await c.close();
      }
      await stillServing();
    });

    it('a body over MAX_SIP_BODY: 513, the handler never sees it', async () => {
      const id = `big-${uniq()}`;
      await udp.send(sipRequest({ method: 'MESSAGE', callId: id, body: 'x'.repeat(1500), headers: ['Content-Type: text/plain'] }), app.port('udp'));
      expect((await udp.response(id)).status).toBe(513);
      expect(handled).not.toContain(id);
    });

    it('a header section over MAX_SIP_HEADER: never handled; answered 513', async () => {
      // A datagram is whole: the codec reads its header lines past the limit for the answer only.
      const c = await UdpClient.open();
      try {
        const id = `bighdr-${uniq()}`;
        await c.send(sipRequest({ callId: id, headers: [`X-Padding: ${'p'.repeat(3000)}`] }), app.port('udp'));
        expect((await c.response(id)).status).toBe(513);
        expect(handled).not.toContain(id);
      } finally {
        await c.close();
      }
      await stillServing();
    });

    it('SIP/3.0: 505; a CSeq method that is not the request method: 400', async () => {
      const v = `ver-${uniq()}`;
      const m = `cseq-${uniq()}`;
      await udp.send(sipRequest({ callId: v }).replace(' SIP/2.0\r\n', ' SIP/3.0\r\n'), app.port('udp'));
      await udp.send(sipRequest({ callId: m, cseqMethod: 'INVITE' }), app.port('udp'));
      expect(udp.statuses).not.toContain(505); // (nothing stale)
      await udp.until(() => udp.unparsed.some((u) => u.status === 505) || udp.responses(v).length > 0, 3000, '505');
      expect((await udp.response(m)).status).toBe(400);
      expect(handled).not.toContain(v);
      expect(handled).not.toContain(m);
    });
  });

  describe('TCP', () => {
    it('a request without Content-Length: 400, then the connection is closed', async () => {
      const c = await StreamClient.connect(app.port('tcp'));
      const id = `nocl-${uniq()}`;
      c.send(sipRequest({ callId: id, transport: 'TCP' }).replace(/Content-Length: 0\r\n/, ''));
      expect(await waitFor(() => c, 'closed')).toBe(true);
      expect(c.statuses).toEqual([400]);
      expect(handled).not.toContain(id);
      await stillServing();
    });

    it('a well-framed request that does not parse (Net::SIP\'s REGISTER <sip:x@y>, SIP/3.0) gets 400 / 505 and the same connection serves the next request (issue 11 §3)', async () => {
      const c = await StreamClient.connect(app.port('tcp'));
      try {
        c.send(sipRequest({ method: 'REGISTER', callId: `netsip-${uniq()}`, transport: 'TCP' }).replace('REGISTER sip:svc@127.0.0.1 SIP/2.0', 'REGISTER <sip:x@y> SIP/2.0'));
        await waitUntil(() => c.statuses.length === 1, 3000, 'the 400');
        c.send(sipRequest({ callId: `v3-${uniq()}`, transport: 'TCP' }).replace(' SIP/2.0\r\n', ' SIP/3.0\r\n'));
        await waitUntil(() => c.statuses.length === 2, 3000, 'the 505');
        const id = `after-${uniq()}`;
        c.send(sipRequest({ callId: id, transport: 'TCP' }));
        expect((await c.response(id)).status).toBe(200);
        expect(c.statuses).toEqual([400, 505, 200]);
        expect(c.closed).toBe(false);
      } finally {
        c.close();
      }
    });

    it('a header section that never ends within MAX_SIP_HEADER: closed, never handled', async () => {
      const c = await StreamClient.connect(app.port('tcp'));
      const id = `endless-${uniq()}`;
      // Every header needed to answer comes first; then one that never ends.
      c.send(sipRequest({ callId: id, transport: 'TCP' }).replace(/Content-Length: 0\r\n\r\n$/, `X-Long: ${'a'.repeat(4000)}`));
      expect(await waitFor(() => c, 'closed')).toBe(true);
      // DESIGN §4 wants a 513 "where possible"; today the connection is closed without one (the
      // codec's "Header too large" error carries no headers to answer with; reported).
      for (const st of c.statuses) expect(st).toBe(513);
      expect(handled).not.toContain(id);
      await stillServing();
    });

    it('a good request before garbage on the same connection is still handled; its answer follows §18.2.2', async () => {
      // The garbage closes the connection at once, before the handler's answer exists, so the
      // answer goes to the Via sent-by on a new connection.
      const accepted: StreamClient[] = [];
      const listener = net.createServer((s) => accepted.push(StreamClient.wrap(s)));
      await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
      try {
        const sentBy = `127.0.0.1:${(listener.address() as net.AddressInfo).port}`;
        const c = await StreamClient.connect(app.port('tcp'));
        const ok = `before-${uniq()}`;
        c.send(sipRequest({ callId: ok, transport: 'TCP', sentBy }) + 'GARBAGE / HTTP/1.1\r\nHost: x\r\n\r\n');
        expect(await waitFor(() => c, 'closed')).toBe(true);
        await waitUntil(() => accepted.length > 0, 3000, 'the answer on a new connection');
        expect((await accepted[0]!.response(ok)).status).toBe(200);
        expect(handled).toContain(ok);
      } finally {
        for (const a of accepted) a.close();
        await new Promise<void>((r) => listener.close(() => r()));
      }
    });
  });

  async function waitFor(get: () => StreamClient, what: 'closed'): Promise<boolean> {
    await waitUntil(() => get()[what], 3000, `the connection to be ${what}`);
    return get()[what];
  }
});
