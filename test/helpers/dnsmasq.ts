// A real DNS server for the RFC 3263 tests: dnsmasq (Debian dnsmasq-base) on a free loopback port,
// answering only from its command line (NAPTR, SRV, A/AAAA records), logging every query to a file.
import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { promises as dns } from 'node:dns';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerTool } from './peers.js';
import { sleep } from './wait.js';

export interface DnsRecords {
  /** `--srv-host=_sip._udp.example.test,target,port,priority,weight` values, without the flag. */
  srv?: string[];
  /** `--naptr-record=name,order,preference,flags,service,regexp,replacement` values. */
  naptr?: string[];
  /** `--host-record=name,address[,ttl]` values. */
  hosts?: string[];
  /** Domains answered only from these records (NXDOMAIN / no data otherwise, never REFUSED). */
  local?: string[];
  /** TTL of the records that give none (dnsmasq's --local-ttl). Default 300. */
  ttl?: number;
}

export interface Dnsmasq {
  /** `127.0.0.1:port`, for `dnsServers` / Resolver.setServers. */
  server: string;
  port: number;
  /** The queries logged so far, as `TYPE name` (e.g. `SRV _sip._udp.example.test`). */
  queries(): string[];
  stop(): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res, rej) => s.bind(0, '127.0.0.1', res).once('error', rej));
  const port = s.address().port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

/** Start dnsmasq with `records`; resolved once it answers. Stop it with `stop()` (by its pid). */
export async function startDnsmasq(records: DnsRecords): Promise<Dnsmasq> {
  const tool = peerTool('dnsmasq');
  for (let attempt = 0; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'dnsmasq-'));
    const log = join(dir, 'queries.log');
    const port = await freeUdpPort();
    const args = [
      '--no-daemon',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--conf-file=/dev/null',
      '--pid-file=',
      `--local-ttl=${records.ttl ?? 300}`,
      '--log-queries',
      `--log-facility=${log}`,
      ...(records.local ?? []).map((d) => `--local=/${d}/`),
      ...(records.srv ?? []).map((r) => `--srv-host=${r}`),
      ...(records.naptr ?? []).map((r) => `--naptr-record=${r}`),
      ...(records.hosts ?? []).map((r) => `--host-record=${r}`),
    ];
    const child: ChildProcess = spawn(tool.command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let exited = false;
    child.once('exit', () => (exited = true));
    const server = `127.0.0.1:${port}`;
    const stop = async (): Promise<void> => {
      if (!exited && child.pid !== undefined) {
        const gone = new Promise<void>((res) => child.once('exit', () => res()));
        process.kill(child.pid, 'SIGTERM');
        await Promise.race([gone, sleep(3000)]);
        if (!exited) process.kill(child.pid, 'SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    };
    // Ready when it answers a query (the probe is left out of queries()).
    const probe = new dns.Resolver({ timeout: 200, tries: 1 });
    probe.setServers([server]);
    let ready = false;
    for (let i = 0; i < 50 && !exited && !ready; i++) {
      ready = await probe.resolveTxt('ready.probe.invalid').then(
        () => true,
        (err: { code?: string }) => err.code !== 'ETIMEOUT' && err.code !== 'ECONNREFUSED',
      );
      if (!ready) await sleep(50);
    }
    if (ready && !exited) {
      return {
        server,
        port,
        queries: () => {
          if (!existsSync(log)) return [];
          const out: string[] = [];
          for (const m of readFileSync(log, 'utf8').matchAll(/query\[(\w+)\] (\S+) from/g)) if (m[2] !== 'ready.probe.invalid') out.push(`${m[1]} ${m[2]}`);
          return out;
        },
        stop,
      };
    }
    await stop();
    if (attempt >= 2) throw new Error(`dnsmasq did not start on ${server}: ${stderr.slice(-500)}`);
  }
}
