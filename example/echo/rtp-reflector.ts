import * as dgram from 'node:dgram';
import { isIPv6 } from 'node:net';

/**
 * The echo of one call: every RTP packet received on the call's media port goes straight back to
 * where it came from (symmetric RTP, so it works behind NAT too). RTCP (port + 1) is not served:
 * an echo has nothing to report, so the port stays closed and the phone's reports are dropped.
 */
export class RtpReflector {
  readonly kind = 'rtp';
  /** RTP packets received, and sent back. */
  received = 0;
  packets = 0;
  /** False while our answer says recvonly or inactive (the caller put us on hold): RFC 3264 §5.1 forbids sending then. */
  sending = true;

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (msg, rinfo) => {
      if (!isRtp(msg)) return;
      this.received++;
      if (!this.sending) return;
      this.packets++;
      socket.send(msg, rinfo.port, rinfo.address);
    });
    socket.on('error', () => undefined); // a send to a vanished peer is no reason to stop
  }

  static open(host: string, port: number): Promise<RtpReflector> {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve(new RtpReflector(socket));
      });
    });
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

/**
 * The address written into the SDP for a call from `peer`: `host` itself, unless it is a wildcard
 * (0.0.0.0, ::), which a phone cannot send to; then the local address the system routes to the
 * peer from (a connected UDP socket sends nothing, it only picks the route).
 */
export async function mediaHostFor(host: string, peer: string): Promise<string> {
  if (host !== '0.0.0.0' && host !== '::') return host;
  const v6 = isIPv6(peer) && !peer.startsWith('::ffff:');
  const socket = dgram.createSocket(v6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(9, v6 ? peer : peer.replace(/^::ffff:/, ''), () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

/**
 * RTP version 2 with a full fixed header (RFC 3550 §5.1), and not RTCP sent to this port (payload
 * types 72-76 with the marker bit, RFC 5761 §4): STUN keepalives and stray datagrams are not echoed.
 */
function isRtp(msg: Buffer): boolean {
  if (msg.length < 12 || (msg[0]! & 0xc0) !== 0x80) return false;
  const pt = msg[1]! & 0x7f;
  return pt < 72 || pt > 76;
}
