import { lookup } from 'node:dns';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * The `lookup` of the UDP sockets a pool creates. Node's default answers an IP literal on the next
 * tick: an isIP check, a process.nextTick and a callback per datagram sent. UdpTransport sends only
 * to addresses it has already checked (names are resolved before), and names the one it is about
 * to send to in `checked`: that one is answered at once. Anything else (bind, connect, a caller's
 * own send on the socket) goes the default way, dns.lookup.
 */
export class CheckedLookup {
  /** An IP literal of the socket's family (IPv4-mapped on a udp6 socket), checked by the transport. */
  checked = '';

  readonly lookup = (address: string, family: number, cb: LookupCallback): void => {
    if (address === this.checked) cb(null, address, family);
    else lookup(address, family, cb);
  };
}
