// `nestjs-sip/terminus`: the SipServer's health as a @nestjs/terminus indicator. A separate entry
// point, so that only applications that import it need @nestjs/terminus (an optional peer dependency).
import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import type { SipHealthOptions, SipServer } from './nest/index.js';

export interface SipHealthCheckOptions extends SipHealthOptions {
  /** The key of this indicator in the health report. Default `sip`. */
  key?: string;
}

/**
 * One terminus indicator for a SipServer: `up` when every leg is bound, the event loop is not
 * stuck and the given checks pass; `down` with the reasons otherwise. Use it in a health check:
 * `this.health.check([() => sipHealthCheck(server, this.indicators)])`.
 */
export async function sipHealthCheck(server: SipServer, indicators: HealthIndicatorService, opts: SipHealthCheckOptions = {}): Promise<HealthIndicatorResult> {
  const r = await server.health(opts);
  const session = indicators.check(opts.key ?? 'sip');
  const data = { legs: r.legs.map((l) => `${l.address} ${l.up ? 'up' : 'down'}`), loopDelayMs: Math.round(r.loopDelayMs) };
  return r.ok ? session.up(data) : session.down({ ...data, problems: r.problems });
}
