import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { SipException, type SipContext, type SipDialog, type SipRequest, type SipResponseDescription } from 'nestjs-sip';
import { answerDirection, audioAnswer, isWebRtcOffer, readAudioOffer, sends, type AudioOffer } from './sdp-answer.js';
import type { MediaPorts } from './media-ports.js';
import { mediaHostFor, RtpReflector } from './rtp-reflector.js';
// Types only: werift (~300 ms to load) is loaded at the first browser call, not at start.
import type { WebRtcEcho } from './webrtc-echo.js';

export interface EchoConfig {
  /** The address RTP is received on (and written into the SDP answer; for a wildcard, the one the caller is routed from). */
  host: string;
  /** The call is ended with BYE after this many seconds, unless the caller hangs up first. */
  seconds: number;
  ports: MediaPorts;
  /** WebRTC echo calls (browsers) at once, at most (default 10); 0: WebRTC offers are refused (488). */
  webrtcCalls?: number;
}

/** A WebRTC call whose media is not up this many seconds after the answer is ended. */
const WEBRTC_CONNECT_SECONDS = 10;

export const ECHO_CONFIG = Symbol('ECHO_CONFIG');

/** One echo call: its media port and reflector, and the answer's version for re-INVITEs. */
interface EchoCall {
  /** The address and port of our answers. */
  host: string;
  port: number;
  /** Plain RTP (phones), or a WebRTC endpoint (browsers). */
  media: RtpReflector | WebRtcEcho;
  sessionId: number;
  version: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Its port went back (once only: a port released twice could be another call's by then). */
  released: boolean;
  /** Its WebRTC media died before the call was acknowledged: end it then. */
  dead: boolean;
}

/**
 * The test call (`INVITE sip:echo@host`): answers with the first offered audio codec, reflects
 * every RTP packet back to its sender, and hangs up after `seconds` unless the caller does first.
 * A WebRTC offer (a browser: ICE, DTLS-SRTP) is answered by a WebRTC endpoint that loops the audio back.
 * Media ports come from a bounded range and go back when the call ends, however it ends.
 */
@Injectable()
export class EchoService implements OnModuleDestroy {
  private readonly logger = new Logger('ECHO');
  private readonly calls = new Map<SipDialog, EchoCall>();
  /** WebRTC calls being answered or running (bounded by `webrtcCalls`). */
  private webrtcLive = 0;
  /** Calls answered but not yet acknowledged (their dialog is not known to us yet). */
  private readonly pending = new Set<EchoCall>();

  constructor(@Inject(ECHO_CONFIG) private readonly config: EchoConfig) {}

  /** A new call to the echo. */
  async answer(req: SipRequest, ctx: SipContext): Promise<SipResponseDescription> {
    const webrtc = this.webRtcOfferOf(req);
    if (webrtc !== undefined) return this.answerWebRtc(webrtc, ctx);
    const offer = this.offerOf(req);
    const port = this.config.ports.take();
    if (port === undefined) throw new SipException(486, 'Busy Here', { headers: { Warning: '399 - "no free media port"' } });
    let reflector: RtpReflector;
    let host: string;
    try {
      host = await mediaHostFor(this.config.host, ctx.getFrom().addr);
      reflector = await RtpReflector.open(this.config.host, port);
    } catch (err) {
      this.config.ports.release(port);
      throw new SipException(503, 'Service Unavailable', { headers: { 'Retry-After': 5, Warning: `399 - "media port ${port}: ${(err as Error).message.replace(/["\\]/g, '')}"` } });
    }
    const call: EchoCall = { host, port, media: reflector, sessionId: Math.floor(Math.random() * 1e9), version: 1, timer: undefined, released: false, dead: false };
    reflector.sending = sends(answerDirection(offer.direction));
    this.pending.add(call);
    void ctx.whenAcknowledged().then((ack) => this.started(call, ack !== undefined ? ctx.dialog : undefined));
    return { status: 200, contentType: 'application/sdp', body: audioAnswer(offer, host, port, call.version, call.sessionId) };
  }

  /** A browser's call: a WebRTC endpoint on a port pair of the range, bounded by `webrtcCalls`. */
  private async answerWebRtc(offer: string, ctx: SipContext): Promise<SipResponseDescription> {
    if (this.webrtcLive >= (this.config.webrtcCalls ?? 10)) throw new SipException(486, 'Busy Here', { headers: { Warning: '399 - "too many WebRTC echo calls"' } });
    const port = this.config.ports.take();
    if (port === undefined) throw new SipException(486, 'Busy Here', { headers: { Warning: '399 - "no free media port"' } });
    this.webrtcLive++; // counted from now: calls being answered at once count too
    let answered: { echo: WebRtcEcho; sdp: string };
    try {
      const { WebRtcEcho } = await import('./webrtc-echo.js');
      answered = await WebRtcEcho.answer(offer, this.config.host, port, WEBRTC_CONNECT_SECONDS);
    } catch (err) {
      this.config.ports.release(port);
      this.webrtcLive--;
      throw new SipException(488, 'Not Acceptable Here', { headers: { Warning: `399 - "WebRTC: ${(err as Error).message.replace(/["\\]/g, '')}"` } });
    }
    const call: EchoCall = { host: this.config.host, port, media: answered.echo, sessionId: 0, version: 1, timer: undefined, released: false, dead: false };
    answered.echo.onDead = () => (call.dead = true); // before the ACK: ended once it comes
    this.pending.add(call);
    void ctx.whenAcknowledged().then((ack) => this.started(call, ack !== undefined ? ctx.dialog : undefined));
    return { status: 200, contentType: 'application/sdp', body: answered.sdp };
  }

  /**
   * A re-INVITE in an echo call (hold, resume): a fresh answer on the same port. Without a body (a
   * session refresh) our session as it stands is the offer (RFC 3264 §8: same version); the answer
   * comes in the ACK.
   */
  reinvite(req: SipRequest, dialog: SipDialog): SipResponseDescription | Promise<SipResponseDescription> {
    const call = this.calls.get(dialog);
    // The only dialogs here are echo calls: one not in `calls` yet still awaits the ACK of its 200.
    if (call === undefined) throw new SipException(491, 'Request Pending', { headers: { 'Retry-After': 1 } });
    if (req.body.length === 0 && dialog.localSdp !== undefined) return { status: 200, contentType: 'application/sdp', body: dialog.localSdp };
    if (call.media.kind === 'webrtc') return this.reinviteWebRtc(req, call.media);
    const offer = this.offerOf(req);
    call.version++;
    call.media.sending = sends(answerDirection(offer.direction));
    return { status: 200, contentType: 'application/sdp', body: audioAnswer(offer, call.host, call.port, call.version, call.sessionId) };
  }

  private async reinviteWebRtc(req: SipRequest, echo: WebRtcEcho): Promise<SipResponseDescription> {
    const offer = this.webRtcOfferOf(req);
    if (offer === undefined) throw new SipException(488, 'Not Acceptable Here', { headers: { Warning: '304 - "a WebRTC audio offer is needed"' } });
    const sdp = await echo.negotiate(offer).catch((err: Error) => {
      throw new SipException(488, 'Not Acceptable Here', { headers: { Warning: `399 - "WebRTC: ${err.message.replace(/["\\]/g, '')}"` } });
    });
    // Sending as our answer says (recvonly while the caller holds).
    echo.sending = sends(/^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m.exec(sdp)?.[1] ?? 'sendrecv');
    return { status: 200, contentType: 'application/sdp', body: sdp };
  }

  /** Calls running now, and the packets their reflectors sent back. */
  get stats(): { calls: number; pending: number; packets: number; portsInUse: number } {
    let packets = 0;
    for (const c of this.calls.values()) packets += c.media.packets;
    return { calls: this.calls.size, pending: this.pending.size, packets, portsInUse: this.config.ports.inUse };
  }

  /**
   * Shutdown: hang up, so the phones do not keep a dead call. On a signal Nest runs this before the
   * transport closes (the BYEs leave, and close() lets them finish); after `app.close()` the
   * transport has already ended the dialogs without BYE and there is nothing to send.
   */
  onModuleDestroy(): void {
    for (const d of this.calls.keys()) if (d.state !== 'terminated') d.bye().subscribe({ error: () => undefined });
    for (const c of [...this.pending, ...this.calls.values()]) this.release(c);
    this.pending.clear();
    this.calls.clear();
  }

  /** The SDP of a WebRTC offer (UDP/TLS/RTP/SAVPF audio), when WebRTC echo calls are on. */
  private webRtcOfferOf(req: SipRequest): string | undefined {
    if (this.config.webrtcCalls === 0 || req.body.length === 0 || !(req.contentType?.toLowerCase() ?? '').startsWith('application/sdp')) return undefined;
    const sdp = req.body.toString('utf8');
    return isWebRtcOffer(sdp) ? sdp : undefined;
  }

  private offerOf(req: SipRequest): AudioOffer {
    const type = req.contentType?.toLowerCase() ?? '';
    const offer = req.body.length > 0 && type.startsWith('application/sdp') ? readAudioOffer(req.body.toString('utf8')) : undefined;
    if (offer === undefined) throw new SipException(488, 'Not Acceptable Here', { headers: { Warning: '304 - "an SDP offer with an audio stream is needed"' } });
    return offer;
  }

  /** The caller acknowledged (the call runs until BYE or `seconds`), or never did (it is over). */
  private started(call: EchoCall, dialog: SipDialog | undefined): void {
    this.pending.delete(call);
    if (dialog === undefined || dialog.state === 'terminated') {
      this.release(call);
      return;
    }
    this.calls.set(dialog, call);
    // WebRTC media that fails (or never connects) ends the call: a silent call helps nobody.
    if (call.media.kind === 'webrtc') {
      if (call.dead) dialog.bye().subscribe({ error: () => undefined });
      else call.media.onDead = () => dialog.bye().subscribe({ error: () => undefined });
    }
    call.timer = setTimeout(() => dialog.bye().subscribe({ error: () => undefined }), this.config.seconds * 1000);
    call.timer.unref();
    void dialog.terminated.then((end) => {
      this.calls.delete(dialog);
      this.release(call);
      this.logger.log(`echo call ended (${end.reason} by ${end.by}), ${call.media.received} ${call.media.kind === 'webrtc' ? 'WebRTC' : 'RTP'} packets received, ${call.media.packets} reflected`);
    });
  }

  private release(call: EchoCall): void {
    if (call.released) return;
    call.released = true;
    if (call.timer !== undefined) clearTimeout(call.timer);
    call.media.close();
    if (call.media.kind === 'webrtc') this.webrtcLive--;
    this.config.ports.release(call.port);
  }
}
