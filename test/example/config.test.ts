// The example's settings (issue 18): malformed numbers are refused at start with the variable's
// name, not taken as NaN.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../example/config.js';

describe('example configuration', () => {
  it('takes the defaults and well-formed values', () => {
    const c = loadConfig({ SIP_MIN_EXPIRES: '30', SIP_UDP_PORT: '0', SIP_TCP_PORT: 'off' });
    expect(c.registrar).toEqual({ minExpires: 30, maxExpires: 3600, defaultExpires: 3600 });
    expect(c.legs).toEqual([{ transport: 'udp', host: '127.0.0.1', port: 0 }]);
    expect(c.auth).toBeUndefined();
    expect(loadConfig({ SIP_REDIS_URL: 'redis://127.0.0.1:6390/2' }).registrar.redisUrl).toBe('redis://127.0.0.1:6390/2');
  });

  it.each([
    [{ SIP_MIN_EXPIRES: 'abc' }, /SIP_MIN_EXPIRES must be a whole number of seconds, got "abc"/],
    [{ SIP_MAX_EXPIRES: '-5' }, /SIP_MAX_EXPIRES must be a whole number/],
    [{ SIP_DEFAULT_EXPIRES: '1.5' }, /SIP_DEFAULT_EXPIRES must be a whole number/],
    [{ SIP_MIN_EXPIRES: '600', SIP_MAX_EXPIRES: '60' }, /SIP_MIN_EXPIRES \(600\) is above SIP_MAX_EXPIRES \(60\)/],
    [{ SIP_UDP_PORT: '70000' }, /bad port 70000/],
    [{ SIP_ECHO_SECONDS: 'x' }, /SIP_ECHO_SECONDS must be a positive number/],
    [{ SIP_AUTH_ALGORITHMS: 'ROT13' }, /unknown algorithm "ROT13"/],
    [{ SIP_USERS: 'alice' }, /user:password or user:ha1/],
    [{ SIP_REDIS_URL: '127.0.0.1:6379' }, /SIP_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
  ])('refuses %o with a clear message', (env, message) => {
    expect(() => loadConfig(env as NodeJS.ProcessEnv)).toThrow(message);
  });
});

describe('example configuration: SIP_FRONT_PROXIES (deploy/: the balancers in front)', () => {
  it('takes IP addresses, comma-separated; none by default', () => {
    expect(loadConfig({}).frontProxies).toEqual([]);
    expect(loadConfig({ SIP_FRONT_PROXIES: '10.0.0.5, ::1' }).frontProxies).toEqual(['10.0.0.5', '::1']);
  });

  it('refuses a name with a clear message', () => {
    expect(() => loadConfig({ SIP_FRONT_PROXIES: '10.0.0.5,kamailio.local' })).toThrow(/SIP_FRONT_PROXIES must be IP addresses, comma-separated, got "kamailio\.local"/);
  });
});

describe('example configuration: SIP_WSS_PORT (secure WebSocket on its own port)', () => {
  it('adds a wss leg with the TLS files, at SIP_WS_PATH (/sip when that is off); none by default', () => {
    expect(loadConfig({}).legs.map((l) => l.transport)).toEqual(['udp', 'tcp']);
    const dir = mkdtempSync(join(tmpdir(), 'wss-config-'));
    try {
      writeFileSync(join(dir, 'c.pem'), 'CERT');
      writeFileSync(join(dir, 'k.pem'), 'KEY');
      const files = { SIP_TLS_CERT: join(dir, 'c.pem'), SIP_TLS_KEY: join(dir, 'k.pem') };
      const wss = (env: NodeJS.ProcessEnv) => loadConfig({ SIP_UDP_PORT: 'off', SIP_TCP_PORT: 'off', ...files, ...env }).legs;
      expect(wss({ SIP_WSS_PORT: '7443' })).toEqual([{ transport: 'wss', host: '127.0.0.1', port: 7443, tls: { cert: Buffer.from('CERT'), key: Buffer.from('KEY') }, ws: { path: '/sip' } }]);
      expect(wss({ SIP_WSS_PORT: '7443', SIP_WS_PATH: '/ws' })[0]).toMatchObject({ ws: { path: '/ws' } });
      expect(wss({ SIP_WSS_PORT: '7443', SIP_WS_PATH: 'off' })[0]).toMatchObject({ ws: { path: '/sip' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses it without the TLS files', () => {
    expect(() => loadConfig({ SIP_WSS_PORT: '7443' })).toThrow(/SIP_WSS_PORT needs SIP_TLS_CERT and SIP_TLS_KEY/);
  });
});
