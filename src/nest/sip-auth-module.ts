import { Global, Logger, Module, type DynamicModule, type InjectionToken, type ModuleMetadata, type OptionalFactoryDependency, type Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DigestAuthenticator, type DigestAuthOptions } from '../auth/index.js';
import { printable } from '../message/index.js';
import { SIP_AUTH_IN_DIALOG, SipDigestGuard } from './sip-digest-guard.js';

export interface SipAuthModuleOptions extends DigestAuthOptions {
  /** Guard every SIP handler of the application (exempt some with @SipPublic()). Default false: use @SipAuth() where needed. */
  global?: boolean;
  /**
   * Requests inside a dialog the server has (a To tag that matches): 'trust' (default) lets them
   * through, as Kamailio's default configuration does, since the dialog began with an
   * authenticated request; 'challenge' authenticates them too.
   */
  inDialog?: 'trust' | 'challenge';
}

export interface SipAuthModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: any[]) => SipAuthModuleOptions | Promise<SipAuthModuleOptions>;
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** As in the options, but known before the factory runs (it decides which providers exist). */
  global?: boolean;
}

const OPTIONS = 'nestjs-sip:auth-options';

/**
 * Digest authentication for SIP handlers: `SipAuthModule.forRoot({ realm, credentials })` provides
 * the DigestAuthenticator and SipDigestGuard everywhere (a global module); `@SipAuth()` protects a
 * handler or controller, or `global: true` all of them.
 */
@Global()
@Module({})
export class SipAuthModule {
  static forRoot(options: SipAuthModuleOptions): DynamicModule {
    return SipAuthModule.build([{ provide: OPTIONS, useValue: options }], options.global === true);
  }

  static forRootAsync(options: SipAuthModuleAsyncOptions): DynamicModule {
    const dyn = SipAuthModule.build([{ provide: OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }], options.global === true);
    return { ...dyn, imports: options.imports ?? [] };
  }

  private static build(optionProviders: Provider[], global: boolean): DynamicModule {
    const providers: Provider[] = [
      ...optionProviders,
      {
        provide: DigestAuthenticator,
        useFactory: (o: SipAuthModuleOptions) => {
          const log = new Logger('SipAuth');
          return new DigestAuthenticator(o, (kind, key, until, failures) => {
            const secs = Math.round((until - Date.now()) / 1000);
            log.warn(`${kind === 'source' ? 'source' : 'user'} ${printable(key, 100)} blocked for ${secs} s after ${failures} failed digest attempts`);
          });
        },
        inject: [OPTIONS],
      },
      { provide: SIP_AUTH_IN_DIALOG, useFactory: (o: SipAuthModuleOptions) => (o.inDialog === 'challenge' ? 'challenge' : 'trust'), inject: [OPTIONS] },
      SipDigestGuard,
    ];
    if (global) providers.push({ provide: APP_GUARD, useExisting: SipDigestGuard });
    return { module: SipAuthModule, providers, exports: [DigestAuthenticator, SipDigestGuard, SIP_AUTH_IN_DIALOG] };
  }
}
