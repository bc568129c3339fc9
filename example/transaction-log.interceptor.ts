import { Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { SipContext, SipReply } from 'nestjs-sip';
import { SipException, SipRequest } from 'nestjs-sip';
import { tap, type Observable } from 'rxjs';

/** One log line per transaction: method, sender, result, time. */
@Injectable()
export class TransactionLogInterceptor implements NestInterceptor {
  private readonly logger = new Logger('SIP');

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const rpc = context.switchToRpc();
    const req = rpc.getData<SipRequest>();
    const ctx = rpc.getContext<SipContext>();
    if (!(req instanceof SipRequest)) return next.handle();
    const from = ctx.getFrom();
    const started = performance.now();
    const line = (result: string): void =>
      this.logger.log(`${req.method} ${req.from.uri} via ${from.proto}:${from.addr}:${from.port} -> ${result} (${(performance.now() - started).toFixed(1)} ms)`);
    return next.handle().pipe(
      tap({
        next: (reply) => line(String(statusOf(reply as SipReply))),
        error: (err: unknown) => line(err instanceof SipException ? `${err.status} ${err.reason}` : `500 (${(err as Error)?.message ?? err})`),
      }),
    );
  }
}

function statusOf(reply: SipReply): number | string {
  if (typeof reply === 'number') return reply;
  if (reply && typeof reply === 'object' && 'status' in reply) return reply.status;
  return '?';
}
