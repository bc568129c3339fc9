// Three baresip softphones (issue 13 §4): alice and bob (twice: two phones) register with passwords
// to the example, alice calls bob through it, both of bob's phones ring, the first answers
// (auto-answer) and the other is cancelled, RTP flows both ways (each phone's end-of-call summary
// counts packets received), and the call ends from one side. Twice: proxied (the default: bob over
// TCP, alice over UDP, record-routed; hold and resume, bob hangs up) and bridged (SIP_CALLS=bridge,
// B2bua: two dialogs in the service; alice hangs up).
// Headless: temporary configs, a 440 Hz tone as each microphone, stopped by their pids.
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SipDialog, SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { waitUntil } from '../helpers/wait.js';
import { RECEIVED_RTP, startPhone, stopPhone, type Phone } from '../helpers/baresip.js';

const baresip = peerTool('baresip');

describe('two baresip phones call each other through the example', () => {
  it('baresip is installed (required in CI)', () => {
    if (inCI()) expect(baresip.available, 'baresip must be installed in CI').toBe(true);
  });

  let app: INestApplicationContext | undefined;
  let server: SipServer;
  let dir: string;
  let alice: Phone | undefined;
  let bob: Phone | undefined;
  let bob2: Phone | undefined;
  const dialogs: SipDialog[] = [];

  const start = async (env: Record<string, string>) => {
    dir = mkdtempSync(join(tmpdir(), 'baresip-call-'));
    dialogs.length = 0;
    ({ app, server } = await bootstrap({ HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_USERS: 'alice:secret,bob:hunter2', ...env }));
    server.on('dialog', (d: SipDialog) => dialogs.push(d));
  };

  afterEach(async () => {
    await stopPhone(alice);
    await stopPhone(bob);
    await stopPhone(bob2);
    await app?.close();
    app = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const show = () => `--- alice ---\n${alice!.out().slice(-2500)}\n--- bob ---\n${bob!.out().slice(-2500)}\n--- bob2 ---\n${bob2!.out().slice(-2500)}`;

  it.skipIf(!baresip.available)('proxied (default): alice on UDP calls bob on TCP; ringing, answer, RTP both ways, hold and resume, bob hangs up', async () => {
    await start({ SIP_TCP_PORT: '0' });
    const udp = server.addresses.find((a) => a.proto === 'udp')!.port;
    const tcp = server.addresses.find((a) => a.proto === 'tcp')!.port;
    bob = startPhone(join(dir, 'bob'), [`<sip:bob@127.0.0.1:${tcp};transport=tcp>;auth_pass=hunter2;answermode=auto`]);
    bob2 = startPhone(join(dir, 'bob2'), [`<sip:bob@127.0.0.1:${udp}>;auth_pass=hunter2`]);
    alice = startPhone(join(dir, 'alice'), [`<sip:alice@127.0.0.1:${udp}>;auth_pass=secret`]);
    try {
      await waitUntil(() => [bob!, bob2!, alice!].every((p) => /@127\.0\.0\.1: .*200 OK/.test(p.out())), 15000, 'all three registered');
      alice.say(`/dial sip:bob@127.0.0.1:${udp}`);
      await waitUntil(() => /Call established/i.test(alice!.out()) && /Call established/i.test(bob!.out()), 10000, 'the call established on both phones');
      await waitUntil(() => /Incoming call[\s\S]*session closed/.test(bob2!.out()), 5000, "bob's second phone rang, then was cancelled");
      // Proxied: the phones' own dialog, none in the service.
      expect(dialogs).toHaveLength(0);
      await new Promise((r) => setTimeout(r, 1000)); // media for a while
      const before = bob.out().length;
      alice.say('/hold');
      await waitUntil(() => /got re-INVITE/i.test(bob!.out().slice(before)), 5000, 'bob got the hold re-INVITE (routed through the service)');
      const held = bob.out().length;
      alice.say('/resume');
      await waitUntil(() => /got re-INVITE/i.test(bob!.out().slice(held)), 5000, 'bob got the resume re-INVITE');
      await new Promise((r) => setTimeout(r, 500));
      bob.say('/hangup');
      await waitUntil(() => /terminated|closed/i.test(alice!.out().slice(alice!.out().lastIndexOf('Call established'))), 5000, "alice's call ended by bob's BYE");
      await waitUntil(() => RECEIVED_RTP.test(alice!.out()), 3000, "alice's RTP summary");
      await waitUntil(() => RECEIVED_RTP.test(bob!.out()), 3000, "bob's RTP summary");
      if (process.env.SHOW_PHONES) console.log(show());
    } catch (err) {
      console.error(show());
      throw err;
    }
  }, 45_000);

  it.skipIf(!baresip.available)('bridged (SIP_CALLS=bridge): ringing, answer, RTP both ways, and alice hangs up', async () => {
    await start({ SIP_TCP_PORT: 'off', SIP_CALLS: 'bridge' });
    const port = server.addresses[0]!.port;
    bob = startPhone(join(dir, 'bob'), [`<sip:bob@127.0.0.1:${port}>;auth_pass=hunter2;answermode=auto`]);
    // bob's second phone: it rings (no auto-answer) and is cancelled when the first one answers.
    bob2 = startPhone(join(dir, 'bob2'), [`<sip:bob@127.0.0.1:${port}>;auth_pass=hunter2`]);
    alice = startPhone(join(dir, 'alice'), [`<sip:alice@127.0.0.1:${port}>;auth_pass=secret`]);
    try {
      await waitUntil(() => [bob!, bob2!, alice!].every((p) => /@127\.0\.0\.1: .*200 OK/.test(p.out())), 15000, 'all three registered');
      alice.say(`/dial sip:bob@127.0.0.1:${port}`);
      await waitUntil(() => /Call established/i.test(alice!.out()) && /Call established/i.test(bob!.out()), 10000, 'the call established on both phones');
      // Two dialogs in the service: alice's (incoming) and the one to bob, with their own Call-IDs.
      await waitUntil(() => dialogs.filter((d) => d.state === 'confirmed').length === 2, 3000, 'both legs confirmed');
      // libre reports the CANCEL of a ringing call as "session closed: Connection reset by peer".
      await waitUntil(() => /Incoming call[\s\S]*session closed/.test(bob2!.out()), 5000, "bob's second phone rang, then was cancelled");
      await new Promise((r) => setTimeout(r, 1500)); // media for a while
      alice.say('/hangup');
      await waitUntil(() => dialogs.every((d) => d.state === 'terminated'), 5000, 'both legs ended');
      await waitUntil(() => RECEIVED_RTP.test(alice!.out()), 3000, "alice's RTP summary");
      await waitUntil(() => RECEIVED_RTP.test(bob!.out()), 3000, "bob's RTP summary (his call ended by the service's BYE)");
      if (process.env.SHOW_PHONES) console.log(show());
      const [a, b] = dialogs;
      expect(a!.callId).not.toBe(b!.callId);
    } catch (err) {
      console.error(show());
      throw err;
    }
  }, 45_000);
});
