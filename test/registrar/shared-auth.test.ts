import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeHa1, digestResponse, parseAuthHeader, SipClient, type DigestAlgorithm, type SipResponse, type SipServer } from 'nestjs-sip';
import { bootstrap } from '../../example/main.js';
import { inCI, peerTool } from '../helpers/peers.js';
import { killAllRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { sleep } from '../helpers/wait.js';

const redisServer = peerTool('redis-server');

interface Instance {
  app: INestApplicationContext;
  server: SipServer;
  udp: number;
}

/**
 * A phone behind a load balancer whose REGISTERs land on one instance, then the other: with one
 * SIP_AUTH_SECRET and SIP_REDIS_URL, the nonce one instance issued is good at the other, nc keeps
 * counting across them, and a credential replayed to the instance that never saw it is refused.
 */
describe.skipIf(!redisServer.available && !inCI())('digest authentication across two instances sharing Redis', () => {
  let redis: TestRedis;
  let a: Instance;
  let b: Instance;
  /** Same secret, no Redis: the control that shows what the shared counts prevent. */
  let alone: Instance;
  let client: SipClient;
  const env = { HTTP_PORT: 'off', SIP_HOST: '127.0.0.1', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off', SIP_CALLS: 'redirect', SIP_USERS: 'alice:secret', SIP_REALM: 'example.test', SIP_AUTH_SECRET: 'one secret for every instance' };

  const start = async (extra: Record<string, string>): Promise<Instance> => {
    const { app, server } = await bootstrap({ ...env, ...extra });
    return { app, server, udp: server.addresses[0]!.port };
  };
  const register = (at: Instance, cseq: number, authorization?: string) =>
    lastValueFrom(
      client.send<SipResponse>('REGISTER', {
        uri: 'sip:example.test',
        host: '127.0.0.1',
        port: at.udp,
        headers: {
          From: '<sip:alice@example.test>',
          To: '<sip:alice@example.test>',
          'Call-ID': 'alice-phone-1',
          CSeq: `${cseq} REGISTER`,
          Contact: '<sip:alice@127.0.0.1:9>',
          Expires: '300',
          ...(authorization === undefined ? {} : { Authorization: authorization }),
        },
      }),
    );

  beforeAll(async () => {
    redis = await startRedis();
    a = await start({ SIP_REDIS_URL: redis.url });
    b = await start({ SIP_REDIS_URL: redis.url });
    alone = await start({});
    client = new SipClient({ localHost: '127.0.0.1', non2xxAsValue: true });
    // Ready: past the start-up lag (the overload gate's 503) every instance challenges.
    for (const at of [a, b, alone]) for (let i = 0; i < 50 && (await register(at, 1)).status !== 401; i++) await sleep(100);
  });
  afterAll(async () => {
    await client?.close();
    for (const at of [a, b, alone]) await at?.app.close();
    await redis?.stop();
    killAllRedis();
  });

  it('a client alternating between the instances is challenged once, then let through every time, and a replay is refused by the instance that never saw it', async () => {
    const challenge = await register(a, 1);
    expect(challenge.status).toBe(401);
    const c = parseAuthHeader(challenge.headers.get('www-authenticate')!).params;
    const algorithm = (c.get('algorithm') ?? 'MD5') as DigestAlgorithm;
    const realm = c.get('realm')!;
    const nonce = c.get('nonce')!;
    const ha1 = computeHa1(algorithm, 'alice', realm, 'secret');
    const credential = (nc: number): string => {
      const ncHex = nc.toString(16).padStart(8, '0');
      const cnonce = `cn${nc}`;
      const response = digestResponse({ algorithm, ha1, nonce, method: 'REGISTER', uri: 'sip:example.test', qop: 'auth', nc: ncHex, cnonce });
      return `Digest username="alice", realm="${realm}", nonce="${nonce}", uri="sip:example.test", response="${response}", algorithm=${algorithm}, qop=auth, nc=${ncHex}, cnonce="${cnonce}"`;
    };

    // A's nonce, answered at B: good (one secret), and B records nc=1 in Redis.
    expect((await register(b, 2, credential(1))).status).toBe(200);
    // The same credential replayed to A, which never saw it: refused (Redis has nc=1), a fresh challenge.
    const replay = await register(a, 3, credential(1));
    expect(replay.status).toBe(401);
    // The control: an instance without the shared counts lets that replay through.
    expect((await register(alone, 3, credential(1))).status).toBe(200);
    // The phone goes on counting, whichever instance it reaches: never challenged again.
    for (let nc = 2; nc <= 7; nc++) {
      const r = await register(nc % 2 === 0 ? a : b, 2 + nc, credential(nc));
      expect(r.status, `nc=${nc}`).toBe(200);
    }
    // And every count it used is spent everywhere.
    for (const at of [a, b]) expect((await register(at, 20, credential(5))).status).toBe(401);
  });

  // Last: it blocks this test's source (127.0.0.1) on both instances.
  it('wrong passwords spread over both instances are counted together: the 10th failure blocks the source on both', async () => {
    const wrong = async (at: Instance, cseq: number): Promise<number> => {
      const challenge = await register(at, cseq);
      if (challenge.status !== 401) return challenge.status;
      const c = parseAuthHeader(challenge.headers.get('www-authenticate')!).params;
      const algorithm = (c.get('algorithm') ?? 'MD5') as DigestAlgorithm;
      const response = digestResponse({ algorithm, ha1: computeHa1(algorithm, 'alice', c.get('realm')!, 'guess'), nonce: c.get('nonce')!, method: 'REGISTER', uri: 'sip:example.test', qop: 'auth', nc: '00000001', cnonce: 'g' });
      const cred = `Digest username="alice", realm="${c.get('realm')}", nonce="${c.get('nonce')}", uri="sip:example.test", response="${response}", algorithm=${algorithm}, qop=auth, nc=00000001, cnonce="g"`;
      return (await register(at, cseq + 1, cred)).status;
    };
    // Nine guesses, alternating: five at A, four at B (fewer than the default limit of 10 at either).
    for (let i = 0; i < 9; i++) expect(await wrong(i % 2 === 0 ? a : b, 100 + 2 * i), `guess ${i + 1}`).toBe(401);
    // The tenth, at B: over the limit counted across both, refused (403) right away.
    expect(await wrong(b, 200)).toBe(403);
    // A learns of the block at the next failure it sees, and refuses from then on; so does B.
    expect(await wrong(a, 202)).toBe(403);
    for (const at of [a, b]) expect((await register(at, 300, 'Digest username="alice", realm="example.test", nonce="x", uri="sip:example.test", response="0", qop=auth, nc=00000001, cnonce="g"')).status).toBe(403);
    // The control: an instance that does not share the counts is not blocked by the others'.
    for (let i = 0; i < 9; i++) expect(await wrong(alone, 400 + 2 * i), `alone ${i + 1}`).toBe(401);
  });
});
