// The deployment kit (deploy/) run as an operator runs it, on one machine: deploy/run-instances.mjs
// starts N example instances (dist-example/main.js) on a block of free ports and writes their
// dispatcher.list; Kamailio runs deploy/kamailio/kamailio.cfg as shipped, with #!define lines put
// before it for the test's port, list file, short probe interval and timers, and a control socket
// (kamcmd) in a temp dir. Everything is stopped by pid (the runner's process group, Kamailio's).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKamailio, type Kamailio } from './kamailio.js';
import { peerTool } from './peers.js';
import { sleep, waitUntil } from './wait.js';

export const RUNNER = fileURLToPath(new URL('../../deploy/run-instances.mjs', import.meta.url));
export const BALANCER_CFG = fileURLToPath(new URL('../../deploy/kamailio/kamailio.cfg', import.meta.url));
const MAIN = fileURLToPath(new URL('../../dist-example/main.js', import.meta.url));

/** Is `port` free for UDP and TCP on 127.0.0.1? Checked by binding it for a moment. */
async function free(port: number): Promise<boolean> {
  const u = dgram.createSocket('udp4');
  const t = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject);
      u.bind(port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve, reject) => {
      t.once('error', reject);
      t.listen(port, '127.0.0.1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      u.close();
    } catch {
      /* not bound */
    }
    t.close();
  }
}

/** `n` consecutive ports, each free for UDP and TCP, away from 5060. */
async function freeBlock(n: number, from = 20000, to = 60000): Promise<number> {
  for (;;) {
    const base = from + Math.floor(Math.random() * (to - from - n));
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = p !== 5060 && p !== 5061 && (await free(p));
    if (ok) return base;
  }
}

export interface Instance {
  index: number;
  pid: number;
  sipPort: number;
  httpPort: number;
  /** Its RTP port range, first-last. */
  media: [number, number];
}

export interface Instances {
  list: Instance[];
  /** The dispatcher.list the runner wrote. */
  listFile: string;
  dir: string;
  /** The runner's output: its own lines and each instance's, prefixed `[i] `. */
  log(): string;
  /** The transaction-log entries (LOG_FORMAT=json) instance `i` printed. */
  transactions(i: number): { method: string; callId: string; status?: number; from: string }[];
  /** A counter of instance `i`'s /metrics (0 when absent). */
  metric(i: number, line: string): Promise<number>;
  /** SIGTERM the runner (it stops its instances), SIGKILL the group after 5 s; remove the temp dir. */
  stop(): Promise<void>;
}

/** Process groups of every runner still running: killed if the test process exits without stop(). */
const live = new Set<number>();
process.once('exit', () => {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/**
 * deploy/run-instances.mjs with `count` instances on free ports (SIP UDP+TCP and HTTP), each with
 * `mediaSpan` RTP ports; `env` is added to the environment they all get. Resolves once the runner
 * reports every instance ready (it answered an OPTIONS).
 */
export async function startInstances(o: { count: number; env?: Record<string, string>; mediaSpan?: number }): Promise<Instances> {
  const span = o.mediaSpan ?? 20;
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const sipBase = await freeBlock(o.count);
    const httpBase = await freeBlock(o.count);
    const mediaBase = 2 * Math.floor((30000 + Math.random() * 20000) / 2);
    const dir = mkdtempSync(join(tmpdir(), 'deploy-'));
    const listFile = join(dir, 'dispatcher.list');
    const args = [RUNNER, '-n', String(o.count), '--host', '127.0.0.1', '--sip-port', String(sipBase), '--http-port', String(httpBase), '--media-ports', String(mediaBase), '--media-span', String(span), '--dispatcher-list', listFile, '--app', MAIN];
    // Its own process group: stop() reaches the instances even if the runner is gone.
    const child: ChildProcess = spawn(process.execPath, args, {
      // As deploy/README.md says: the balancer (here on 127.0.0.1) is not one caller to rate-limit.
      env: { ...process.env, NO_COLOR: '1', LOG_FORMAT: 'json', SIP_FRONT_PROXIES: '127.0.0.1', ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const pgid = child.pid!;
    live.add(pgid);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    let exited = false;
    const closed = new Promise<void>((resolve) => child.on('close', () => ((exited = true), resolve())));
    const signalGroup = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-pgid, sig);
      } catch {
        /* gone */
      }
    };
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopped ??= (async () => {
        if (!exited) {
          child.kill('SIGTERM');
          await Promise.race([closed, sleep(5000)]);
        }
        signalGroup('SIGKILL');
        live.delete(pgid);
        rmSync(dir, { recursive: true, force: true });
      })());
    try {
      await waitUntil(() => exited || new RegExp(`run-instances: ${o.count} of ${o.count} instances ready`).test(out), 40_000, 'the instances to be ready');
    } catch {
      /* reported below */
    }
    if (!exited && out.includes(`${o.count} of ${o.count} instances ready`)) {
      const list: Instance[] = [];
      for (const m of out.matchAll(/^run-instances: instance (\d+) pid (\d+) sip 127\.0\.0\.1:(\d+) http (\d+) media (\d+)-(\d+)$/gm)) {
        list.push({ index: Number(m[1]), pid: Number(m[2]), sipPort: Number(m[3]), httpPort: Number(m[4]), media: [Number(m[5]), Number(m[6])] });
      }
      const transactions = (i: number) => {
        const prefix = `[${i}] `;
        const entries: { method: string; callId: string; status?: number; from: string }[] = [];
        for (const line of out.split('\n')) {
          if (!line.startsWith(prefix) || !line.includes('"transaction"')) continue;
          const msg = (JSON.parse(line.slice(prefix.length)) as { message?: { msg?: string; method: string; callId: string; status?: number; from: string } }).message;
          if (msg?.msg === 'transaction') entries.push(msg);
        }
        return entries;
      };
      const metric = async (i: number, line: string): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${list[i]!.httpPort}/metrics`)).text();
        const hit = text.split('\n').find((l) => l.startsWith(`${line} `));
        return hit === undefined ? 0 : Number(hit.slice(line.length + 1));
      };
      return { list, listFile, dir, log: () => out, transactions, metric, stop };
    }
    last = out;
    await stop();
    // A port taken between the check and the bind: try another block; anything else is fatal.
    if (!/EADDRINUSE|address already in use/i.test(out)) break;
  }
  throw new Error(`run-instances did not get its instances ready:\n${last.slice(-4000)}`);
}

export interface Balancer extends Kamailio {
  /** `kamcmd dispatcher.list`: each instance's dispatcher flags (AP: active, IP: inactive, both probed; AX before the first probe). */
  states(): Record<string, string>;
}

/**
 * Kamailio with deploy/kamailio/kamailio.cfg as shipped, dispatching to `listFile`; probes every
 * second, an instance is down after one failed probe (or one call it did not answer in 2 s) and
 * back after one good probe.
 */
export async function startBalancer(listFile: string, defines: Record<string, string> = {}): Promise<Balancer> {
  const dir = mkdtempSync(join(dirname(listFile), 'lb-'));
  const ctl = join(dir, 'ctl');
  const shipped = readFileSync(BALANCER_CFG, 'utf8');
  const k = await startKamailio({
    // Its children and shared memory as the kit sets them (CHILDREN, SHM_MB), not the test defaults.
    shipped: true,
    config: (port) => {
      const d: Record<string, string> = {
        LISTEN_UDP: `udp:127.0.0.1:${port}`,
        LISTEN_TCP: `tcp:127.0.0.1:${port}`,
        DS_LIST: JSON.stringify(listFile),
        DS_PING_INTERVAL: '1',
        DS_PROBING_THRESHOLD: '1',
        DS_INACTIVE_THRESHOLD: '1',
        FR_TIMER: '2000',
        CHILDREN: '2',
        SERVER_NAME: '"Server: nestjs-sip-deploy-test"',
        WITH_CTL: '',
        CTL_SOCKET: JSON.stringify(`unixs:${ctl}`),
        ...defines,
      };
      return `#!KAMAILIO\n${Object.entries(d)
        .map(([k, v]) => `#!define ${k} ${v}`.trimEnd())
        .join('\n')}\n${shipped}`;
    },
  });
  const states = (): Record<string, string> => {
    const r = spawnSync(kamcmd(), ['-s', `unixs:${ctl}`, 'dispatcher.list'], { encoding: 'utf8', timeout: 5000 });
    const out: Record<string, string> = {};
    for (const m of r.stdout.matchAll(/URI: (\S+)\s+FLAGS: (\S+)/g)) out[m[1]!] = m[2]!;
    return out;
  };
  const stop = k.stop;
  return Object.assign(k, {
    states,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** kamcmd sits beside kamailio (Debian: /usr/sbin, part of the kamailio package). */
function kamcmd(): string {
  const k = peerTool('kamailio').command;
  return k.includes('/') ? join(dirname(k), 'kamcmd') : 'kamcmd';
}

/**
 * One UDP request to 127.0.0.1:`port` from a socket of its own: `build(localPort, id)` writes it (`id`
 * unique: branch, tag, Call-ID). Its first final answer, whole, or 'no answer' after `timeoutMs`.
 */
async function requestOnce(port: number, build: (local: number, id: string) => string, timeoutMs = 5000): Promise<string> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
    const msg = build(s.address().port, `deploy-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    return await new Promise<string>((resolve) => {
      const t = setTimeout(() => resolve('no answer'), timeoutMs);
      s.on('message', (b) => {
        const text = b.toString('latin1');
        if (/^SIP\/2\.0 [2-6]\d\d /.test(text)) {
          clearTimeout(t);
          resolve(text);
        }
      });
      s.send(msg, port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

/** One UDP request to 127.0.0.1:`port` with `method` (OPTIONS to the balancer, an INVITE...); its first final answer, whole. */
export function askOnce(port: number, method: 'OPTIONS' | 'INVITE', uri: string, timeoutMs = 5000): Promise<string> {
  const sdp = 'v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
  const body = method === 'INVITE' ? sdp : '';
  return requestOnce(
    port,
    (local, id) =>
      `${method} ${uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${id};rport\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:test@127.0.0.1>;tag=${id}\r\nTo: <${uri}>\r\nCall-ID: ${id}\r\nCSeq: 1 ${method}\r\n` +
      `Contact: <sip:test@127.0.0.1:${local}>\r\n${body ? 'Content-Type: application/sdp\r\n' : ''}Content-Length: ${body.length}\r\n\r\n${body}`,
    timeoutMs,
  );
}

/**
 * A REGISTER for `user`@127.0.0.1 to 127.0.0.1:`port` (the balancer, or one instance directly), with
 * `contact` (a function of the sending socket's port, or a value) and `expires` when given (none: a
 * query, RFC 3261 §10.2.3); a new Call-ID each time unless given (the balancer's hash spreads them);
 * the whole final answer, or 'no answer' after 5 s.
 */
export function registerAs(
  port: number,
  user: string,
  o: { contact?: string | ((localPort: number) => string); expires?: number; callId?: string; cseq?: number } = {},
): Promise<string> {
  return requestOnce(
    port,
    (local, id) =>
      `REGISTER sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${id};rport\r\nMax-Forwards: 70\r\n` +
      `From: <sip:${user}@127.0.0.1>;tag=${id}\r\nTo: <sip:${user}@127.0.0.1>\r\nCall-ID: ${o.callId ?? id}\r\nCSeq: ${o.cseq ?? 1} REGISTER\r\n` +
      (o.contact === undefined ? '' : `Contact: ${typeof o.contact === 'function' ? o.contact(local) : o.contact}\r\n`) +
      (o.expires === undefined ? '' : `Expires: ${o.expires}\r\n`) +
      'Content-Length: 0\r\n\r\n',
  );
}

/** The status line of a whole answer. */
export const statusLine = (answer: string): string => answer.slice(0, answer.indexOf('\r\n'));
