// Calls from JsSIP and SIP.js in Node, where there is no WebRTC: a plain RTP/AVP audio endpoint (a
// real UDP socket on loopback, named in an ordinary SDP offer or answer) behind the two media hooks
// the libraries have: an RTCPeerConnection stand-in for JsSIP (it calls `new RTCPeerConnection()`
// and checks `window.RTCPeerConnection`), and a SessionDescriptionHandler factory for SIP.js.
// Signalling is what these tests prove; the socket lets them check that RTP really flows to the
// addresses the SDP carried (the echo reflects it; the other phone receives it).
import { createSocket, type Socket } from 'node:dgram';
import type { SessionDescriptionHandler, SessionDescriptionHandlerFactory } from 'sip.js';

/** One audio stream over plain RTP (PCMU/PCMA) on 127.0.0.1. */
export class PlainRtpMedia {
  private socket: Socket | undefined;
  private opening: Promise<number> | undefined;
  /** Where the other side's SDP says to send RTP. */
  remote: { addr: string; port: number } | undefined;
  /** RTP packets received, with their sequence numbers. */
  readonly received: number[] = [];
  private seq = 0;
  private readonly ssrc = Math.floor(Math.random() * 0xffffffff);
  private readonly sessionId = Math.floor(Math.random() * 1e9);
  private version = 0;
  closed = false;

  /** Binds the socket (once); its port. */
  open(): Promise<number> {
    this.opening ??= new Promise<number>((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.on('message', (m) => {
        if (m.length >= 12 && m[0]! >> 6 === 2) this.received.push(m.readUInt16BE(2));
      });
      s.bind(0, '127.0.0.1', () => {
        this.socket = s;
        resolve(s.address().port);
      });
    });
    return this.opening;
  }

  /** An offer: PCMU and PCMA on our port. */
  async offer(): Promise<string> {
    return this.sdp(await this.open(), '0 8', ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000']);
  }

  /** An answer to `offer`: its first codec, on our port. */
  async answer(offer: string): Promise<string> {
    this.setRemote(offer);
    const pt = /^m=audio \d+ RTP\/AVP (\d+)/m.exec(offer)?.[1];
    if (pt === undefined) throw new Error('no RTP/AVP audio in the offer');
    const rtpmap = new RegExp(`^a=rtpmap:${pt} .*$`, 'm').exec(offer)?.[0];
    return this.sdp(await this.open(), pt, rtpmap === undefined ? [] : [rtpmap.trimEnd()]);
  }

  /** The other side's SDP: where its RTP goes. */
  setRemote(sdp: string): void {
    const addr = /^c=IN IP4 (\S+)/m.exec(sdp)?.[1];
    const port = /^m=audio (\d+) /m.exec(sdp)?.[1];
    if (addr === undefined || port === undefined) throw new Error(`no audio address in ${JSON.stringify(sdp)}`);
    this.remote = { addr, port: Number(port) };
  }

  /** Sends `count` RTP packets (PCMU, 20 ms of silence each) to the remote address. */
  sendRtp(count: number): void {
    if (this.socket === undefined || this.remote === undefined) throw new Error('no media yet');
    for (let i = 0; i < count; i++) {
      const p = Buffer.alloc(12 + 160, 0xff);
      p[0] = 0x80;
      p[1] = 0;
      p.writeUInt16BE(this.seq, 2);
      p.writeUInt32BE((this.seq * 160) >>> 0, 4);
      p.writeUInt32BE(this.ssrc, 8);
      this.seq++;
      this.socket.send(p, this.remote.port, this.remote.addr);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket?.close();
    if (this.socket === undefined) void this.opening?.then(() => this.socket?.close(), () => undefined);
  }

  private sdp(port: number, formats: string, attrs: string[]): string {
    this.version++;
    return [
      'v=0',
      `o=- ${this.sessionId} ${this.version} IN IP4 127.0.0.1`,
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${port} RTP/AVP ${formats}`,
      ...attrs,
      'a=sendrecv',
      '',
    ].join('\r\n');
  }
}

/**
 * What JsSIP uses of an RTCPeerConnection, over PlainRtpMedia: offers and answers at once, ICE
 * gathering already complete (there is none), no tracks. `session.connection.media` is the stream.
 */
export class PlainRtpPeerConnection extends EventTarget {
  readonly media = new PlainRtpMedia();
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  signalingState = 'stable';
  iceGatheringState = 'new';
  iceConnectionState = 'new';
  connectionState = 'new';

  async createOffer(): Promise<{ type: 'offer'; sdp: string }> {
    return { type: 'offer', sdp: await this.media.offer() };
  }

  async createAnswer(): Promise<{ type: 'answer'; sdp: string }> {
    if (this.remoteDescription === null) throw new Error('createAnswer before setRemoteDescription');
    return { type: 'answer', sdp: await this.media.answer(this.remoteDescription.sdp) };
  }

  async setLocalDescription(d: { type: string; sdp: string }): Promise<void> {
    this.localDescription = d;
    this.iceGatheringState = 'complete';
    this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable';
  }

  async setRemoteDescription(d: { type: string; sdp: string }): Promise<void> {
    this.remoteDescription = d;
    this.media.setRemote(d.sdp);
    this.signalingState = d.type === 'offer' ? 'have-remote-offer' : 'stable';
  }

  addTrack(): void {}
  getSenders(): unknown[] {
    return [];
  }
  getReceivers(): unknown[] {
    return [];
  }
  close(): void {
    this.signalingState = 'closed';
    this.media.close();
  }
}

/** A plain RTCSessionDescription (JsSIP makes one from every SDP it receives). */
class PlainSessionDescription {
  readonly type: string;
  readonly sdp: string;
  constructor(init: { type: string; sdp: string }) {
    this.type = init.type;
    this.sdp = init.sdp;
  }
}

/** Gives JsSIP its WebRTC globals (window.RTCPeerConnection, RTCPeerConnection, RTCSessionDescription); returns the undo. */
export function installPlainRtpForJsSip(): () => void {
  const g = globalThis as Record<string, unknown>;
  const before = { window: g.window, RTCPeerConnection: g.RTCPeerConnection, RTCSessionDescription: g.RTCSessionDescription };
  // A bare object, not globalThis: other code that sniffs `window` should not think it is in a browser.
  g.window = { RTCPeerConnection: PlainRtpPeerConnection };
  g.RTCPeerConnection = PlainRtpPeerConnection;
  g.RTCSessionDescription = PlainSessionDescription;
  return () => Object.assign(g, before);
}

/** A SIP.js SessionDescriptionHandler over PlainRtpMedia: answers a remote offer, else offers. */
export class PlainRtpSdh implements SessionDescriptionHandler {
  readonly media = new PlainRtpMedia();
  private remoteOffer: string | undefined;
  private offered = false;

  async getDescription(): Promise<{ body: string; contentType: string }> {
    if (this.remoteOffer !== undefined) {
      const body = await this.media.answer(this.remoteOffer);
      this.remoteOffer = undefined;
      return { body, contentType: 'application/sdp' };
    }
    this.offered = true;
    return { body: await this.media.offer(), contentType: 'application/sdp' };
  }

  async setDescription(sdp: string): Promise<void> {
    if (this.offered) {
      this.offered = false; // the answer to our offer
      this.media.setRemote(sdp);
    } else this.remoteOffer = sdp;
  }

  hasDescription(contentType: string): boolean {
    return contentType === 'application/sdp';
  }

  sendDtmf(): boolean {
    return false;
  }

  close(): void {
    this.media.close();
  }
}

/** SIP.js's `sessionDescriptionHandlerFactory` option: plain RTP instead of WebRTC. */
export const plainRtpSdhFactory: SessionDescriptionHandlerFactory = () => new PlainRtpSdh();
