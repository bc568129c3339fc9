import { isIPv6 } from 'node:net';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, type RTCRtpTransceiver, type RtpPacket } from 'werift';

/**
 * The echo of one WebRTC call (a browser, or a phone offering `UDP/TLS/RTP/SAVPF`): a real WebRTC
 * endpoint (werift: ICE, DTLS-SRTP, rtcp-mux) that sends every audio packet it receives back on
 * its own track. A browser cannot speak plain RTP, so the plain reflector cannot answer it.
 * ICE uses the call's two media ports only (RTP's and the odd one above), no STUN server: the
 * candidates are this host's own addresses, and the browser's checks find the pair.
 */
export class WebRtcEcho {
  readonly kind = 'webrtc';
  /** Audio packets received, and sent back. */
  received = 0;
  packets = 0;
  /** False while our answer says recvonly or inactive (the caller put us on hold). */
  sending = true;
  /** Called once when the media path fails or never comes up in time: the call should end. */
  onDead: (() => void) | undefined;

  private readonly track = new MediaStreamTrack({ kind: 'audio' });
  private closed = false;
  private readonly heard = new WeakSet<MediaStreamTrack>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    private readonly pc: RTCPeerConnection,
    private readonly host: string,
  ) {
    pc.onTrack.subscribe((remote) => this.listen(remote));
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected' && this.timer !== undefined) clearTimeout(this.timer);
      if (state === 'failed') this.die();
    });
  }

  /**
   * A WebRTC endpoint answering `offer` (SDP) from `host` (a wildcard: every address of this host)
   * on ports `port` and `port + 1`. Its media must be up within `connectSeconds`, else onDead.
   */
  static async answer(offer: string, host: string, port: number, connectSeconds: number): Promise<{ echo: WebRtcEcho; sdp: string }> {
    const wildcard = host === '0.0.0.0' || host === '::';
    const v6 = !wildcard && isIPv6(host);
    const codecs = audioCodecsOf(offer);
    if (codecs.length === 0) throw new Error('no Opus, PCMU or PCMA offered');
    const pc = new RTCPeerConnection({
      // ICE lite (RFC 8445 §2.5): a server on known addresses only answers the browser's checks;
      // no STUN server to ask (werift would ask Google's otherwise) and nothing to gather but our host.
      iceLite: true,
      iceServers: [],
      // One socket per address, within the call's two ports: on a wildcard with more than two
      // addresses the others go unoffered (the browser needs only one that works).
      icePortRange: [port, port + 1],
      iceUseIpv4: !v6,
      iceUseIpv6: v6 || host === '::',
      // The configured address, even loopback (which werift leaves out by default); bound to it alone.
      ...(wildcard ? { iceAdditionalHostAddresses: ['127.0.0.1'] } : { iceAdditionalHostAddresses: [host], iceInterfaceAddresses: { [v6 ? 'udp6' : 'udp4']: host } }),
      codecs: { audio: codecs, video: [] },
    });
    const echo = new WebRtcEcho(pc, host);
    try {
      const sdp = await echo.negotiate(offer);
      echo.timer = setTimeout(() => {
        if (pc.connectionState !== 'connected') echo.die();
      }, connectSeconds * 1000);
      echo.timer.unref();
      return { echo, sdp };
    } catch (err) {
      echo.close();
      throw err;
    }
  }

  /** A new offer in the call (hold, resume, ICE restart): our answer. */
  async negotiate(offer: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    const audio = this.pc.getTransceivers().find((t: RTCRtpTransceiver) => t.kind === 'audio');
    if (audio === undefined) throw new Error('no audio stream offered');
    if (audio.sender.track !== this.track) {
      // Our track on the offered stream, sending as well as receiving (werift's default for a
      // stream it did not add is recvonly).
      await audio.sender.replaceTrack(this.track);
      audio.setDirection('sendrecv');
    }
    for (const remote of audio.receiver.tracks) this.listen(remote);
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    // SIP carries one offer and one answer, no trickle: the answer waits for every candidate.
    if (this.pc.iceGatheringState !== 'complete') await this.pc.iceGatheringStateChange.watch((s) => s === 'complete', 5000);
    const sdp = this.pc.localDescription?.sdp;
    if (sdp === undefined) throw new Error('no local description');
    return this.host === '0.0.0.0' || this.host === '::' ? sdp : onlyCandidatesOf(sdp, this.host);
  }

  /** Received audio goes to our track (once per remote track: a re-offer keeps its tracks). */
  private listen(remote: MediaStreamTrack): void {
    if (this.heard.has(remote)) return;
    this.heard.add(remote);
    remote.onReceiveRtp.subscribe((rtp) => this.echo(rtp));
  }

  private echo(rtp: RtpPacket): void {
    this.received++;
    if (!this.sending || this.closed) return;
    this.packets++;
    this.track.writeRtp(rtp);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.track.stop();
    void this.pc.close().catch(() => undefined);
  }

  private die(): void {
    if (this.closed) return;
    const dead = this.onDead;
    this.onDead = undefined;
    dead?.();
  }
}

/** The offer's Opus / G.711 codecs with the offer's payload types (the echo sends back what it gets). */
function audioCodecsOf(offer: string): RTCRtpCodecParameters[] {
  const codecs: RTCRtpCodecParameters[] = [];
  for (const m of offer.matchAll(/^a=rtpmap:(\d{1,3}) (opus|PCMU|PCMA)\/(\d{4,5})(?:\/(\d))?\r?$/gim)) {
    const name = m[2]!.toLowerCase() === 'opus' ? 'opus' : m[2]!.toUpperCase();
    if (codecs.some((c) => c.mimeType === `audio/${name}`)) continue;
    codecs.push(new RTCRtpCodecParameters({ mimeType: `audio/${name}`, payloadType: Number(m[1]), clockRate: Number(m[3]), channels: m[4] !== undefined ? Number(m[4]) : 1 }));
  }
  return codecs;
}

/** The answer's candidates on `host` only: the sockets are bound there, other addresses would be dead ends. */
function onlyCandidatesOf(sdp: string, host: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || l.split(' ')[4] === host)
    .join('\r\n');
}
