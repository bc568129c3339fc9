// nestjs-sip/testing (issue 18 §4): a handler unit-tested with @nestjs/testing, no socket, no casts:
// the context a handler gets, its transaction's responses (a provisional one the handler sent itself,
// the final one the reply becomes), the CANCEL path and the request checks.
import 'reflect-metadata';
import { Controller, Injectable } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { SipException, type SipContext, type SipRequest } from 'nestjs-sip';
import { createTestContext } from 'nestjs-sip/testing';

@Injectable()
class Directory {
  has(user: string | undefined): boolean {
    return user === 'alice';
  }
}

@Controller()
class Calls {
  constructor(private readonly directory: Directory) {}

  @MessagePattern('INVITE')
  async invite(@Payload() req: SipRequest, @Ctx() ctx: SipContext) {
    if (!this.directory.has(req.requestUri.user)) throw new SipException(404);
    await ctx.sendProvisional(180);
    return { status: 200, headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\n' };
  }
}

const invite = (user: string) => `INVITE sip:${user}@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-test-1
From: <sip:bob@example.com>;tag=b1
To: <sip:${user}@example.com>
Call-ID: unit-1
CSeq: 1 INVITE
Max-Forwards: 70
Contact: <sip:bob@192.0.2.10>
Content-Length: 0

`;

describe('nestjs-sip/testing', () => {
  it('runs a handler of a Nest testing module: its 180 is sent, its reply becomes the 200', async () => {
    const module = await Test.createTestingModule({ controllers: [Calls], providers: [Directory] }).compile();
    const calls = module.get(Calls);
    const t = createTestContext(invite('alice'));
    const reply = await calls.invite(t.request, t.ctx);
    expect(t.responses.map((r) => r.status)).toEqual([180]);
    const final = await t.respond(reply);
    expect(final.status).toBe(200);
    expect(t.responses.map((r) => r.status)).toEqual([180, 200]);
    expect(t.responses[1]!.to.tag).toBe(t.responses[0]!.to.tag); // one To tag for the transaction
    expect(t.ctx.dialog).toBeDefined(); // the 180 with a tag made the early dialog... and the 200 confirmed it
  });

  it('an unknown user: the handler throws 404', async () => {
    const module = await Test.createTestingModule({ controllers: [Calls], providers: [Directory] }).compile();
    const t = createTestContext(invite('mallory'));
    await expect(module.get(Calls).invite(t.request, t.ctx)).rejects.toMatchObject({ status: 404 });
  });

  it('timers run on the manual clock: 100 Trying after 200 ms without an answer', () => {
    const t = createTestContext(invite('alice'));
    expect(t.responses).toHaveLength(0);
    t.clock.advance(250);
    expect(t.responses.map((r) => r.status)).toEqual([100]);
  });

  it('a request the transaction layer refuses is named', () => {
    expect(() => createTestContext('OPTIONS sip:a@example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n')).toThrow(/refused|Via/);
  });
});
