// npm run soak: the example service (`npm start`'s) under steady sipp load, watching for leaks.
//
// Runs the built example (dist-example/, built first) on random loopback ports and drives it with
// sipp: OPTIONS over UDP and over TCP at a fixed rate, for SOAK_SECONDS. Samples the server's RSS
// every 5 s. Fails (exit 1) on any failed sipp call, a server that dies, or RSS still growing at the
// end: the last third of the samples must not rise above the middle third's peak by more than
// SOAK_RSS_SLACK_MB (Timer J keeps 64*T1 = 32 s of UDP transactions, so RSS plateaus after ~40 s).
//
//   SOAK_SECONDS=120       duration (bounded: at most 3600)
//   SOAK_RATE=1000         calls per second per transport (sipp -r)
//   SOAK_RSS_SLACK_MB=40   allowed growth in the last third
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const seconds = Math.min(Number(process.env.SOAK_SECONDS ?? 120), 3600);
const rate = Number(process.env.SOAK_RATE ?? 1000);
const slackMb = Number(process.env.SOAK_RSS_SLACK_MB ?? 40);
const port = () => 20000 + Math.floor(Math.random() * 40000);

execFileSync('npm', ['run', 'build:example'], { cwd: root, stdio: 'inherit' });
const udpPort = port();
const tcpPort = port();
const server = spawn(process.execPath, ['dist-example/main.js'], {
  cwd: root,
  env: { ...process.env, SIP_HOST: '127.0.0.1', SIP_UDP_PORT: String(udpPort), SIP_TCP_PORT: String(tcpPort), NO_COLOR: '1' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
// The example logs one line per transaction: keep stdout ignored so logging is not what we measure.
await new Promise((r) => setTimeout(r, 2000));
if (server.exitCode !== null) throw new Error('the example did not start');

const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) / 1024;
const sipp = (transport, target) =>
  new Promise((resolve) => {
    const calls = rate * seconds;
    const child = spawn(
      'sipp',
      [target, '-sf', 'bench/scenarios/options-uac.xml', '-t', transport, '-i', '127.0.0.1', '-p', String(port()), '-r', String(rate), '-m', String(calls), '-l', '500', '-nostdin', '-timeout', String(seconds + 60), '-timeout_error', '-max_socket', '2000', '-skip_rlimit'],
      { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const last = (label) => Number(out.slice(out.lastIndexOf(label)).split('\n')[0].split('|').at(-1)) || 0;
      resolve({ transport, code, ok: last('Successful call'), failed: last('Failed call') });
    });
  });

const samples = [];
const sampler = setInterval(() => samples.push(rssMb()), 5000);
const started = Date.now();
const results = await Promise.all([sipp('u1', `127.0.0.1:${udpPort}`), sipp('t1', `127.0.0.1:${tcpPort}`)]);
clearInterval(sampler);
const alive = server.exitCode === null;
server.kill('SIGTERM');

const third = Math.floor(samples.length / 3);
const middlePeak = Math.max(...samples.slice(third, 2 * third));
const endPeak = Math.max(...samples.slice(2 * third));
console.log(`\nsoak: ${((Date.now() - started) / 1000).toFixed(0)} s at ${rate} calls/s per transport`);
for (const r of results) console.log(`  ${r.transport === 'u1' ? 'UDP' : 'TCP'}: ${r.ok} successful, ${r.failed} failed, sipp exit ${r.code}`);
console.log(`  server RSS (MiB, every 5 s): ${samples.map((s) => s.toFixed(0)).join(' ')}`);
console.log(`  RSS middle-third peak ${middlePeak.toFixed(0)} MiB, last-third peak ${endPeak.toFixed(0)} MiB (slack ${slackMb})`);
const failed = !alive || results.some((r) => r.failed > 0 || r.code !== 0) || endPeak > middlePeak + slackMb;
console.log(failed ? 'SOAK FAILED' : 'soak passed');
process.exit(failed ? 1 : 0);
