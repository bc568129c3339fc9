import type { DigestAlgorithm, SipLeg } from 'nestjs-sip';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { EchoConfig } from './echo/echo.service.js';
import { MediaPorts } from './echo/media-ports.js';
import { loadUsers, parseAlgorithms, type UserTable } from './users.js';
import type { CallsConfig } from './calls.service.js';

export interface RegistrarConfig {
  /** Shortest registration accepted (423 below it), seconds. */
  minExpires: number;
  /** Longest registration granted, seconds. */
  maxExpires: number;
  /** Registration time when the REGISTER names none, seconds. */
  defaultExpires: number;
  /** SIP_REDIS_URL: bindings in this Redis, shared by every instance; unset, in this process's memory. */
  redisUrl?: string;
}

/** Digest authentication of the example, when users are configured. */
export interface AuthConfig {
  realm: string;
  users: UserTable;
  algorithms: DigestAlgorithm[];
  /** Nonce HMAC secret (SIP_AUTH_SECRET), shared by instances; random per process when unset. */
  secret?: string;
}

/**
 * Settings from the environment, with embedded defaults:
 *   SIP_HOST (127.0.0.1), SIP_UDP_PORT (5060), SIP_TCP_PORT (5060; 'off' disables a transport),
 *   SIP_TLS_PORT (off unless set), SIP_TLS_CERT / SIP_TLS_KEY (PEM file paths, needed for TLS),
 *   SIP_MIN_EXPIRES (60), SIP_MAX_EXPIRES (3600), SIP_DEFAULT_EXPIRES (3600),
 *   SIP_ECHO_SECONDS (30: the echo call hangs up after it), SIP_MEDIA_PORTS (20000-20099),
 *   SIP_ECHO_WEBRTC_CALLS (10: browser echo calls at once, each a WebRTC endpoint; 0 refuses them),
 *   SIP_USERS (alice:secret,bob:hunter2) / SIP_USERS_FILE (user:password or user:ha1 lines): digest
 *   authentication for these users (open to anyone without them), SIP_REALM (SIP_HOST),
 *   SIP_AUTH_ALGORITHMS (MD5; 'SHA-256,MD5' for clients that read every challenge), SIP_AUTH_SECRET,
 *   SIP_CALLS (proxy: calls to registered users are proxied, record-routed, to all their phones;
 *   bridge: connected by a B2BUA, each phone talks only to this service; redirect: 302 to their contacts),
 *   SIP_RING_SECONDS (30: unanswered calls get 480),
 *   HTTP_PORT (8080 on SIP_HOST: /metrics, /health, and SIP over WebSocket at /sip; 'off' disables the HTTP side),
 *   SIP_WS_PATH (/sip: the WebSocket leg's path on the HTTP port; 'off' disables it),
 *   SIP_WSS_PORT (off unless set): SIP over secure WebSocket (wss) on its own port, at SIP_WS_PATH (/sip when
 *   that is off), with SIP_TLS_CERT / SIP_TLS_KEY,
 *   LOG_FORMAT (text; json: one JSON object per line),
 *   SIP_REDIS_URL (unset: registrations in memory; redis://host:port: in that Redis, shared by instances),
 *   SIP_REUSE_PORT (1: share the UDP/TCP ports with other workers of the service, SO_REUSEPORT).
 */
/** The example's HTTP side (metrics, health, SIP over WebSocket), when on. */
export interface HttpConfig {
  host: string;
  port: number;
  /** Path of the SIP-over-WebSocket leg (RFC 7118) on the HTTP port; undefined: none. */
  wsPath?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): {
  legs: SipLeg[];
  registrar: RegistrarConfig;
  echo: EchoConfig;
  calls: CallsConfig;
  auth?: AuthConfig;
  http?: HttpConfig;
  frontProxies: string[];
} {
  const host = env.SIP_HOST || '127.0.0.1';
  const legs: SipLeg[] = [];
  const port = (v: string | undefined, def: number | undefined): number | undefined => {
    if (v === 'off') return undefined;
    if (v === undefined || v === '') return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`bad port ${v}`);
    return n;
  };
  const udp = port(env.SIP_UDP_PORT, 5060);
  const tcp = port(env.SIP_TCP_PORT, 5060);
  const tlsPort = port(env.SIP_TLS_PORT, undefined);
  // SIP_REUSE_PORT=1: several workers of this service share the SIP ports (SO_REUSEPORT).
  const reusePort = env.SIP_REUSE_PORT === '1' || env.SIP_REUSE_PORT === 'true';
  const shared = reusePort ? { reusePort: true } : {};
  if (udp !== undefined) legs.push({ transport: 'udp', host, port: udp, ...shared });
  if (tcp !== undefined) legs.push({ transport: 'tcp', host, port: tcp, ...shared });
  if (tlsPort !== undefined) {
    if (!env.SIP_TLS_CERT || !env.SIP_TLS_KEY) throw new Error('SIP_TLS_PORT needs SIP_TLS_CERT and SIP_TLS_KEY');
    legs.push({ transport: 'tls', host, port: tlsPort, tls: { cert: readFileSync(env.SIP_TLS_CERT), key: readFileSync(env.SIP_TLS_KEY) } });
  }
  const wsPath = env.SIP_WS_PATH === 'off' ? undefined : env.SIP_WS_PATH || '/sip';
  if (wsPath !== undefined && !wsPath.startsWith('/')) throw new Error(`SIP_WS_PATH must start with /, got ${JSON.stringify(wsPath)}`);
  // wss needs no HTTP side: a leg of its own, a TLS listener that takes only WebSocket handshakes.
  const wssPort = port(env.SIP_WSS_PORT, undefined);
  if (wssPort !== undefined) {
    if (!env.SIP_TLS_CERT || !env.SIP_TLS_KEY) throw new Error('SIP_WSS_PORT needs SIP_TLS_CERT and SIP_TLS_KEY');
    legs.push({ transport: 'wss', host, port: wssPort, tls: { cert: readFileSync(env.SIP_TLS_CERT), key: readFileSync(env.SIP_TLS_KEY) }, ws: { path: wsPath ?? '/sip' } });
  }
  const num = (v: string | undefined, def: number, name = 'setting'): number => {
    if (v === undefined || v === '') return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number of seconds, got ${JSON.stringify(v)}`);
    return n;
  };
  const echoSeconds = env.SIP_ECHO_SECONDS ? Number(env.SIP_ECHO_SECONDS) : 30;
  if (!(echoSeconds > 0)) throw new Error(`SIP_ECHO_SECONDS must be a positive number, got ${JSON.stringify(env.SIP_ECHO_SECONDS)}`);
  const registrar: RegistrarConfig = {
    minExpires: num(env.SIP_MIN_EXPIRES, 60, 'SIP_MIN_EXPIRES'),
    maxExpires: num(env.SIP_MAX_EXPIRES, 3600, 'SIP_MAX_EXPIRES'),
    defaultExpires: num(env.SIP_DEFAULT_EXPIRES, 3600, 'SIP_DEFAULT_EXPIRES'),
  };
  if (env.SIP_REDIS_URL) {
    if (!/^rediss?:\/\//.test(env.SIP_REDIS_URL)) throw new Error(`SIP_REDIS_URL must be a redis:// or rediss:// URL, got ${JSON.stringify(env.SIP_REDIS_URL)}`);
    registrar.redisUrl = env.SIP_REDIS_URL;
  }
  if (registrar.minExpires > registrar.maxExpires) throw new Error(`SIP_MIN_EXPIRES (${registrar.minExpires}) is above SIP_MAX_EXPIRES (${registrar.maxExpires})`);
  const users = loadUsers(env);
  const algorithms = parseAlgorithms(env.SIP_AUTH_ALGORITHMS); // checked even while unused
  const auth: AuthConfig | undefined = users === undefined ? undefined : { realm: env.SIP_REALM || host, users, algorithms, secret: env.SIP_AUTH_SECRET || undefined };
  const mode = env.SIP_CALLS || 'proxy';
  if (mode !== 'proxy' && mode !== 'bridge' && mode !== 'redirect') throw new Error(`SIP_CALLS must be proxy, bridge or redirect, got ${JSON.stringify(mode)}`);
  const ringSeconds = num(env.SIP_RING_SECONDS, 30, 'SIP_RING_SECONDS');
  const httpPort = port(env.HTTP_PORT, 8080);
  // SIP_FRONT_PROXIES: the load balancer(s) in front (deploy/: Kamailio's addresses, comma-separated).
  // All traffic arrives from them, so the per-source request limit must not count them as one caller.
  const frontProxies = (env.SIP_FRONT_PROXIES ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  for (const a of frontProxies) if (isIP(a) === 0) throw new Error(`SIP_FRONT_PROXIES must be IP addresses, comma-separated, got ${JSON.stringify(a)}`);
  return {
    frontProxies,
    legs,
    http: httpPort === undefined ? undefined : { host, port: httpPort, wsPath },
    auth,
    calls: { mode, ringSeconds },
    echo: { host, seconds: echoSeconds, ports: MediaPorts.parse(env.SIP_MEDIA_PORTS || '20000-20099'), webrtcCalls: num(env.SIP_ECHO_WEBRTC_CALLS, 10, 'SIP_ECHO_WEBRTC_CALLS') },
    registrar,
  };
}
