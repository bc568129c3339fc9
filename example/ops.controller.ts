import { Controller, Get, Header, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { SipRegistrar, type SipServer } from 'nestjs-sip';
import { sipHealthCheck } from 'nestjs-sip/terminus';
import { SIP_SERVER } from './calls.service.js';

/**
 * The example's HTTP side for operators (HTTP_PORT, default 8080): Prometheus metrics and a
 * health check an orchestrator can probe. HTTP routes are not SIP: the digest guard leaves them alone.
 */
@Controller()
export class OpsController {
  constructor(
    @Inject(SIP_SERVER) private readonly server: SipServer,
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly registrar: SipRegistrar,
  ) {}

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): string {
    return this.server.metrics?.text() ?? '';
  }

  @Get('health')
  @HealthCheck()
  check() {
    // The location store too: with SIP_REDIS_URL, Redis unreachable means REGISTERs get 503.
    return this.health.check([() => sipHealthCheck(this.server, this.indicators, { checks: { 'location store': () => this.registrar.ping() } })]);
  }
}
