import 'reflect-metadata';
import { ConsoleLogger, Logger, type INestApplicationContext } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { SipServer } from 'nestjs-sip';
import { pathToFileURL } from 'node:url';
import { AppModule } from './app.module.js';
import { loadConfig } from './config.js';
import { serveSoftphone } from './softphone-assets.js';

/**
 * `npm start`: the registrar and call service on UDP+TCP 127.0.0.1:5060, and its HTTP side on
 * 127.0.0.1:8080 (/metrics, /health, SIP over WebSocket at /sip, the softphone page at /) as one hybrid Nest app (see
 * config.ts for the environment).
 */
export async function bootstrap(env: NodeJS.ProcessEnv = process.env): Promise<{ app: INestApplicationContext; server: SipServer; httpUrl?: string }> {
  const config = loadConfig(env);
  // LOG_FORMAT=json: every line one JSON object (Nest's own lines and one per SIP transaction).
  const json = env.LOG_FORMAT === 'json';
  if (env.LOG_FORMAT !== undefined && env.LOG_FORMAT !== '' && env.LOG_FORMAT !== 'json' && env.LOG_FORMAT !== 'text') throw new Error(`LOG_FORMAT must be text or json, got ${JSON.stringify(env.LOG_FORMAT)}`);
  const logger = json ? new ConsoleLogger({ json: true }) : undefined;
  if (logger !== undefined) Logger.overrideLogger(logger); // the lines before the app exists too
  const server = new SipServer({
    listen: config.legs,
    serverHeader: 'nestjs-sip-example',
    // Behind a load balancer (SIP_FRONT_PROXIES) every request comes from it: not one caller to limit.
    ...(config.frontProxies.length > 0 ? { overload: { perSource: { exempt: config.frontProxies } } } : {}),
    // One line per transaction, whatever answered it (a handler, a guard, the proxy, the layer).
    transactionLog: json ? (e) => logger!.log({ msg: 'transaction', ...e }, 'SIP') : 'text',
  });
  const module = AppModule.forRoot(config.registrar, config.echo, config.calls, server, config.auth, config.http !== undefined);
  const log = new Logger('bootstrap');
  if (config.auth === undefined) log.warn('authentication is OFF: anyone may register and call (set SIP_USERS or SIP_USERS_FILE)');
  else log.log(`digest authentication for ${config.auth.users.size} users, realm "${config.auth.realm}", ${config.auth.algorithms.join(', ')}`);
  if (config.auth !== undefined && config.registrar.redisUrl !== undefined && config.auth.secret === undefined) {
    log.warn('SIP_REDIS_URL without SIP_AUTH_SECRET: each instance makes its own nonces, so a client moving between instances is challenged again (set the same SIP_AUTH_SECRET on all)');
  }
  let app: INestApplicationContext;
  let httpUrl: string | undefined;
  if (config.http === undefined) {
    const micro = await NestFactory.createMicroservice(module, { strategy: server, ...(logger ? { logger } : {}) });
    micro.enableShutdownHooks(['SIGINT', 'SIGTERM']);
    await micro.listen();
    app = micro;
  } else {
    // A hybrid app: the SIP transport beside an HTTP server, global guards and pipes shared.
    const web = await NestFactory.create(module, logger ? { logger } : {});
    // SIP over WebSocket on the same port (browsers, JsSIP, SIP.js): a leg on the app's HTTP server,
    // added to the legs SipServer binds at listen (the server had to exist before the app).
    if (config.http.wsPath !== undefined) config.legs.push({ transport: 'ws', ws: { server: web.getHttpServer(), path: config.http.wsPath } });
    // The softphone page at / (it registers over that leg and calls with WebRTC audio).
    if (config.http.wsPath !== undefined) serveSoftphone(web);
    web.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
    web.enableShutdownHooks(['SIGINT', 'SIGTERM']);
    await web.startAllMicroservices();
    await web.listen(config.http.port, config.http.host);
    const a = web.getHttpServer().address() as AddressInfo;
    httpUrl = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
    log.log(`HTTP on ${httpUrl}: ${httpUrl}/metrics (Prometheus), ${httpUrl}/health`);
    if (config.http.wsPath !== undefined) log.log(`SIP over WebSocket on ${httpUrl.replace('http', 'ws')}${config.http.wsPath} (subprotocol sip); the softphone page: ${httpUrl}/`);
    app = web;
  }
  const udp = server.addresses.find((a) => a.proto === 'udp');
  if (udp !== undefined) {
    const at = `${udp.family === 6 ? `[${udp.addr}]` : udp.addr}:${udp.port}`;
    log.log(`try it: sipsak -vv -s sip:ping@${at} (OPTIONS); call sip:echo@${at} from a softphone (the echo test)`);
    if (config.calls.mode !== 'redirect') log.log(`two softphones registered here as alice@${udp.addr} and bob@${udp.addr} call each other through this service`);
  }
  return { app, server, httpUrl };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  bootstrap().catch((err: unknown) => {
    new Logger('bootstrap').error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
