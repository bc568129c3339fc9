// LOG_FORMAT=json (issue 18 §3): every line `npm start` prints is one JSON object, and each SIP
// transaction gets one (method, sender, Call-ID, CSeq, status, time), including what no handler
// answered (405) — the library's transaction log, not an interceptor.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/wait.js';

const main = fileURLToPath(new URL('../../dist-example/main.js', import.meta.url));

describe('npm start with LOG_FORMAT=json', () => {
  it('prints JSON lines only, one per transaction', async () => {
    expect(existsSync(main), 'run `npm run build:example` first').toBe(true);
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, LOG_FORMAT: 'json', HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const sock = createSocket('udp4');
    try {
      await waitUntil(() => /SIP listening on UDP 127\.0\.0\.1:\d+/.test(out) && out.includes('successfully started'), 15_000, `the example to start:\n${out}`);
      const port = Number(/SIP listening on UDP 127\.0\.0\.1:(\d+)/.exec(out)![1]);
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
      const local = sock.address().port;
      const request = (method: string, n: number) =>
        `${method} sip:ping@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-json-${n};rport\r\nFrom: <sip:t@127.0.0.1>;tag=t${n}\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: json-log-${n}\r\nCSeq: ${n} ${method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
      sock.send(request('OPTIONS', 1), port, '127.0.0.1');
      sock.send(request('SUBSCRIBE', 2), port, '127.0.0.1');
      await waitUntil(() => out.includes('json-log-1') && out.includes('json-log-2'), 5000, `two transaction lines:\n${out}`);
      const lines = out.split('\n').filter((l) => l.trim() !== '');
      const parsed = lines.map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          throw new Error(`not a JSON line: ${l}`);
        }
      });
      const txns = parsed.map((p) => p.message as Record<string, unknown>).filter((m) => typeof m === 'object' && m !== null && m.msg === 'transaction');
      expect(txns.find((t) => t.callId === 'json-log-1')).toMatchObject({ method: 'OPTIONS', status: 200, cseq: 1, from: `udp:127.0.0.1:${local}` });
      expect(txns.find((t) => t.callId === 'json-log-2')).toMatchObject({ method: 'SUBSCRIBE', status: 405, cseq: 2 });
    } finally {
      sock.close();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
