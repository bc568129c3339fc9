// Nest's request pipeline around SIP handlers: guards, interceptors (route and global), pipes and
// exception filters work unchanged, and what they say becomes the SIP response.
import 'reflect-metadata';
import {
  Catch,
  Controller,
  Injectable,
  Module,
  UseFilters,
  UseGuards,
  UseInterceptors,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type LoggerService,
  type NestInterceptor,
  type PipeTransform,
  type RpcExceptionFilter,
} from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { map, throwError, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipContext, SipException, type SipRequest } from 'nestjs-sip';
import { sipRequest, startApp, UdpClient, uniq, waitUntil, type RunningApp } from './support.js';

const ran: string[] = [];

class CapturingLogger implements LoggerService {
  readonly errors: string[] = [];
  log(): void {}
  warn(): void {}
  error(message: unknown, ...rest: unknown[]): void {
    this.errors.push([message, ...rest].map((m) => (m instanceof Error ? `${m.message} ${m.stack ?? ''}` : String(m))).join(' '));
  }
}
const logger = new CapturingLogger();

@Injectable()
class UserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToRpc().getData<SipRequest>();
    const ctx = context.switchToRpc().getContext<SipContext>();
    ran.push(`guard:${req.callId}:${ctx instanceof SipContext}`);
    const user = req.requestUri.user;
    if (user === 'blocked') throw new SipException(403, 'Blocked By Guard', { headers: { Warning: '399 - "not on the list"' } });
    return user !== 'denied' && user !== 'hidden';
  }
}

/** Turns a plain status result into a description with a header (and proves it saw the result). */
@Injectable()
class TagInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((r) => (typeof r === 'number' ? { status: r, headers: { 'X-Intercepted': String(r) } } : r)));
  }
}

/** Global: stamps every description it sees. */
@Injectable()
class GlobalInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToRpc().getData<SipRequest>();
    ran.push(`global:${req.callId}`);
    return next.handle();
  }
}

/** Payload pipe: the handler gets the Subject, or the request is refused. */
@Injectable()
class SubjectPipe implements PipeTransform<SipRequest, string> {
  transform(req: SipRequest): string {
    const s = req.headers.get('subject');
    if (s === undefined || s === '') throw new SipException(400, 'Subject Required');
    return s.toUpperCase();
  }
}

/** Throws a plain error for user 'explode' (before the handler, outside its Observable). */
@Injectable()
class ExplodingGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.switchToRpc().getData<SipRequest>().requestUri.user === 'explode') throw new Error('guard exploded');
    return true;
  }
}

class NoSuchUser extends Error {}

/** Domain errors -> 404; Nest's guard denial (an RpcException) -> 404 too, to hide what exists. */
@Catch(NoSuchUser, RpcException)
class HideFilter implements RpcExceptionFilter<Error> {
  catch(exception: Error): Observable<never> {
    if (exception instanceof SipException) return throwError(() => exception.getError());
    return throwError(() => new SipException(404, 'Not Here').getError());
  }
}

/** A broken filter: its catch() itself throws. */
@Catch()
class BrokenFilter implements RpcExceptionFilter<Error> {
  catch(): Observable<never> {
    throw new Error('the filter itself failed');
  }
}

@Controller()
class Guarded {
  @UseGuards(UserGuard)
  @UseInterceptors(TagInterceptor)
  @MessagePattern('OPTIONS')
  options(@Payload() req: SipRequest) {
    ran.push(`handler:${req.callId}`);
    return 200;
  }

  @MessagePattern('MESSAGE')
  message(@Payload(SubjectPipe) subject: string, @Ctx() ctx: SipContext) {
    return { status: 200, headers: { 'X-Subject': subject, 'X-Call': ctx.getRequest().callId } };
  }

  @UseGuards(UserGuard)
  @UseFilters(HideFilter)
  @MessagePattern('INFO')
  info(@Payload() req: SipRequest) {
    if (req.requestUri.user === 'ghost') throw new NoSuchUser('ghost');
    return 200;
  }

  @MessagePattern('INVITE')
  invite() {
    return 200;
  }

  @UseGuards(ExplodingGuard)
  @UseFilters(BrokenFilter)
  @MessagePattern('PUBLISH')
  publish(): never {
    throw new Error('handler failed');
  }

  @EventPattern('ACK')
  ack(@Payload() req: SipRequest): void {
    ran.push(`ack:${req.callId}`);
    throw new Error('ACK handler failed');
  }
}

@Module({ controllers: [Guarded], providers: [UserGuard, ExplodingGuard, TagInterceptor, SubjectPipe] })
class PipelineModule {}

describe('Nest pipeline around SIP handlers', () => {
  let app: RunningApp;
  let c: UdpClient;
  beforeAll(async () => {
    app = await startApp(PipelineModule, { listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] }, false, (a) => {
      a.useLogger(logger);
      a.useGlobalInterceptors(new GlobalInterceptor());
    });
    c = await UdpClient.open();
  });
  afterAll(async () => {
    await c?.close();
    await app?.close();
  });

  async function ask(method: string, user: string, headers: string[] = []) {
    const callId = `${user}-${uniq()}`;
    await c.send(sipRequest({ method, uri: `sip:${user}@127.0.0.1`, callId, headers }), app.port('udp'));
    return { callId, res: await c.response(callId) };
  }

  it('guard lets it through; the route interceptor maps the result; the global interceptor runs', async () => {
    const { callId, res } = await ask('OPTIONS', 'alice');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-intercepted')).toBe('200');
    // Nest's order: guards, then interceptors (global first), then the handler.
    expect(ran.filter((r) => r.includes(callId))).toEqual([`guard:${callId}:true`, `global:${callId}`, `handler:${callId}`]);
  });

  it('a guard that throws a SipException: that response, the handler never runs', async () => {
    const { callId, res } = await ask('OPTIONS', 'blocked');
    expect([res.status, res.reason]).toEqual([403, 'Blocked By Guard']);
    expect(res.headers.get('warning')).toBe('399 - "not on the list"');
    expect(res.to.tag).toBeTruthy();
    expect(ran).not.toContain(`handler:${callId}`);
  });

  it("a guard that returns false (Nest's 'Forbidden resource'): 403 Forbidden", async () => {
    const { callId, res } = await ask('OPTIONS', 'denied');
    expect(res.status).toBe(403);
    expect(ran).not.toContain(`handler:${callId}`);
  });

  it('an exception filter decides: a denied guard and a domain error both become its 404', async () => {
    expect((await ask('INFO', 'hidden')).res.status).toBe(404);
    expect((await ask('INFO', 'ghost')).res.status).toBe(404);
    expect((await ask('INFO', 'blocked')).res.status).toBe(403); // the filter passes SipExceptions on
    expect((await ask('INFO', 'bob')).res.status).toBe(200);
  });

  it('an exception filter that throws itself: 500, logged, and the process carries on', async () => {
    const before = logger.errors.length;
    expect((await ask('PUBLISH', 'bob')).res.status).toBe(500); // the handler throws, inside the stream
    expect((await ask('PUBLISH', 'explode')).res.status).toBe(500); // the guard throws, before it
    expect(logger.errors.slice(before).filter((e) => e.includes('the filter itself failed'))).toHaveLength(2);
    expect((await ask('OPTIONS', 'alice')).res.status).toBe(200);
  });

  it('an ACK handler that throws: logged, nothing else happens', async () => {
    const callId = `ackthrow-${uniq()}`;
    await c.send(sipRequest({ method: 'INVITE', uri: 'sip:bob@127.0.0.1', callId, fromTag: 'f1' }), app.port('udp'));
    const ok = await c.status(callId, 200);
    await c.send(sipRequest({ method: 'ACK', uri: 'sip:bob@127.0.0.1', callId, fromTag: 'f1', toTag: ok.to.tag! }), app.port('udp'));
    await waitUntil(() => ran.includes(`ack:${callId}`), 2000, 'the ACK handler');
    await waitUntil(() => logger.errors.some((e) => e.includes('ACK handler failed')), 2000, 'the error logged');
    expect((await ask('OPTIONS', 'alice')).res.status).toBe(200);
  });

  it('a pipe transforms the payload, or refuses it with a SipException', async () => {
    const ok = await ask('MESSAGE', 'bob', ['Subject: lunch?']);
    expect(ok.res.status).toBe(200);
    expect(ok.res.headers.get('x-subject')).toBe('LUNCH?');
    expect(ok.res.headers.get('x-call')).toBe(ok.callId);
    const refused = await ask('MESSAGE', 'bob');
    expect([refused.res.status, refused.res.reason]).toEqual([400, 'Subject Required']);
  });
});
