// Three baresip softphones (issue 13 §4, with the B2bua): alice and bob (twice: two phones) register
// with passwords to the example, alice calls bob through it, both of bob's phones ring, the first
// answers (auto-answer) and the other is cancelled, RTP flows both ways (each phone's end-of-call
// summary counts packets received), and alice's hang-up ends bob's call.
// Headless: temporary configs, a 440 Hz tone as each microphone, stopped by their pids.
import 'reflect-metadata';
import type { INestMicroservice } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  let app: INestMicroservice | undefined;
  let server: SipServer;
  let dir: string;
  let alice: Phone | undefined;
  let bob: Phone | undefined;
  let bob2: Phone | undefined;
  const dialogs: SipDialog[] = [];

  beforeAll(async () => {
    if (!baresip.available) return;
    dir = mkdtempSync(join(tmpdir(), 'baresip-call-'));
    ({ app, server } = await bootstrap({ SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_USERS: 'alice:secret,bob:hunter2' }));
    server.on('dialog', (d: SipDialog) => dialogs.push(d));
  });

  afterAll(async () => {
    await stopPhone(alice);
    await stopPhone(bob);
    await stopPhone(bob2);
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!baresip.available)('ringing, answer, RTP both ways, and alice hangs up', async () => {
    const port = server.addresses[0]!.port;
    bob = startPhone(join(dir, 'bob'), [`<sip:bob@127.0.0.1:${port}>;auth_pass=hunter2;answermode=auto`]);
    // bob's second phone: it rings (no auto-answer) and is cancelled when the first one answers.
    bob2 = startPhone(join(dir, 'bob2'), [`<sip:bob@127.0.0.1:${port}>;auth_pass=hunter2`]);
    alice = startPhone(join(dir, 'alice'), [`<sip:alice@127.0.0.1:${port}>;auth_pass=secret`]);
    try {
      await waitUntil(() => [bob!, bob2!, alice!].every((p) => /@127\.0\.0\.1: .*200 OK/.test(p.out())), 8000, 'all three registered');
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
      if (process.env.SHOW_PHONES) console.log(`--- alice ---\n${alice.out().slice(-1800)}\n--- bob ---\n${bob.out().slice(-1800)}\n--- bob2 ---\n${bob2.out().slice(-1500)}`);
      const [a, b] = dialogs;
      expect(a!.callId).not.toBe(b!.callId);
    } catch (err) {
      console.error(`--- alice ---\n${alice.out().slice(-2500)}\n--- bob ---\n${bob.out().slice(-2500)}\n--- bob2 ---\n${bob2.out().slice(-2500)}`);
      throw err;
    }
  }, 45_000);
});
