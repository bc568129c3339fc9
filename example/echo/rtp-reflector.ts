import * as dgram from 'node:dgram';

/**
 * The echo of one call: every datagram received on the call's media port goes straight back to
 * where it came from (symmetric RTP, so it works behind NAT too). RTCP (port + 1) is not served:
 * an echo has nothing to report.
 */
export class RtpReflector {
  /** Packets reflected so far. */
  packets = 0;

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (msg, rinfo) => {
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
