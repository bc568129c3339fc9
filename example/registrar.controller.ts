import { Controller, Logger, UseInterceptors } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { SipPublic, type SipContext, type SipRequest, type SipResponseDescription } from 'nestjs-sip';
import { EchoService } from './echo/echo.service.js';
import { RegistrarService } from './registrar.service.js';
import { TransactionLogInterceptor } from './transaction-log.interceptor.js';

export const ALLOW = 'REGISTER, INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE';

/**
 * A registrar and redirect server: REGISTER stores bindings, INVITE is redirected to them; and the
 * echo test call, `INVITE sip:echo@host` (see echo/).
 */
@Controller()
@UseInterceptors(TransactionLogInterceptor)
export class RegistrarController {
  private readonly logger = new Logger('MESSAGE');

  constructor(
    private readonly registrar: RegistrarService,
    private readonly echo: EchoService,
  ) {}

  @MessagePattern('REGISTER')
  register(@Payload() req: SipRequest): Promise<SipResponseDescription> {
    return this.registrar.register(req);
  }

  @MessagePattern('INVITE')
  invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext): Promise<SipResponseDescription> | SipResponseDescription {
    const dialog = ctx.dialog;
    if (dialog !== undefined) return this.echo.reinvite(req, dialog); // echo calls are the only dialogs here
    if (dialog === undefined && req.requestUri.user === 'echo') return this.echo.answer(req, ctx);
    return this.registrar.locate(req);
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
