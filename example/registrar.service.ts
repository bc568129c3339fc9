import { Injectable } from '@nestjs/common';
import { contactOf, SipException, SipRegistrar, type Binding, type SipPeer, type SipRequest, type SipResponseDescription } from 'nestjs-sip';

/** The library's registrar (SipRegistrarModule), as the example's handlers and call routing use it. */
@Injectable()
export class RegistrarService {
  constructor(private readonly registrar: SipRegistrar) {}

  /** Answer a REGISTER, recording where it came from. */
  register(req: SipRequest, from: SipPeer): Promise<SipResponseDescription> {
    return this.registrar.register(req, from);
  }

  /** The Request-URI's AOR and its live bindings, oldest first (404 / 480 / 503 as SipException). */
  async lookup(req: SipRequest): Promise<{ aor: string; bindings: Binding[] }> {
    const r = await this.registrar.lookup(req.uri);
    if (r.status !== 200) throw new SipException(r.status, r.reason, { headers: r.headers });
    return r;
  }

  /** Redirect (302) to the bindings of the Request-URI's AOR; 404 unknown, 480 known but not registered now. */
  async locate(req: SipRequest): Promise<SipResponseDescription> {
    const { bindings } = await this.lookup(req);
    const now = Date.now();
    return { status: 302, headers: { Contact: bindings.map((b) => contactOf(b, now)) } };
  }
}
