import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Flow tokens (RFC 5626 §5.2, as Kamailio's outbound module makes them): a connection's id signed
 * with a key of this process, put in our Record-Route when a request leaves down a client's
 * connection (a WebSocket browser, a phone behind NAT), so the dialog's later requests are sent down
 * the same connection. The signature stops a forged Route from steering requests into another
 * client's connection. Connection ids live in one process, and so does the key.
 */
export class FlowTokens {
  private readonly key = randomBytes(32);

  /** `flow.mac`: the id and the first 16 characters of its HMAC (base64url). */
  tokenFor(flow: string): string {
    return `${flow}.${this.mac(flow)}`;
  }

  /** The connection id a token names, or undefined when the token is not one of ours. */
  flowOf(token: string): string | undefined {
    const dot = token.lastIndexOf('.');
    if (dot <= 0 || token.length > 200) return undefined;
    const flow = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1));
    const want = Buffer.from(this.mac(flow));
    return given.length === want.length && timingSafeEqual(given, want) ? flow : undefined;
  }

  private mac(flow: string): string {
    return createHmac('sha256', this.key).update(flow).digest('base64url').slice(0, 16);
  }
}
