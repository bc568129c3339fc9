// HEP v3 mirroring (issue 18 §2): with `hep` set, every SIP message the server receives and sends
// reaches the collector as a HEP3 packet; a listener here decodes each one (chunk by chunk, as
// Homer's heplify-server does) and finds sipp's requests and our answers with their real ends.
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeHep3 } from 'nestjs-sip';
import { peerTool } from '../helpers/peers.js';
import { killAllSipp, runSipp } from '../helpers/sipp.js';
import { sippOk } from '../client/support.js';
import { startApp, type RunningApp } from '../server/support.js';
import { waitUntil } from '../helpers/wait.js';

const sipp = peerTool('sipp');

interface Decoded {
  family: number;
  ipProto: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seconds: number;
  protoType: number;
  agent: number;
  correlation?: string;
  payload: string;
}

/** A HEP3 packet, chunk by chunk; throws on anything malformed. */
function decode(b: Buffer): Decoded {
  if (b.toString('ascii', 0, 4) !== 'HEP3') throw new Error('no HEP3 magic');
  if (b.readUInt16BE(4) !== b.length) throw new Error(`length ${b.readUInt16BE(4)} != ${b.length}`);
  const d: Partial<Decoded> = {};
  let i = 6;
  while (i < b.length) {
    const vendor = b.readUInt16BE(i);
    const type = b.readUInt16BE(i + 2);
    const len = b.readUInt16BE(i + 4);
    if (vendor !== 0 || len < 6 || i + len > b.length) throw new Error(`bad chunk at ${i}`);
    const v = b.subarray(i + 6, i + len);
    switch (type) {
      case 1: d.family = v[0]; break;
      case 2: d.ipProto = v[0]; break;
      case 3: d.src = [...v].join('.'); break;
      case 4: d.dst = [...v].join('.'); break;
      case 5: d.src = v.toString('hex'); break;
      case 6: d.dst = v.toString('hex'); break;
      case 7: d.srcPort = v.readUInt16BE(0); break;
      case 8: d.dstPort = v.readUInt16BE(0); break;
      case 9: d.seconds = v.readUInt32BE(0); break;
      case 11: d.protoType = v[0]; break;
      case 12: d.agent = v.readUInt32BE(0); break;
      case 15: d.payload = v.toString('utf8'); break;
      case 17: d.correlation = v.toString('utf8'); break;
    }
    i += len;
  }
  return d as Decoded;
}

@Controller()
class Handlers {
  @MessagePattern('OPTIONS')
  options() {
    return { status: 200, headers: { Allow: 'OPTIONS' } };
  }
}

@Module({ controllers: [Handlers] })
class AppModule {}

describe('HEP v3 encoding', () => {
  it('IPv6 ends: family 10, 16-byte addresses, IPv4 peers mapped', () => {
    const d = decode(encodeHep3({ srcAddr: '::1', srcPort: 5060, dstAddr: '127.0.0.1', dstPort: 5070, proto: 'tcp', payload: Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n') }, 7));
    expect(d).toMatchObject({ family: 10, ipProto: 6, srcPort: 5060, dstPort: 5070, protoType: 1, agent: 7 });
    expect(d.src).toBe('00000000000000000000000000000001');
    expect(d.dst).toBe('00000000000000000000ffff7f000001');
  });
});

describe.skipIf(!sipp.available)('HEP v3 mirroring of a sipp run', () => {
  let app: RunningApp;
  let collector: Socket;
  const packets: Buffer[] = [];
  beforeAll(async () => {
    collector = createSocket('udp4');
    collector.on('message', (m) => packets.push(m));
    await new Promise<void>((r) => collector.bind(0, '127.0.0.1', r));
    app = await startApp(AppModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], hep: { host: '127.0.0.1', port: collector.address().port, agentId: 42 } });
  });
  afterAll(async () => {
    killAllSipp();
    await app?.close();
    collector?.close();
  });

  it('each OPTIONS in and each 200 out reach the collector, with their ends, time and Call-ID', async () => {
    const port = app.port('udp');
    const r = await runSipp({ scenario: 'options.xml', target: `127.0.0.1:${port}`, calls: 5, timeout: 15 });
    expect(sippOk(r)).toMatchObject({ successful: 5, errors: '' });
    await waitUntil(() => packets.length >= 10, 3000, 'ten HEP packets');
    const decoded = packets.map(decode);
    const requests = decoded.filter((d) => d.payload.startsWith('OPTIONS '));
    const answers = decoded.filter((d) => d.payload.startsWith('SIP/2.0 200'));
    expect(requests).toHaveLength(5);
    expect(answers).toHaveLength(5);
    const now = Math.floor(Date.now() / 1000);
    for (const d of decoded) {
      expect(d).toMatchObject({ family: 2, ipProto: 17, src: '127.0.0.1', dst: '127.0.0.1', protoType: 1, agent: 42 });
      expect(Math.abs(d.seconds - now)).toBeLessThan(60);
      expect(d.payload).toContain(`Call-ID: ${d.correlation}`);
    }
    for (const q of requests) expect(q.dstPort).toBe(port);
    for (const a of answers) expect(a.srcPort).toBe(port);
    // Each answer goes back to where its request came from.
    expect(new Set(answers.map((a) => a.dstPort))).toEqual(new Set(requests.map((q) => q.srcPort)));
  });
});
