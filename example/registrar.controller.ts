import { Controller, Inject, Logger } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { SipPublic, type SipContext, type SipRequest, type SipResponseDescription } from 'nestjs-sip';
import { CALLS_CONFIG, CallsService, type CallsConfig } from './calls.service.js';
import { EchoService } from './echo/echo.service.js';
import { RegistrarService } from './registrar.service.js';

export const ALLOW = 'REGISTER, INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO, UPDATE';

/**
 * A registrar that connects calls: REGISTER stores bindings, an INVITE to a user is proxied to its
 * newest bindings (or bridged, SIP_CALLS=bridge, or redirected to them, SIP_CALLS=redirect); and
 * the echo test call, `INVITE sip:echo@host` (see echo/).
 */
@Controller()
export class RegistrarController {
  private readonly logger = new Logger('MESSAGE');

  constructor(
    private readonly registrar: RegistrarService,
    private readonly echo: EchoService,
    private readonly calls: CallsService,
    @Inject(CALLS_CONFIG) private readonly callsConfig: CallsConfig,
  ) {}

  @MessagePattern('REGISTER')
  register(@Payload() req: SipRequest, @Ctx() ctx: SipContext): Promise<SipResponseDescription> {
    return this.registrar.register(req, ctx.getFrom());
  }

  @MessagePattern('INVITE')
  invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext): Promise<SipResponseDescription | void> | SipResponseDescription {
    const dialog = ctx.dialog;
    if (dialog !== undefined) return this.calls.isBridged(dialog) ? this.calls.reinvite(ctx) : this.echo.reinvite(req, dialog);
    if (req.requestUri.user === 'echo') return this.echo.answer(req, ctx);
    switch (this.callsConfig.mode) {
      case 'proxy':
        return this.calls.route(ctx);
      case 'bridge':
        return this.calls.connect(ctx);
      default:
        return this.registrar.locate(req);
    }
  }

  // DTMF (INFO) and session updates (UPDATE) inside a connected call go to the other phone.
  @MessagePattern('INFO')
  info(@Ctx() ctx: SipContext): Promise<SipResponseDescription> {
    return this.calls.carry(ctx);
  }

  @MessagePattern('UPDATE')
  update(@Ctx() ctx: SipContext): Promise<SipResponseDescription> {
    return this.calls.carry(ctx);
  }

  // Keep-alive pings and monitoring probes are never challenged.
  @SipPublic()
  @MessagePattern('OPTIONS')
  options(): SipResponseDescription {
    return { status: 200, headers: { Allow: ALLOW, Accept: 'application/sdp, text/plain' } };
  }

  @MessagePattern('MESSAGE')
  message(@Payload() req: SipRequest, @Ctx() ctx: SipContext): number {
    const from = ctx.getFrom();
    this.logger.log(`from ${req.from.uri} (${from.proto} ${from.addr}:${from.port}): ${req.body.toString('utf8')}`);
    return 200;
  }
}
