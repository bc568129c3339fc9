import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { InvalidOptionsError } from './errors.js';
import type { PoolTlsOptions } from './types.js';

/**
 * The pool's TLS policy, built once: one secure context shared by every outgoing connection (the
 * same cert/key also serve the listener, as in the seed), the server options, and the client check.
 */
export class TlsPolicy {
  readonly verifyClient: 0 | -1 | 1;
  private readonly clientContext: tls.SecureContext;
  private readonly rejectUnauthorized: boolean;
  private readonly checkServerIdentity: PoolTlsOptions['checkServerIdentity'];

  constructor(private readonly opts: PoolTlsOptions) {
    const v = opts.verifyClient ?? 0;
    if (v !== 0 && v !== -1 && v !== 1) throw new InvalidOptionsError('tls.verifyClient must be 0, -1 or 1');
    this.verifyClient = v;
    this.rejectUnauthorized = opts.rejectUnauthorized ?? true;
    this.checkServerIdentity = opts.checkServerIdentity;
    try {
      this.clientContext = tls.createSecureContext(this.contextOptions());
    } catch (err) {
      throw new InvalidOptionsError(`bad TLS credentials: ${(err as Error).message}`, { cause: err });
    }
  }

  private contextOptions(): tls.SecureContextOptions {
    const o = this.opts;
    const c: tls.SecureContextOptions = {};
    if (o.cert !== undefined) c.cert = o.cert;
    if (o.key !== undefined) c.key = o.key;
    if (o.ca !== undefined) c.ca = o.ca;
    if (o.passphrase !== undefined) c.passphrase = o.passphrase;
    if (o.minVersion !== undefined) c.minVersion = o.minVersion;
    if (o.ciphers !== undefined) c.ciphers = o.ciphers;
    return c;
  }

  /** Options for tls.createServer: client certificates per verifyClient (-1 is checked after the handshake). */
  serverOptions(handshakeTimeoutMs: number, highWaterMark: number): tls.TlsOptions {
    return {
      ...this.contextOptions(),
      requestCert: this.verifyClient !== 0,
      rejectUnauthorized: this.verifyClient === 1,
      handshakeTimeout: handshakeTimeoutMs,
      allowHalfOpen: true,
      highWaterMark,
    } as tls.TlsOptions;
  }

  /**
   * After an inbound handshake: false when the client must be dropped. verifyClient -1 lets a
   * client without certificate in but drops one whose certificate does not verify.
   */
  acceptClient(socket: tls.TLSSocket): boolean {
    if (this.verifyClient !== -1 || socket.authorized) return true;
    const cert = socket.getPeerCertificate();
    return cert === null || cert === undefined || cert.raw === undefined;
  }

  /**
   * Options for tls.connect to host:port. The certificate is checked against `servername` when
   * given (Node checks the servername option before the host), else against `host`. SNI only for
   * names, never IP literals (RFC 6066 §3): an IP `servername` is checked without being sent.
   */
  clientOptions(
    host: string,
    port: number,
    isIp: boolean,
    localAddress: string | undefined,
    highWaterMark: number,
    servername?: string,
  ): tls.ConnectionOptions {
    const o: tls.ConnectionOptions = {
      host,
      port,
      secureContext: this.clientContext,
      rejectUnauthorized: this.rejectUnauthorized,
      allowHalfOpen: true,
      highWaterMark,
    } as tls.ConnectionOptions;
    const check = this.checkServerIdentity;
    if (servername === undefined) {
      if (!isIp) o.servername = host;
      if (check !== undefined) o.checkServerIdentity = check;
    } else if (isIP(servername) === 0) {
      o.servername = servername;
      if (check !== undefined) o.checkServerIdentity = check;
    } else {
      // An address: no SNI can carry it, so the certificate is checked against it explicitly.
      o.checkServerIdentity = (_host, cert) => (check ?? tls.checkServerIdentity)(servername, cert);
    }
    // tls.connect passes net options (localAddress) on to the TCP socket.
    if (localAddress !== undefined) (o as tls.ConnectionOptions & { localAddress?: string }).localAddress = localAddress;
    return o;
  }
}
