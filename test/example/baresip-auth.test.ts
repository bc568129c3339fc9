// baresip (a real softphone) registers with a password to the example run with SIP_USERS
// (issue 12), over UDP and over TLS, and keeps its bindings refreshed (3 s registrations, digest
// nonce reused with a growing nc); an account with a wrong password is refused, and when its
// retries get the host blocked, alice (proven from that host) still refreshes. Headless: a
// temporary config and accounts file, stopped by its pid.
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestAuthenticator, type SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { waitUntil } from '../helpers/wait.js';
import { startPhone, stopPhone, type Phone } from '../helpers/baresip.js';
import { makeTestPki } from '../transport/tls-certs.js';

const baresip = peerTool('baresip');

describe('baresip registers with a password', () => {
  it('baresip is installed (required in CI)', () => {
    if (inCI()) expect(baresip.available, 'baresip must be installed in CI (apt-get install baresip)').toBe(true);
  });

  let app: INestApplicationContext | undefined;
  let server: SipServer;
  let dir: string;
  let phone: Phone | undefined;

  beforeAll(async () => {
    if (!baresip.available) return;
    dir = mkdtempSync(join(tmpdir(), 'baresip-auth-'));
    const pki = makeTestPki();
    writeFileSync(join(dir, 'cert.pem'), pki.a.cert);
    writeFileSync(join(dir, 'key.pem'), pki.a.key);
    writeFileSync(join(dir, 'ca.pem'), pki.ca);
    ({ app, server } = await bootstrap({ HTTP_PORT: 'off',
      SIP_HOST: '127.0.0.1',
      SIP_UDP_PORT: '0',
      SIP_TCP_PORT: 'off',
      SIP_TLS_PORT: '0',
      SIP_TLS_CERT: join(dir, 'cert.pem'),
      SIP_TLS_KEY: join(dir, 'key.pem'),
      SIP_USERS: 'alice:secret,bob:hunter2',
      SIP_MIN_EXPIRES: '2',
    }));
  });

  afterAll(async () => {
    if (phone !== undefined && phone.child.exitCode === null) phone.child.kill('SIGKILL');
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!baresip.available)('over UDP and TLS, refreshed every 3 s; a wrong password is refused', async () => {
    const udp = server.addresses.find((a) => a.proto === 'udp')!.port;
    const tls = server.addresses.find((a) => a.proto === 'tls')!.port;
    const auth = app!.get(DigestAuthenticator, { strict: false });
    phone = startPhone(
      dir,
      [
        `<sip:alice@127.0.0.1:${udp}>;auth_pass=secret;regint=3`,
        `<sip:alice@127.0.0.1:${tls};transport=tls>;auth_pass=secret;regint=3`,
        `<sip:bob@127.0.0.1:${udp}>;auth_pass=wrong;regint=3`,
      ],
      { media: false, cafile: join(dir, 'ca.pem') },
    );
    const out = (): string => phone!.out();
    try {
      await waitUntil(() => /alice@127\.0\.0\.1: \{0\/UDP\/v4\} 200 OK/.test(out()) && /alice@127\.0\.0\.1: \{0\/TLS\/v4\} 200 OK/.test(out()), 8000, 'both registrations');
      const first = auth.stats.authenticated;
      // Two refreshes of each binding, each one authenticated.
      await waitUntil(() => auth.stats.authenticated - first >= 4, 9000, 'refreshes');
      await waitUntil(() => /sip:bob@127\.0\.0\.1:\d+: (401|403) /.test(out()), 3000, "bob's refusal");
      expect(out()).not.toMatch(/bob@127\.0\.0\.1: \{0\/UDP\/v4\} 200 OK/);
      // bob's stale password gets this host blocked; alice, proven from here, keeps refreshing.
      const afterBlock = auth.stats.authenticated;
      await waitUntil(() => auth.stats.authenticated - afterBlock >= 2, 8000, "alice's refreshes while the host is blocked for others");
    } catch (err) {
      console.error(`--- baresip output ---\n${out().slice(-3000)}`);
      throw err;
    } finally {
      await stopPhone(phone, 'term');
    }
  }, 30_000);
});
