// SipClient against our own SipServer: in the same process (sources), and in another process
// (test/client/fixtures/sip-server.mjs on the built package), over UDP, TCP and TLS.
import 'reflect-metadata';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { lastValueFrom, Observable, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResponse, SipClient, SipClientClosedError, SipException, SipResponseError, SipServer, type SipContext, type SipRequest, type SipResponse } from 'nestjs-sip';
import { makeTestPki, type TestPki } from '../transport/tls-certs.js';
import { rawStreamPeer, rawUdpPeer, waitUntil } from './support.js';

type T = 'udp' | 'tcp' | 'tls';
const TRANSPORTS: T[] = ['udp', 'tcp', 'tls'];
type Ev = { event: 'cancel' | 'ack'; callId: string };

const pki: TestPki = makeTestPki();

/** What the shared checks need of a running server. */
interface Target {
  port(t: T): number;
  events: Ev[];
}

/** The same checks against any running server with the handlers of fixtures/sip-server.mjs. */
function checks(target: () => Target): void {
  let client: SipClient;
  beforeAll(() => {
    client = new SipClient({ localHost: '127.0.0.1', tls: { ca: pki.ca }, timers: { T1: 100 } });
  });
  afterAll(async () => {
    await client.close();
  });
  const uri = (user: string, t: T): string =>
    t === 'tls' ? `sips:${user}@127.0.0.1:${target().port(t)}` : `sip:${user}@127.0.0.1:${target().port(t)};transport=${t}`;

  for (const t of TRANSPORTS) {
    it(`OPTIONS over ${t.toUpperCase()} is answered 200`, async () => {
      const res = await lastValueFrom(client.send<SipResponse>('OPTIONS', { uri: uri('svc', t) }));
      expect(res.status).toBe(200);
    });

    it(`INVITE over ${t.toUpperCase()}: 200 with SDP, and the server gets our ACK`, async () => {
      const all = await lastValueFrom(client.send<SipResponse>('INVITE', { uri: uri('bob', t) }).pipe(toArray()));
      const final = all.at(-1)!;
      expect(final.status).toBe(200);
      expect(final.body.toString()).toBe('v=0\r\n');
      expect(all.slice(0, -1).every((r) => r.status < 200)).toBe(true);
      await waitUntil(() => target().events.some((e) => e.event === 'ack' && e.callId === final.callId), 3000, 'the ACK at the server');
    });

    it(`INVITE over ${t.toUpperCase()} answered 486: SipResponseError`, async () => {
      const err = await lastValueFrom(client.send('INVITE', { uri: uri('busy', t) })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SipResponseError);
      expect((err as SipResponseError).status).toBe(486);
    });

    it(`INVITE over ${t.toUpperCase()}: unsubscribe after the 180 cancels it at the server`, async () => {
      const callId = await new Promise<string>((resolve, reject) => {
        const sub = client.send<SipResponse>('INVITE', { uri: uri('ring', t) }).subscribe({
          next: (r) => {
            if (r.status !== 180) return;
            queueMicrotask(() => sub.unsubscribe());
            resolve(r.callId);
          },
          error: reject,
        });
      });
      await waitUntil(() => target().events.some((e) => e.event === 'cancel' && e.callId === callId), 3000, 'the CANCEL at the server');
    });
  }
}

@Controller()
class Handlers {
  static events: Ev[] = [];
  @MessagePattern('OPTIONS')
  options() {
    return 200;
  }
  @MessagePattern('INVITE')
  invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    const user = req.requestUri.user;
    if (user === 'busy') throw new SipException(486);
    if (user === 'ring') {
      ctx.onCancel(() => Handlers.events.push({ event: 'cancel', callId: req.callId }));
      return new Observable<number>((sub) => sub.next(180));
    }
    return { status: 200, body: 'v=0\r\n', contentType: 'application/sdp' };
  }
  @EventPattern('ACK')
  ack(@Payload() req: SipRequest) {
    Handlers.events.push({ event: 'ack', callId: req.callId });
  }
}
@Module({ controllers: [Handlers] })
class AppModule {}

describe('SipClient against our own SipServer (same process)', () => {
  let app: INestMicroservice;
  let server: SipServer;
  beforeAll(async () => {
    server = new SipServer({
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
        { transport: 'tls', host: '127.0.0.1', port: 0, tls: pki.a },
      ],
    });
    app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: false });
    await app.listen();
  });
  afterAll(async () => {
    await app.close();
  });
  checks(() => ({ port: (t) => server.addresses.find((a) => a.proto === t)!.port, events: Handlers.events }));

  describe('a SipClient sending from the server\'s sockets (`server` option)', () => {
    const serverPort = (t: T): number => server.addresses.find((a) => a.proto === t)!.port;

    it('requests leave from the listening ports (UDP and TCP), and Via/Contact name them', async () => {
      const shared = new SipClient({ server });
      const udp = await rawUdpPeer();
      const tcp = await rawStreamPeer();
      try {
        for (const [peer, t] of [[udp, 'udp'], [tcp, 'tcp']] as const) {
          const res = lastValueFrom(shared.send<SipResponse>('REGISTER', { uri: `sip:127.0.0.1:${peer.port};transport=${t}` }));
          const got = await peer.next();
          expect(got.req.topVia!.port).toBe(serverPort(t));
          expect(got.req.headers.get('contact')).toContain(`127.0.0.1:${serverPort(t)}`);
          if (t === 'udp') expect(got.remotePort).toBe(serverPort('udp'));
          got.reply(createResponse(got.req, 200));
          expect((await res).status).toBe(200);
        }
      } finally {
        await shared.close();
        await udp.close();
        await tcp.close();
      }
    });

    it('close() fails what is pending, CANCELs a ringing INVITE, and leaves the server running', async () => {
      const shared = new SipClient({ server });
      const udp = await rawUdpPeer();
      try {
        let rang!: () => void;
        const ringing = new Promise<void>((r) => (rang = r));
        const failed = new Promise<unknown>((resolve) => {
          shared.send<SipResponse>('INVITE', { uri: `sip:bob@127.0.0.1:${udp.port}` }).subscribe({ next: (r) => r.status === 180 && rang(), error: resolve, complete: () => resolve('completed') });
        });
        const inv = await udp.next();
        inv.reply(createResponse(inv.req, 180));
        await ringing; // the transaction is Proceeding: close() can CANCEL it
        await shared.close();
        expect(await failed).toBeInstanceOf(SipClientClosedError);
        const cancel = await udp.next(); // (retransmitted INVITEs are absorbed by the raw peer)
        expect(cancel.req.method).toBe('CANCEL');
        expect(cancel.req.topVia!.branch).toBe(inv.req.topVia!.branch);
        cancel.reply(createResponse(cancel.req, 200));
        inv.reply(createResponse(inv.req, 487, undefined, { toTag: 'x487' }));
        await waitUntil(() => udp.acks.length === 1, 3000, 'the ACK for the 487');
        // The server still answers.
        const other = new SipClient({ localHost: '127.0.0.1' });
        expect((await lastValueFrom(other.send<SipResponse>('OPTIONS', { uri: `sip:127.0.0.1:${serverPort('udp')}` }))).status).toBe(200);
        await other.close();
      } finally {
        await udp.close();
      }
    });
  });
});

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The fixture imports dist/: build it when missing (`npm test` builds first, so it is fresh there;
 * in a work tree it may be older than src/, which only matters for the server side of this test).
 */
function ensureBuilt(): void {
  if (existsSync(join(root, 'dist', 'index.js'))) return;
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe', timeout: 120_000 });
}

describe('SipClient against our own SipServer (another process)', () => {
  let child: ChildProcess;
  let ports: Record<T, number>;
  const events: Ev[] = [];
  beforeAll(async () => {
    ensureBuilt();
    child = spawn(process.execPath, [join(root, 'test/client/fixtures/sip-server.mjs')], {
      cwd: root,
      env: { ...process.env, SIP_TLS: JSON.stringify(pki.a) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const lines = createInterface({ input: child.stdout! });
    ports = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fixture did not start: ${stderr}`)), 20_000);
      child.once('exit', (code) => reject(new Error(`fixture exited ${code}: ${stderr}`)));
      lines.on('line', (line) => {
        const o = JSON.parse(line) as { ports?: Record<T, number> } & Partial<Ev>;
        if (o.ports) {
          clearTimeout(timer);
          resolve(o.ports);
        } else if (o.event) events.push(o as Ev);
      });
    });
  }, 150_000);
  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
  checks(() => ({ port: (t) => ports[t], events }));
});
