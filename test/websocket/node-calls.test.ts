// Calls over the example's WebSocket legs (issue 14) from SIP clients nobody here wrote, running in
// Node: SIP.js 0.21 and JsSIP 3.x register with their SIP_USERS passwords (401), call `echo` and each
// other through the example (407 on the INVITE, proxied and record-routed down the callee's own
// WebSocket connection) and hang up, over ws (the HTTP port, /sip) and wss (SIP_WSS_PORT). Node has
// no WebRTC: each client gets plain RTP/AVP media on a real UDP socket (plain-rtp.ts), so the echo
// answers with its plain-RTP reflector and RTP really flows: back from the echo, and caller to callee.
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import JsSIP from 'jssip';
import type { RTCSession } from 'jssip/lib/RTCSession.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { Inviter, Registerer, RegistererState, SessionState, UserAgent, type Invitation, type Session } from 'sip.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { EchoService } from '../../example/echo/echo.service.js';
import { makeTestPki } from '../transport/tls-certs.js';
import { waitUntil } from '../helpers/wait.js';
import { installPlainRtpForJsSip, type PlainRtpMedia, type PlainRtpPeerConnection, plainRtpSdhFactory, type PlainRtpSdh } from './plain-rtp.js';

JsSIP.debug.disable();

/** Node 22.19+ / 24.5+ (newer than the @types/node this package builds against). */
const tlsStore = tls as unknown as { getCACertificates(which: 'default'): string[]; setDefaultCACertificates(certs: string[]): void };
const defaultCas = tlsStore.getCACertificates('default');
const PROTOS = ['ws', 'wss'] as const;
type Proto = (typeof PROTOS)[number];
const users = PROTOS.flatMap((p) => ['alice', 'bob', 'carol'].map((u) => `${u}-${p}:pw-${u}`)).join(',');

let app: INestApplicationContext | undefined;
let server: SipServer;
let echo: EchoService;
let urls: Record<Proto, string>;
let certDir: string;
let uninstall: () => void;
const sipjsUas: UserAgent[] = [];
const jssipUas: JsSIP.UA[] = [];

beforeAll(async () => {
  uninstall = installPlainRtpForJsSip();
  const pki = makeTestPki();
  // Node's WebSocket takes no CA option: the test CA goes into the default store, as a browser's would.
  tlsStore.setDefaultCACertificates([...defaultCas, pki.ca]);
  certDir = mkdtempSync(join(tmpdir(), 'node-calls-'));
  writeFileSync(join(certDir, 'cert.pem'), pki.a.cert);
  writeFileSync(join(certDir, 'key.pem'), pki.a.key);
  // Echo media ports below Linux's ephemeral range (32768+), where the clients' own sockets land.
  const first = 21000 + 2 * Math.floor(Math.random() * 5500);
  const started = await bootstrap({
    HTTP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_USERS: users, SIP_MEDIA_PORTS: `${first}-${first + 9}`,
    SIP_WSS_PORT: '0', SIP_TLS_CERT: join(certDir, 'cert.pem'), SIP_TLS_KEY: join(certDir, 'key.pem'),
  });
  ({ app, server } = started);
  echo = app.get(EchoService);
  const wss = server.addresses.find((a) => a.proto === 'wss')!;
  urls = { ws: `${started.httpUrl!.replace('http', 'ws')}/sip`, wss: `wss://localhost:${wss.port}/sip` };
});

afterAll(async () => {
  for (const ua of sipjsUas) await ua.stop().catch(() => undefined);
  for (const ua of jssipUas) ua.stop();
  await app?.close();
  tlsStore.setDefaultCACertificates(defaultCas);
  uninstall?.();
  if (certDir !== undefined) rmSync(certDir, { recursive: true, force: true });
});

/** A SIP.js phone registered with its password; calls to it are handed to `onInvite`. */
async function sipjsPhone(user: string, proto: Proto, onInvite?: (inv: Invitation) => void, server = urls[proto]): Promise<UserAgent> {
  const ua = new UserAgent({
    uri: UserAgent.makeURI(`sip:${user}@127.0.0.1`),
    authorizationUsername: user,
    authorizationPassword: `pw-${user.split('-')[0]}`,
    transportOptions: { server },
    sessionDescriptionHandlerFactory: plainRtpSdhFactory,
    logLevel: 'error',
    delegate: { onInvite: onInvite ?? ((inv) => void inv.reject()) },
  });
  sipjsUas.push(ua);
  await ua.start();
  const registerer = new Registerer(ua, { expires: 600 });
  const registered = new Promise<void>((resolve) => registerer.stateChange.addListener((s) => s === RegistererState.Registered && resolve()));
  await registerer.register();
  await registered;
  return ua;
}

/** A JsSIP phone registered with its password, and every SIP message it received (to see the BYE's 200). */
async function jssipPhone(user: string, proto: Proto): Promise<{ ua: JsSIP.UA; inbound: string[] }> {
  const socket = new JsSIP.WebSocketInterface(urls[proto]);
  const inbound: string[] = [];
  const tap = socket as unknown as { _onMessage(e: { data: unknown }): void };
  const onMessage = tap._onMessage;
  tap._onMessage = function (e) {
    inbound.push(String(e.data));
    onMessage.call(this, e);
  };
  const ua = new JsSIP.UA({ sockets: [socket], uri: `sip:${user}@127.0.0.1`, password: `pw-${user.split('-')[0]}`, register: true, register_expires: 600, connection_recovery_min_interval: 60 });
  jssipUas.push(ua);
  const registered = new Promise<void>((resolve, reject) => {
    ua.once('registered', () => resolve());
    ua.once('registrationFailed', (e: { cause?: unknown }) => reject(new Error(`registration failed: ${String(e.cause)}`)));
  });
  ua.start();
  await registered;
  return { ua, inbound };
}

/** SIP.js calls `target` and waits until the call is established. */
async function sipjsCall(ua: UserAgent, target: string): Promise<Inviter> {
  const inviter = new Inviter(ua, UserAgent.makeURI(`sip:${target}@127.0.0.1`)!);
  const established = new Promise<void>((resolve, reject) =>
    inviter.stateChange.addListener((s) => {
      if (s === SessionState.Established) resolve();
      if (s === SessionState.Terminated) reject(new Error(`call to ${target} ended before it was answered`));
    }),
  );
  await inviter.invite();
  await established;
  return inviter;
}

/** SIP.js hangs up; the BYE's final status. */
function sipjsBye(session: Session): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    session.bye({ requestDelegate: { onAccept: (r) => resolve(r.message.statusCode ?? 0), onReject: (r) => resolve(r.message.statusCode ?? 0) } }).catch(reject);
  });
}

/** JsSIP calls `target` (no microphone: plain RTP from the stand-in) and waits for the ACK to be sent. */
async function jssipCall(ua: JsSIP.UA, target: string): Promise<RTCSession> {
  return new Promise<RTCSession>((resolve, reject) => {
    const session = ua.call(`sip:${target}@127.0.0.1`, {
      mediaConstraints: { audio: false, video: false },
      eventHandlers: {
        confirmed: () => resolve(session),
        failed: (e: { cause?: unknown }) => reject(new Error(`call to ${target} failed: ${String(e.cause)}`)),
      },
    });
  });
}

const mediaOfJsSip = (s: RTCSession): PlainRtpMedia => (s.connection as unknown as PlainRtpPeerConnection).media;
const mediaOfSipJs = (s: Session): PlainRtpMedia => (s.sessionDescriptionHandler as PlainRtpSdh).media;

/** Sends RTP and waits until `to` has received at least `n` packets. */
async function rtpFlows(from: PlainRtpMedia, to: PlainRtpMedia, n: number, what: string): Promise<void> {
  const before = to.received.length;
  from.sendRtp(n);
  await waitUntil(() => to.received.length >= before + n, 5000, what);
}

/** A BYE's 200 among what JsSIP received. */
const byeAnswered = (inbound: string[]): boolean => inbound.some((m) => /^SIP\/2\.0 200 /.test(m) && /^CSeq: *\d+ BYE\r?$/im.test(m));

describe.each(PROTOS)('over %s', (proto) => {
  const invites: Invitation[] = [];
  const byesSeen: string[] = [];
  /** bob (SIP.js) answers every call and records the BYE that ends it. */
  const answer = (inv: Invitation) => {
    invites.push(inv);
    inv.delegate = {
      onBye: (bye) => {
        byesSeen.push(bye.request.from.uri.user ?? '');
        void bye.accept();
      },
    };
    void inv.accept();
  };
  let alice: UserAgent;

  beforeAll(async () => {
    alice = await sipjsPhone(`alice-${proto}`, proto);
    await sipjsPhone(`bob-${proto}`, proto, answer);
  });

  it('SIP.js calls echo: answered with plain RTP, the RTP comes back, the hang-up BYE is answered 200', async () => {
    const call = await sipjsCall(alice, 'echo');
    const media = mediaOfSipJs(call);
    expect(media.remote?.addr).toBe('127.0.0.1');
    await waitUntil(() => echo.stats.calls === 1, 5000, 'the echo to see the ACK');
    await rtpFlows(media, media, 5, 'RTP reflected by the echo');
    expect(await sipjsBye(call)).toBe(200);
    await waitUntil(() => echo.stats.calls === 0 && echo.stats.portsInUse === 0, 5000, 'the echo call to end and its port to be free');
  });

  it('SIP.js calls SIP.js: the callee answers, RTP flows to the address its answer gave, and sees the caller\'s BYE', async () => {
    const call = await sipjsCall(alice, `bob-${proto}`);
    expect(invites).toHaveLength(1);
    const callee = invites[0]!;
    // Down bob's own WebSocket connection (its Contact is .invalid), the proxy in the path.
    expect(String(callee.request.ruri)).toMatch(/\.invalid/);
    expect(callee.request.getHeaders('record-route').join(',')).toMatch(new RegExp(`transport=${proto === 'wss' ? 'wss' : 'ws'};lr`));
    await rtpFlows(mediaOfSipJs(call), mediaOfSipJs(callee), 3, 'RTP from alice at bob');
    await rtpFlows(mediaOfSipJs(callee), mediaOfSipJs(call), 3, 'RTP from bob at alice');
    expect(await sipjsBye(call)).toBe(200);
    expect(byesSeen).toEqual([`alice-${proto}`]);
    expect(callee.state).toBe(SessionState.Terminated);
  });

  describe('JsSIP', () => {
    let carol: { ua: JsSIP.UA; inbound: string[] };
    beforeAll(async () => {
      carol = await jssipPhone(`carol-${proto}`, proto);
    });

    it('calls echo: confirmed, the RTP comes back, the hang-up BYE is answered 200', async () => {
      const session = await jssipCall(carol.ua, 'echo');
      const media = mediaOfJsSip(session);
      await waitUntil(() => echo.stats.calls === 1, 5000, 'the echo to see the ACK');
      await rtpFlows(media, media, 5, 'RTP reflected by the echo');
      session.terminate();
      await waitUntil(() => byeAnswered(carol.inbound), 5000, 'the 200 to JsSIP\'s BYE');
      await waitUntil(() => echo.stats.calls === 0 && echo.stats.portsInUse === 0, 5000, 'the echo call to end');
    });

    it('calls a SIP.js phone: it answers, RTP flows, JsSIP hangs up and the callee sees the BYE (answered 200)', async () => {
      invites.length = 0;
      byesSeen.length = 0;
      carol.inbound.length = 0;
      const session = await jssipCall(carol.ua, `bob-${proto}`);
      expect(invites).toHaveLength(1);
      await rtpFlows(mediaOfJsSip(session), mediaOfSipJs(invites[0]!), 3, 'RTP from carol at bob');
      session.terminate();
      await waitUntil(() => byeAnswered(carol.inbound), 5000, 'the 200 to JsSIP\'s BYE');
      expect(byesSeen).toEqual([`carol-${proto}`]);
      expect(invites[0]!.state).toBe(SessionState.Terminated);
    });

    it('is called by SIP.js: JsSIP answers, RTP flows, the caller hangs up and JsSIP sees the BYE', async () => {
      const incoming = new Promise<RTCSession>((resolve) => {
        carol.ua.once('newRTCSession', (e: { originator: string; session: RTCSession }) => {
          if (e.originator !== 'remote') return;
          e.session.answer({ mediaConstraints: { audio: false, video: false } });
          resolve(e.session);
        });
      });
      const call = await sipjsCall(alice, `carol-${proto}`);
      const session = await incoming;
      const ended = new Promise<{ originator: string; cause: string }>((resolve) => session.on('ended', resolve));
      await rtpFlows(mediaOfSipJs(call), mediaOfJsSip(session), 3, 'RTP from alice at carol');
      expect(await sipjsBye(call)).toBe(200);
      expect(await ended).toMatchObject({ originator: 'remote', cause: JsSIP.C.causes.BYE });
    });
  });
});

describe('through the B2BUA (SIP_CALLS=bridge)', () => {
  let bridged: Awaited<ReturnType<typeof bootstrap>> | undefined;
  afterAll(async () => {
    await bridged?.app.close();
  });

  it('SIP.js calls SIP.js over ws: the B leg goes down the callee\'s WebSocket connection (its Contact is .invalid), RTP flows, the BYE crosses', async () => {
    bridged = await bootstrap({ HTTP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_USERS: 'alice-bridge:pw-alice,bob-bridge:pw-bob', SIP_CALLS: 'bridge' });
    const url = `${bridged.httpUrl!.replace('http', 'ws')}/sip`;
    const invites: Invitation[] = [];
    let byes = 0;
    const caller = await sipjsPhone('alice-bridge', 'ws', undefined, url);
    await sipjsPhone('bob-bridge', 'ws', (inv) => {
      invites.push(inv);
      inv.delegate = { onBye: (bye) => void bye.accept().then(() => byes++) };
      void inv.accept();
    }, url);
    const call = await sipjsCall(caller, 'bob-bridge');
    expect(invites).toHaveLength(1);
    const callee = invites[0]!;
    expect(String(callee.request.ruri)).toMatch(/\.invalid/);
    // A new call from the B2BUA: its own Call-ID, no Record-Route of the caller's dialog.
    expect(callee.request.callId).not.toBe(call.request.callId);
    await rtpFlows(mediaOfSipJs(call), mediaOfSipJs(callee), 3, 'RTP from alice at bob');
    await rtpFlows(mediaOfSipJs(callee), mediaOfSipJs(call), 3, 'RTP from bob at alice');
    expect(await sipjsBye(call)).toBe(200);
    await waitUntil(() => byes === 1, 5000, 'the BYE to cross the bridge to bob');
  });
});
