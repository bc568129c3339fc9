// Which name a SipClient's TLS connection authenticates (RFC 5922 §4): the SIP domain of the
// request URI, also when DNS SRV led to another host; never the SRV target, which an attacker who
// can answer the SRV query would otherwise choose. Real TLS over loopback, our own SipServer.
import 'reflect-metadata';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipClient, SipServer, type SipDnsResolver, type SipResponse } from 'nestjs-sip';
import { makeTestPki } from '../transport/tls-certs.js';

// example.test is the SIP domain; its SRV record points at sip1.example.test.
const pki = makeTestPki({ domain: 'DNS:example.test', srvTarget: 'DNS:sip1.example.test' });

@Controller()
class Handlers {
  @MessagePattern('OPTIONS')
  options() {
    return 200;
  }
}
@Module({ controllers: [Handlers] })
class AppModule {}

async function tlsServer(cred: { cert: string; key: string }): Promise<{ app: INestMicroservice; port: number }> {
  const server = new SipServer({ listen: [{ transport: 'tls', host: '127.0.0.1', port: 0, tls: cred }] });
  const app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: false });
  await app.listen();
  return { app, port: server.addresses[0]!.port };
}

/** DNS where _sips._tcp.example.test has one SRV record, sip1.example.test:port, at 127.0.0.1. */
function srvDns(port: number): SipDnsResolver & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    resolveSrv: async (name) => {
      queries.push(`SRV ${name}`);
      return name === '_sips._tcp.example.test' ? [{ name: 'sip1.example.test', port, priority: 0, weight: 0 }] : [];
    },
    lookup: async (host) => {
      queries.push(`A ${host}`);
      if (host === 'sip1.example.test') return { address: '127.0.0.1', family: 4 };
      throw Object.assign(new Error(`no such host ${host}`), { code: 'ENOTFOUND' });
    },
  };
}

describe('SipClient TLS server identity (RFC 5922)', () => {
  const apps: INestMicroservice[] = [];
  let domainPort = 0;
  let targetPort = 0;
  beforeAll(async () => {
    const a = await tlsServer(pki.extra.domain!);
    const b = await tlsServer(pki.extra.srvTarget!);
    apps.push(a.app, b.app);
    domainPort = a.port;
    targetPort = b.port;
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  it('SRV to another host: the connection goes to the address our resolver found, and the certificate must name the SIP domain', async () => {
    const dns = srvDns(domainPort);
    const client = new SipClient({ localHost: '127.0.0.1', tls: { ca: pki.ca }, dns, timers: { T1: 100 } });
    try {
      const res = await lastValueFrom(client.send<SipResponse>('OPTIONS', { uri: 'sips:bob@example.test' }));
      expect(res.status).toBe(200);
      // Only the injected resolver was asked (the pool did not look the SRV target up again).
      expect(dns.queries).toEqual(['SRV _sips._tcp.example.test', 'A sip1.example.test']);
    } finally {
      await client.close();
    }
  });

  it('a certificate for the SRV target only is refused: DNS must not choose whom we authenticate', async () => {
    const client = new SipClient({ localHost: '127.0.0.1', tls: { ca: pki.ca }, dns: srvDns(targetPort), timers: { T1: 100 } });
    try {
      const err = await lastValueFrom(client.send<SipResponse>('OPTIONS', { uri: 'sips:bob@example.test' })).catch((e: unknown) => e);
      // The handshake itself failed on the name check: not a DNS or connect failure.
      expect(err).toMatchObject({ code: 'ERR_SIP_TLS', cause: { code: 'ERR_TLS_CERT_ALTNAME_INVALID', host: 'example.test' } });
      expect((err as Error).message).toContain('(as example.test)');
    } finally {
      await client.close();
    }
  });
});
