// Interop over SIP over WebSocket (RFC 7118) with Kamailio's websocket module as the server and
// our SipClient as the WebSocket client (test/helpers/kamailio-ws.ts has its config):
//
//   SipClient --ws--> Kamailio                              OPTIONS answered by Kamailio itself
//   SipClient --ws--> Kamailio --udp--> SipServer           INVITE/200/ACK, then the server's BYE
//                                                           comes back through Kamailio over the
//                                                           client's WebSocket connection
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipClient, type SipContext, type SipRequest, type SipResponse } from 'nestjs-sip';
import type { Kamailio } from '../helpers/kamailio.js';
import { hasWebsocketModule, startKamailioWs } from '../helpers/kamailio-ws.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { startApp, type RunningApp } from '../server/support.js';

const kamailio = peerTool('kamailio');
const ready = kamailio.available && hasWebsocketModule();

it('kamailio and its websocket module are installed (required in CI)', () => {
  if (inCI()) expect(ready, 'kamailio and kamailio-websocket-modules must be installed in CI').toBe(true);
  else if (!ready) console.warn('kamailio or its websocket module missing: the Kamailio WebSocket interop tests were SKIPPED');
});

const invites: SipRequest[] = [];
let udpPort = 0;

@Controller()
class Callee {
  @MessagePattern('INVITE')
  invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    invites.push(req);
    // Hang up once the call is up: the BYE goes back through Kamailio to the WebSocket client.
    void ctx.whenAcknowledged().then(() => ctx.dialog?.bye().subscribe({ error: () => undefined }));
    return { status: 200, contentType: 'application/sdp', body: 'v=0\r\n', headers: { Contact: `<sip:callee@127.0.0.1:${udpPort}>` } };
  }
}

@Module({ controllers: [Callee] })
class CalleeModule {}

describe.skipIf(!ready)('SipClient over WebSocket to Kamailio', () => {
  let k: Kamailio;
  let app: RunningApp;
  let client: SipClient;

  beforeAll(async () => {
    k = await startKamailioWs();
    app = await startApp(CalleeModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
    udpPort = app.port('udp');
    client = new SipClient({ transport: 'ws' });
  }, 30_000);

  afterAll(async () => {
    await client?.close();
    await app?.close();
    await k?.stop();
  });

  it('the handshake (subprotocol sip) and an OPTIONS Kamailio answers itself', async () => {
    const res = await lastValueFrom(client.send<SipResponse>('OPTIONS', { uri: `sip:127.0.0.1:${k.port};transport=ws` }));
    expect(res.status).toBe(200);
    expect(res.reason).toBe('Kamailio Ready');
    expect(k.log()).toMatch(/KTEST http GET \/ protocol=sip/);
    const trace = await k.waitTrace(res.callId, 'request OPTIONS');
    expect(trace[0]).toMatch(/^request OPTIONS .* from ws:127\.0\.0\.1:/);
  });

  it('a call through Kamailio to a UDP SipServer; the server\'s BYE comes back over our WebSocket connection', async () => {
    const dialog = await client.invite({
      uri: `sip:callee@127.0.0.1:${udpPort}`,
      host: '127.0.0.1',
      port: k.port,
      transport: 'ws',
      body: 'v=0\r\n',
      headers: { 'Content-Type': 'application/sdp' },
    });
    const inv = invites.find((r) => r.callId === dialog.callId)!;
    // Kamailio's Via on top of ours, which says WS.
    expect(inv.via.map((v) => v.transport)).toEqual(['UDP', 'WS']);
    const end = await dialog.terminated;
    expect(end.by).toBe('remote');
    const trace = await k.waitTrace(dialog.callId, 'loose-routed BYE');
    expect(trace.find((l) => l.startsWith('loose-routed BYE'))).toMatch(/du=sip:127\.0\.0\.1:\d+;transport=ws/);
  });
});
