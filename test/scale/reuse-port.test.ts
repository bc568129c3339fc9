// Every core of a host (issue 15 §3, issue 18 §4): with `reusePort`, two worker processes of the
// example bind the same UDP and TCP port (SO_REUSEPORT, Node 22.12+); sipp's calls from many source
// ports are spread by the kernel over both, each call staying with one worker (its BYE reaches the
// worker that answered its INVITE). Without reusePort the second worker cannot bind.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { sippOk } from '../client/support.js';
import { waitUntil } from '../helpers/wait.js';

const main = fileURLToPath(new URL('../../dist-example/main.js', import.meta.url));
const sipp = peerTool('sipp');
const children: ChildProcess[] = [];

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Start a worker of the example; resolves with its output so far once it listens (or exited). */
async function worker(port: number, reuse: boolean, media = '20000-20099'): Promise<{ child: ChildProcess; out: () => string; exited: () => boolean }> {
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: String(port), SIP_TCP_PORT: 'off', SIP_REUSE_PORT: reuse ? '1' : '', NO_COLOR: '1', SIP_ECHO_SECONDS: '30', SIP_MEDIA_PORTS: media },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let gone = false;
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  child.once('exit', () => (gone = true));
  await waitUntil(() => gone || out.includes('successfully started'), 15_000, `a worker on ${port}:\n${out}`);
  return { child, out: () => out, exited: () => gone };
}

/**
 * Wait until the workers answer OPTIONS 200 from ten source ports in a row: just started, on a
 * loaded machine, their event loops lag and the overload gate answers 503 (as it should).
 */
async function settled(port: number): Promise<void> {
  let streak = 0;
  for (let i = 0; streak < 10; i++) {
    if (i > 200) throw new Error('the workers never answered 200 ten times in a row');
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const local = s.address().port;
    const status = await new Promise<number>((resolve) => {
      const t = setTimeout(() => resolve(0), 1000);
      s.once('message', (m) => {
        clearTimeout(t);
        resolve(Number(m.toString('latin1').slice(8, 11)));
      });
      s.send(`OPTIONS sip:ping@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-warm-${i};rport\r\nFrom: <sip:w@127.0.0.1>;tag=w${i}\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: warm-${i}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`, port, '127.0.0.1');
    });
    s.close();
    streak = status === 200 ? streak + 1 : 0;
    if (status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
}

afterAll(async () => {
  killAllSipp();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

describe.skipIf(!sipp.available)('N workers on one port (reusePort)', () => {
  it('without reusePort the second worker cannot bind the port', async () => {
    expect(existsSync(main), 'run `npm run build:example` first').toBe(true);
    const port = await freeUdpPort();
    const a = await worker(port, false);
    const b = await worker(port, false);
    await waitUntil(() => b.exited(), 5000, 'the second worker to give up');
    expect(b.out()).toMatch(/EADDRINUSE/);
    a.child.kill('SIGTERM');
  });

  it('two workers share the UDP port: calls from 40 source ports are spread over both, each BYE to its INVITE\'s worker', async () => {
    const port = await freeUdpPort();
    // Each worker its own RTP range: the echo's media ports are not shared.
    const base = 30000 + 200 * Math.floor(Math.random() * 100);
    const a = await worker(port, true, `${base}-${base + 99}`);
    const b = await worker(port, true, `${base + 100}-${base + 199}`);
    expect(a.exited() || b.exited()).toBe(false);
    await settled(port);
    // 40 sipp runs, each a call (INVITE echo, ACK, BYE) from its own random source port.
    // Five at a time: forty sipp processes at once would load the machine into the workers' overload gate.
    const runs = [];
    for (let i = 0; i < 8; i++) {
      runs.push(...(await Promise.all(Array.from({ length: 5 }, () => runSipp({ scenario: 'caller-hangs-up-ringing.xml', target: `127.0.0.1:${port}`, calls: 1, timeout: 15, args: ['-s', 'echo'] })))));
    }
    for (const r of runs) expect(sippOk(r), `${a.out().slice(-1500)}\n---\n${b.out().slice(-1500)}`).toMatchObject({ successful: 1, errors: '' });
    const count = (out: string, what: RegExp) => out.split('\n').filter((l) => what.test(l)).length;
    const invitesA = count(a.out(), /\] INVITE sip:echo@/);
    const invitesB = count(b.out(), /\] INVITE sip:echo@/);
    expect(invitesA + invitesB).toBe(40);
    expect(invitesA).toBeGreaterThan(0);
    expect(invitesB).toBeGreaterThan(0);
    // Affinity: every worker got the BYE of each call it answered.
    expect(count(a.out(), /\] BYE sip:/)).toBe(invitesA);
    expect(count(b.out(), /\] BYE sip:/)).toBe(invitesB);
  }, 60_000);
});
