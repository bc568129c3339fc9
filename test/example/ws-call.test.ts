// A call from a UDP phone to a browser-style client (issue 14, issue 13 §4): JsSIP registers over the
// example's WebSocket leg (Contact `sip:…@….invalid;transport=ws`, unreachable but by its connection);
// sipp calls that user over UDP; the proxy sends the INVITE down the WebSocket connection the REGISTER
// came on, with a signed flow token in its Record-Route; the client answers 486 and sipp gets it.
// The client is SIP.js (JsSIP in Node takes an INVITE only with WebRTC stand-ins: see
// test/websocket/node-calls.test.ts, where both libraries call and are called over ws and wss).
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { Registerer, RegistererState, UserAgent, type Invitation } from 'sip.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { sippOk } from '../client/support.js';

const sipp = peerTool('sipp');

describe.skipIf(!sipp.available)('the example routes a UDP call to a WebSocket client (SIP.js)', () => {
  let app: INestApplicationContext | undefined;
  let server: SipServer;
  let url: string;
  let ua: UserAgent | undefined;
  beforeAll(async () => {
    const started = await bootstrap({ HTTP_PORT: '0', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off' });
    ({ app, server } = started);
    url = started.httpUrl!;
  });
  afterAll(async () => {
    killAllSipp();
    await ua?.stop();
    await app?.close();
  });

  it('the INVITE reaches SIP.js down its WebSocket (flow token in Record-Route); its 486 reaches sipp', async () => {
    const invites: { recordRoute: string[]; requestUri: string }[] = [];
    ua = new UserAgent({
      uri: UserAgent.makeURI('sip:dave@127.0.0.1'),
      transportOptions: { server: `${url.replace('http', 'ws')}/sip` },
      logLevel: 'error',
      delegate: {
        onInvite: (inv: Invitation) => {
          invites.push({ recordRoute: inv.request.getHeaders('record-route'), requestUri: String(inv.request.ruri) });
          void inv.reject({ statusCode: 486, reasonPhrase: 'Busy Here' });
        },
      },
    });
    await ua.start();
    const registerer = new Registerer(ua, { expires: 600 });
    const registered = new Promise<void>((resolve) => registerer.stateChange.addListener((st) => st === RegistererState.Registered && resolve()));
    await registerer.register();
    await registered;
    const udp = server.addresses.find((a) => a.proto === 'udp')!;
    const r = await runSipp({ scenario: 'busy-after-ringing.xml', target: `127.0.0.1:${udp.port}`, calls: 1, timeout: 15, args: ['-s', 'dave'] });
    expect(sippOk(r)).toMatchObject({ successful: 1, errors: '' });
    expect(invites).toHaveLength(1);
    expect(invites[0]!.requestUri).toMatch(/\.invalid/);
    // Our Record-Routes: the WebSocket side carries the signed flow token, the UDP side none.
    expect(invites[0]!.recordRoute.join(',')).toMatch(/<sip:ft\.f[0-9a-z]+\.[A-Za-z0-9_-]{16}@127\.0\.0\.1:\d+;transport=ws;lr;r2=on>/);
  });
});
