import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { peerTool } from './peers.js';
import { sleep } from './wait.js';

/** A redis-server of the test's own on a free loopback port, no persistence; stopped by its pid. */
export interface TestRedis {
  port: number;
  url: string;
  readonly pid: number | undefined;
  /** Kill it (SIGKILL: as a crash looks to the clients) and wait for the exit. */
  kill(): Promise<void>;
  /** Start it again on the same port (empty: nothing was saved). */
  restart(): Promise<void>;
  /** Stop it for good (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Start redis-server on `at` or on a free port (retried on another if one was taken meanwhile). */
export async function startRedis(at?: number): Promise<TestRedis> {
  const cmd = peerTool('redis-server').command;
  for (let attempt = 0; ; attempt++) {
    const port = at ?? (await freePort());
    try {
      let child = await launch(cmd, port);
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        get pid() {
          return child.pid;
        },
        kill: () => end(child, 'SIGKILL'),
        restart: async () => {
          await end(child, 'SIGKILL');
          child = await launch(cmd, port);
        },
        stop: () => end(child, 'SIGTERM'),
      };
    } catch (err) {
      if (attempt >= 2 || at !== undefined) throw err;
    }
  }
}

/** Kill every redis-server these helpers started (afterAll safety net). */
export function killAllRedis(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
}

async function launch(cmd: string, port: number): Promise<ChildProcess> {
  const child = spawn(cmd, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await ping(port)) return child;
    await sleep(50);
  }
  child.kill('SIGKILL');
  await exited;
  throw new Error(`redis-server on port ${port} did not start: ${out.slice(-500)}`);
}

async function end(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
