import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { B2bua, SipClient, type ProxyTarget, type B2buaAnswer, type BridgeTarget, type SipContext, type SipDialog, type SipServer } from 'nestjs-sip';
import { RegistrarService } from './registrar.service.js';

export interface CallsConfig {
  /**
   * 'proxy': calls to registered users are proxied to all their phones (record-routed: the phones
   * talk to each other, in-dialog requests pass through here); 'bridge': connected by a B2BUA;
   * 'redirect': answered 302 with their contacts.
   */
  mode: 'proxy' | 'bridge' | 'redirect';
  /** A call nobody answers within this many seconds gets 480. */
  ringSeconds: number;
}

export const CALLS_CONFIG = Symbol('CALLS_CONFIG');

/** A user's newest registrations rung at once, at most. */
const MAX_FORKS = 10;
export const SIP_SERVER = Symbol('SIP_SERVER');

/**
 * Calls between registered users: the callee's registered phones (its newest 10) are called at
 * once on legs of our own, the first to answer is joined to the caller (B2bua) and the others are
 * cancelled; both phones only ever talk to this service, their media flows directly between them
 * (the SDP crosses unchanged).
 */
@Injectable()
export class CallsService implements OnModuleDestroy {
  private readonly logger = new Logger('CALLS');
  private b2bua: B2bua | undefined;
  private client: SipClient | undefined;

  constructor(
    @Inject(SIP_SERVER) private readonly server: SipServer,
    @Inject(CALLS_CONFIG) private readonly config: CallsConfig,
    private readonly registrar: RegistrarService,
  ) {}

  /**
   * A new call to a user, proxied: every phone the user registered rings at once, the first to
   * answer takes it, the others are cancelled; 404 unknown, 480 not registered or no answer in time.
   * The service stays in the call's path (Record-Route) but the SDP and the call are the phones'.
   */
  async route(ctx: SipContext): Promise<void> {
    const req = ctx.getRequest();
    const { aor, bindings } = await this.registrar.lookup(req);
    // A phone on a connection of ours (a browser on the WebSocket leg, whose Contact is
    // `sip:x@abc.invalid;transport=ws`) is reached down that connection, not at its Contact.
    const targets: ProxyTarget[] = bindings.slice(-MAX_FORKS).map((b) => {
      const s = b.source;
      return s?.flow !== undefined && s.connection !== undefined ? { uri: b.uri, destination: { proto: s.proto, addr: s.addr, port: s.port, family: s.family, flow: s.flow } } : b.uri;
    });
    this.logger.log(`${req.from.uri} -> ${aor} at ${bindings.slice(-MAX_FORKS).map((b) => b.uri).join(', ')} (proxied)`);
    await ctx.proxy(targets, {
      branchTimeout: this.config.ringSeconds * 1000,
      // Rung out everywhere (our timeout, or Timer C): the caller hears "no answer", not a timeout.
      onFailure: (best) => (best.status === 408 ? 480 : undefined),
    });
  }

  /** A new call to a user, bridged: every phone the user registered rings at once, the first to answer takes it (404 unknown, 480 not registered). */
  async connect(ctx: SipContext): Promise<B2buaAnswer> {
    const req = ctx.getRequest();
    const { aor, bindings } = await this.registrar.lookup(req);
    // A phone on a connection of ours (a browser on the WebSocket leg) is called down that connection.
    const targets: BridgeTarget[] = bindings.slice(-MAX_FORKS).map((b) => {
      const s = b.source;
      return s?.flow !== undefined && s.connection !== undefined ? { uri: b.uri, flow: s.flow } : { uri: b.uri };
    });
    this.logger.log(`${req.from.uri} -> ${aor} at ${targets.map((t) => t.uri).join(', ')}`);
    return this.bridge().bridge(
      ctx,
      { to: targets, headers: { To: `<${aor}>` }, copyHeaders: ['subject', 'alert-info'], ringTimeout: this.config.ringSeconds * 1000 },
      ({ a, b }) => this.logger.log(`connected ${a.callId} <-> ${b.callId}`),
    );
  }

  /** A dialog this service joined to another. */
  isBridged(dialog: SipDialog): boolean {
    return this.b2bua?.peerOf(dialog) !== undefined;
  }

  /** A re-INVITE on a bridged call goes to the other phone. */
  reinvite(ctx: SipContext): Promise<B2buaAnswer> {
    return this.bridge().bridge(ctx, { to: '' });
  }

  /** INFO, UPDATE... inside a bridged call go to the other phone. */
  carry(ctx: SipContext): Promise<B2buaAnswer> {
    return this.bridge().carry(ctx);
  }

  async onModuleDestroy(): Promise<void> {
    await this.client?.close();
  }

  /** Made at the first call: the server's legs exist only once it listens. */
  private bridge(): B2bua {
    if (this.b2bua === undefined) {
      this.client = new SipClient({ server: this.server, userAgent: 'nestjs-sip-example' });
      this.b2bua = new B2bua(this.client);
    }
    return this.b2bua;
  }
}
