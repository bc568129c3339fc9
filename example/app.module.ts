import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { SipAuthModule, type SipServer } from 'nestjs-sip';
import { CALLS_CONFIG, CallsService, SIP_SERVER, type CallsConfig } from './calls.service.js';
import { InMemoryLocationStore, LOCATION_STORE } from './location-store.js';
import { REGISTRAR_CONFIG, type AuthConfig, type RegistrarConfig } from './config.js';
import { lookupIn } from './users.js';
import { ECHO_CONFIG, EchoService, type EchoConfig } from './echo/echo.service.js';
import { RegistrarController } from './registrar.controller.js';
import { OpsController } from './ops.controller.js';
import { RegistrarService } from './registrar.service.js';

@Module({})
export class AppModule {
  static forRoot(config: RegistrarConfig, echo: EchoConfig, calls: CallsConfig, server: SipServer, auth?: AuthConfig, http = false): DynamicModule {
    return {
      module: AppModule,
      // Every handler demands digest credentials when users are configured (OPTIONS is @SipPublic).
      // A proxy asks callers with 407 (Proxy-Authenticate), a registrar with 401: 'auto' does both.
      imports: [
        ...(auth === undefined
          ? []
          : [SipAuthModule.forRoot({ realm: auth.realm, credentials: lookupIn(auth.users), algorithms: auth.algorithms, secret: auth.secret, global: true, proxy: calls.mode === 'proxy' ? 'auto' : false })]),
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
        { provide: REGISTRAR_CONFIG, useValue: config },
        // Replace with a persistent LocationStore in a real deployment.
        { provide: LOCATION_STORE, useValue: new InMemoryLocationStore() },
      ],
    };
  }
}
