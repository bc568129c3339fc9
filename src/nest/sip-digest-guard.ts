import { applyDecorators, Inject, Injectable, SetMetadata, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DigestAuthenticator, type AuthCheckOptions } from '../auth/index.js';
import { SipContext } from './sip-context.js';
import { SipDropException, SipException } from './sip-exception.js';

/** Metadata key of @SipAuth / @SipPublic. */
export const SIP_AUTH_METADATA = 'nestjs-sip:auth';

/** Injection token of the in-dialog policy (SipAuthModule options). */
export const SIP_AUTH_IN_DIALOG = 'nestjs-sip:auth-in-dialog';

/** Per-handler settings of digest authentication. */
export interface SipAuthHandlerOptions extends AuthCheckOptions {}

/**
 * Requires digest authentication for a handler (or every handler of a controller): a request
 * without valid credentials gets `401`/`407` with a challenge and never reaches the handler; the
 * proven user is `ctx.auth`. Needs `SipAuthModule.forRoot(...)` in the application.
 */
export function SipAuth(options: SipAuthHandlerOptions = {}): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(SIP_AUTH_METADATA, options), UseGuards(SipDigestGuard));
}

/** Exempts a handler (or controller) from a global SipDigestGuard. */
export function SipPublic(): MethodDecorator & ClassDecorator {
  return SetMetadata(SIP_AUTH_METADATA, false);
}

/**
 * The Nest guard of digest authentication (RFC 3261 §22). Lets through what cannot be challenged
 * (ACK, CANCEL), requests inside a dialog the server already has (the dialog was set up by a
 * request that authenticated; `inDialog: 'challenge'` in the module options changes that),
 * non-SIP contexts (HTTP routes of a hybrid app), and handlers marked @SipPublic(). Anything else
 * must prove its user; a refused request is answered from here, a throttled one maybe not at all.
 */
@Injectable()
export class SipDigestGuard implements CanActivate {
  constructor(
    @Inject(DigestAuthenticator) private readonly auth: DigestAuthenticator,
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(SIP_AUTH_IN_DIALOG) private readonly inDialog: 'trust' | 'challenge',
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'rpc') return true;
    const ctx = context.switchToRpc().getContext<unknown>();
    if (!(ctx instanceof SipContext)) return true;
    // Proven already: the guard is global and on the handler too (a second check would be a replay).
    if (ctx.auth !== undefined) return true;
    const meta = this.reflector.getAllAndOverride<SipAuthHandlerOptions | false | undefined>(SIP_AUTH_METADATA, [context.getHandler(), context.getClass()]);
    if (meta === false) return true;
    const req = ctx.getRequest();
    if (req.method === 'ACK' || req.method === 'CANCEL') return true; // RFC 3261 §22.1: never challenged
    if (this.inDialog === 'trust' && ctx.dialog !== undefined && req.to.tag !== undefined) return true;
    const out = await this.auth.authenticate(req, ctx.getFrom().addr, meta ?? {});
    if (out.ok) {
      ctx.auth = out.identity;
      return true;
    }
    if ('drop' in out) throw new SipDropException();
    throw new SipException(out.refusal.status, out.refusal.reason, out.refusal.headers === undefined ? undefined : { headers: out.refusal.headers });
  }
}
