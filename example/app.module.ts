import { Logger, Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { RedisAuthStrikes, RedisLocationStore, RedisNonceCounts, SipAuthModule, SipRegistrarModule, type SipServer } from 'nestjs-sip';
import { CALLS_CONFIG, CallsService, SIP_SERVER, type CallsConfig } from './calls.service.js';
import { type AuthConfig, type RegistrarConfig } from './config.js';
import { lookupIn } from './users.js';
import { ECHO_CONFIG, EchoService, type EchoConfig } from './echo/echo.service.js';
import { RegistrarController } from './registrar.controller.js';
import { OpsController } from './ops.controller.js';
import { RegistrarService } from './registrar.service.js';

@Module({})
export class AppModule {
  static forRoot(config: RegistrarConfig, echo: EchoConfig, calls: CallsConfig, server: SipServer, auth?: AuthConfig, http = false): DynamicModule {
    const redis = locationStore(config);
    return {
      module: AppModule,
      imports: [
        // The library's registrar: bindings in memory, or in Redis with SIP_REDIS_URL (shared by instances).
        SipRegistrarModule.forRoot({ ...config, store: redis }),
        // Every handler demands digest credentials when users are configured (OPTIONS is @SipPublic).
        // A proxy asks callers with 407 (Proxy-Authenticate), a registrar with 401: 'auto' does both.
        ...(auth === undefined
          ? []
          : [
              SipAuthModule.forRoot({
                realm: auth.realm,
                credentials: lookupIn(auth.users),
                algorithms: auth.algorithms,
                secret: auth.secret,
                global: true,
                proxy: calls.mode === 'proxy' ? 'auto' : false,
                // With Redis, the instances share nonce-counts (a request replayed to another instance is
                // refused) and failed-attempt counts (a guesser spreading over instances is blocked in all).
                sharedNonceCounts: redis === undefined ? undefined : new RedisNonceCounts({ client: redis.redis }),
                throttle: redis === undefined ? undefined : { shared: new RedisAuthStrikes({ client: redis.redis }) },
              }),
            ]),
        // The HTTP side (HTTP_PORT): /metrics and /health.
        ...(http ? [TerminusModule.forRoot({ logger: false })] : []),
      ],
      controllers: http ? [RegistrarController, OpsController] : [RegistrarController],
      providers: [
        RegistrarService,
        EchoService,
        CallsService,
        { provide: CALLS_CONFIG, useValue: calls },
        { provide: SIP_SERVER, useValue: server },
        { provide: ECHO_CONFIG, useValue: echo },
      ],
    };
  }
}

/** Bindings in Redis when SIP_REDIS_URL is set (shared by every instance), else in memory (the registrar's default). */
function locationStore(config: RegistrarConfig): RedisLocationStore | undefined {
  if (config.redisUrl === undefined) return undefined;
  const log = new Logger('Redis');
  let lastLog = 0;
  return new RedisLocationStore({
    url: config.redisUrl,
    // The client retries every 2 s while Redis is away: one line per 30 s is enough to tell.
    onError: (err) => {
      const now = Date.now();
      if (now - lastLog < 30_000) return;
      lastLog = now;
      log.warn(`${config.redisUrl!.replace(/\/\/[^@/]*@/, '//***@')}: ${err.message} (REGISTERs are answered 503 until it is back)`);
    },
  });
}
