import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCENARIOS = fileURLToPath(new URL('../sipp/', import.meta.url));

export interface SippOptions {
  /** Scenario XML file name under test/sipp/, or an embedded one with `sn:` prefix (e.g. 'sn:uac'). */
  scenario: string;
  /** host:port to send to (UAC); omit for a UAS. */
  target?: string;
  /** sipp transport mode: u1 (UDP), t1 (one TCP connection), tn (one TCP connection per call), l1/ln (TLS). */
  transport?: 'u1' | 'un' | 't1' | 'tn' | 'l1' | 'ln';
  /** Local address (default 127.0.0.1; use ::1 for IPv6). */
  local?: string;
  /** Local port; default a random high port (sipp's own default is 5060). */
  port?: number;
  /** Number of calls before sipp exits (-m). */
  calls?: number;
  /** Call rate per second (-r) and concurrent call limit (-l). */
  rate?: number;
  limit?: number;
  /** Global timeout in seconds: sipp fails if reached (default 20). */
  timeout?: number;
  /** Extra -key/-set variables. */
  keys?: Record<string, string | number>;
  args?: string[];
}

export interface SippResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Contents of the -trace_err log, if any (what sipp found unexpected). */
  errors: string;
  /** Parsed from the final statistics: successful and failed calls. */
  successful: number;
  failed: number;
}

/** Running sipp processes, killed by `killAllSipp()` (call it in afterAll/afterEach). */
const running = new Set<ChildProcess>();

export function sippArgs(o: SippOptions, dir: string): string[] {
  const args: string[] = [];
  if (o.scenario.startsWith('sn:')) args.push('-sn', o.scenario.slice(3));
  else args.push('-sf', join(SCENARIOS, o.scenario));
  if (o.target) args.push(o.target);
  args.push('-i', o.local ?? '127.0.0.1', '-t', o.transport ?? 'u1', '-nostdin', '-trace_err', '-error_file', join(dir, 'errors.log'));
  args.push('-timeout', String(o.timeout ?? 20), '-timeout_error', '-max_socket', '4096', '-skip_rlimit');
  // sipp binds 5060 when it is free unless told otherwise: never let a test take it.
  args.push('-p', String(o.port ?? 20000 + Math.floor(Math.random() * 40000)));
  if (o.calls !== undefined) args.push('-m', String(o.calls));
  if (o.rate !== undefined) args.push('-r', String(o.rate));
  if (o.limit !== undefined) args.push('-l', String(o.limit));
  for (const [k, v] of Object.entries(o.keys ?? {})) args.push('-key', k, String(v));
  args.push('-stf', join(dir, 'stats.csv'), ...(o.args ?? []));
  return args;
}

/**
 * Run sipp to completion. Its local port is random (never 5060): when another test holds it
 * (sipp: "Unable to bind main socket"), it runs again on another, up to three times.
 */
export async function runSipp(o: SippOptions): Promise<SippResult> {
  for (let attempt = 0; ; attempt++) {
    const r = await startSipp(o).done;
    if (o.port !== undefined || attempt >= 2 || !/Unable to bind main socket/.test(r.stdout + r.stderr + r.errors)) return r;
  }
}

/** Start sipp (e.g. a UAS that must outlive one test step); `done` settles when it exits. */
export function startSipp(o: SippOptions): { child: ChildProcess; done: Promise<SippResult> } {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const child = spawn('sipp', sippArgs(o, dir), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<SippResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      running.delete(child);
      let errors = '';
      try {
        for (const f of readdirSync(dir)) if (f.includes('errors')) errors += readFileSync(join(dir, f), 'utf8');
      } catch {
        /* none written */
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stdout, stderr, errors, ...callCounts(stdout) });
    });
  });
  return { child, done };
}

export function killAllSipp(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
}

function callCounts(out: string): { successful: number; failed: number } {
  // sipp's final screen: "Successful call | 0 | 10" (periodic | cumulative).
  const num = (label: string): number => {
    const i = out.lastIndexOf(label);
    if (i === -1) return 0;
    const line = out.slice(i, out.indexOf('\n', i));
    const cells = line.split('|').map((s) => s.trim());
    return Number(cells[cells.length - 1]) || 0;
  };
  return { successful: num('Successful call'), failed: num('Failed call') };
}
