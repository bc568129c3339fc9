// sipp over TLS: Debian's sipp has no OpenSSL, so tests speak TCP to a bridge that opens a real,
// CA-verified TLS connection to the server's TLS leg (the server sees TLS; sipp sees TCP).
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as tls from 'node:tls';

/** Does this sipp speak TLS itself? */
export function sippHasTls(): boolean {
  const r = spawnSync('sipp', ['-sn', 'uac', '127.0.0.1:9', '-t', 'l1', '-m', '1', '-nostdin', '-timeout', '1'], { encoding: 'utf8', timeout: 5000 });
  return !/compile SIPp with OpenSSL/i.test(`${r.stdout}${r.stderr}`);
}

/** TCP in, TLS out: each accepted connection is piped to a TLS connection to the server's TLS leg. */
export async function tlsBridge(tlsPort: number, ca: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((plain) => {
    const secure = tls.connect({ host: '127.0.0.1', port: tlsPort, ca });
    sockets.add(plain);
    sockets.add(secure);
    plain.pipe(secure);
    secure.pipe(plain);
    const end = (): void => {
      plain.destroy();
      secure.destroy();
    };
    plain.on('error', end).on('close', end);
    secure.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

