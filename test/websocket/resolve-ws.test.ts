// Resolution of WebSocket targets (RFC 7118): DNS has no WebSocket services we follow, so ws/wss
// come only from the caller (`;transport=ws|wss`, the transport override, the default transport)
// and go to the host's own addresses, on the URL scheme's port unless one is given; no SRV or
// NAPTR query is made for them.
import { describe, expect, test } from 'vitest';
import { parseUri } from '../../src/message/index.js';
import { resolveLiteral, resolveTargets, type SipDnsResolver } from '../../src/proxy/index.js';

function fakeDns(): SipDnsResolver & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    resolveSrv: async (name) => {
      queries.push(`SRV ${name}`);
      return [{ name: 'other.example', port: 5060, priority: 1, weight: 1 }];
    },
    resolveNaptr: async (name) => {
      queries.push(`NAPTR ${name}`);
      return [];
    },
    lookup: async (host) => {
      queries.push(`A ${host}`);
      return { address: '192.0.2.7', family: 4 };
    },
  };
}

describe('ws / wss targets', () => {
  test(';transport=ws on a name: its address, port 80, no SRV/NAPTR', async () => {
    const dns = fakeDns();
    const [t] = await resolveTargets(parseUri('sip:edge.example;transport=ws'), 'udp', {}, dns);
    expect(t).toMatchObject({ addr: '192.0.2.7', port: 80, proto: 'ws' });
    expect(dns.queries).toEqual(['A edge.example']);
  });

  test('sips: with ;transport=wss: wss on 443, the name as the TLS servername', async () => {
    const [t] = await resolveTargets(parseUri('sips:edge.example;transport=wss'), 'udp', {}, fakeDns());
    expect(t).toMatchObject({ port: 443, proto: 'wss', servername: 'edge.example' });
  });

  test('an explicit port and the transport override; literals need no DNS', async () => {
    const [t] = await resolveTargets(parseUri('sip:edge.example:8443'), 'udp', { transport: 'wss' }, fakeDns());
    expect(t).toMatchObject({ port: 8443, proto: 'wss' });
    expect(resolveLiteral(parseUri('sip:x@127.0.0.1:9000;transport=ws'), 'udp')).toMatchObject({ addr: '127.0.0.1', port: 9000, proto: 'ws' });
    expect(resolveLiteral(parseUri('sip:x@127.0.0.1'), 'ws')).toMatchObject({ port: 80, proto: 'ws' });
  });

  test('without ws asked for, DNS still picks UDP/TCP/TLS only', async () => {
    const dns = fakeDns();
    const [t] = await resolveTargets(parseUri('sip:example.com'), 'udp', {}, dns);
    expect(t!.proto).toBe('udp');
    expect(dns.queries).toContain('SRV _sip._udp.example.com');
  });
});
