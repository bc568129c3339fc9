import { Global, Inject, Injectable, Logger, Module, type DynamicModule, type InjectionToken, type ModuleMetadata, type OnApplicationShutdown, type OptionalFactoryDependency, type Provider } from '@nestjs/common';
import { SipRegistrar, type SipRegistrarOptions } from '../registrar/index.js';
import { RateLimitedLog } from './rate-limited-log.js';

export interface SipRegistrarModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: any[]) => SipRegistrarOptions | Promise<SipRegistrarOptions>;
  inject?: (InjectionToken | OptionalFactoryDependency)[];
}

const OPTIONS = 'nestjs-sip:registrar-options';

/** Closes the registrar's store when the application shuts down. */
@Injectable()
class SipRegistrarShutdown implements OnApplicationShutdown {
  constructor(@Inject(SipRegistrar) private readonly registrar: SipRegistrar) {}

  async onApplicationShutdown(): Promise<void> {
    await this.registrar.close();
  }
}

/**
 * A registrar for the application (a global module): `SipRegistrarModule.forRoot({ store, minExpires... })`
 * provides `SipRegistrar`; a `@MessagePattern('REGISTER')` handler returns
 * `registrar.register(req, ctx.getFrom())`, call routing asks `registrar.lookup(uri)`.
 * Store failures are logged (a few lines per 10 s, however many REGISTERs fail).
 */
@Global()
@Module({})
export class SipRegistrarModule {
  static forRoot(options: SipRegistrarOptions = {}): DynamicModule {
    return SipRegistrarModule.build({ provide: OPTIONS, useValue: options });
  }

  static forRootAsync(options: SipRegistrarModuleAsyncOptions): DynamicModule {
    return { ...SipRegistrarModule.build({ provide: OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }), imports: options.imports ?? [] };
  }

  private static build(optionsProvider: Provider): DynamicModule {
    const providers: Provider[] = [
      optionsProvider,
      {
        provide: SipRegistrar,
        useFactory: (o: SipRegistrarOptions) => {
          const logger = new Logger('SipRegistrar');
          const log = new RateLimitedLog((_kind, line) => logger.warn(line));
          return new SipRegistrar({
            ...o,
            onStoreError: (err) => {
              log.log('store', `location store failed: ${err.message}`);
              o.onStoreError?.(err);
            },
          });
        },
        inject: [OPTIONS],
      },
      SipRegistrarShutdown,
    ];
    return { module: SipRegistrarModule, providers, exports: [SipRegistrar] };
  }
}
