import { isIP, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { DialogLayer, localContact, type DialogLayerOptions } from '../dialog/index.js';
import type { SipMessage, SipResponse } from '../message/index.js';
import {
  ClientTransaction,
  TransactionLayer,
  type ServerTransaction,
  type SipDestination,
  type SipPeer,
  type AdmissionOptions,
  type TimerOptions,
  type TransactionLayerHooks,
  type TransactionTransport,
  type TransactionMetrics,
} from '../transaction/index.js';
import { LagMeter } from './lag-meter.js';
import { callIdOfWire, type HepMirror } from '../observe/index.js';
import { QueueProbe } from './queue-probe.js';
import { SocketPools } from './socket-pools.js';
import { SocketPool, type From, type LocalAddress, type PoolLimitsInit, type PoolTlsOptions, type PoolWsOptions, type TransportName } from '../transport/index.js';

/** A leg's port when none is given: SIP's, and for WebSocket the URL scheme's. */
const DEFAULT_PORT: Record<TransportName, number> = { udp: 5060, tcp: 5060, tls: 5061, ws: 80, wss: 443 };

/** One listening (or sending) leg: a transport on an address. */
export interface SipLeg {
  transport: TransportName;
  /**
   * Share the port with other processes of the app (SO_REUSEPORT, Linux): N workers on one host,
   * the kernel spreading peers over them (a peer stays with one). Each worker keeps its own transactions.
   */
  reusePort?: boolean;
  /** Address to bind; default 127.0.0.1. Use '::1' / '::' for IPv6, '0.0.0.0' for every IPv4 interface. */
  host?: string;
  /** Port to bind; default 5060 (5061 for TLS); 0 picks a free port. */
  port?: number;
  /** TLS credentials and client-certificate policy (required for 'tls', and 'wss' on a port of its own). */
  tls?: PoolTlsOptions;
  /**
   * ws / wss (RFC 7118): the URL path (default '/'), an Origin allow-list, or an HTTP(S) server to
   * share (a Nest app's `app.getHttpServer()`: REST and SIP on one port).
   */
  ws?: PoolWsOptions;
  /**
   * The address peers reach this leg at, when it is not the bound one (NAT, containers): written
   * into our Contact headers. Default: the bound address, or for a wildcard bind the interface the
   * request came in on.
   */
  advertise?: { host: string; port?: number };
}

const STREAMS: ReadonlySet<string> = new Set(['tcp', 'tls', 'ws', 'wss']);

/** What a SipClient can send from: a SipServer (or anything else owning an endpoint). */
export interface SipEndpointHost {
  getEndpoint(): SipEndpoint | undefined;
}

export interface SipEndpointOptions {
  legs: SipLeg[];
  limits?: PoolLimitsInit;
  timers?: TimerOptions;
  /** Server header added to every response sent that has none (the transaction layer's 100, 487, 408... too: it adds them). */
  serverHeader?: string;
  /** The dialog table's bound and store. */
  dialogs?: DialogLayerOptions;
  /** Overload control of new server transactions (a server's; clients run without). */
  admission?: AdmissionOptions;
  /** Told of requests, responses and client outcomes (a server's metrics). */
  metrics?: TransactionMetrics;
  /** Every message received and sent is mirrored here (HEP v3), when set. */
  hep?: HepMirror;
}

/**
 * The machinery SipServer and SipClient share: one SocketPool per leg under one TransactionLayer,
 * responses routed back through the pool (and connection) their request came from, and TCP/TLS
 * connections held open while transactions run on them.
 */
export class SipEndpoint implements TransactionTransport {
  readonly layer: TransactionLayer;
  /** Dialogs (RFC 3261 §12) of this endpoint, both sides. */
  readonly dialogs: DialogLayer;
  readonly pools: SocketPool[] = [];
  /** Measures event-loop lag for the admission gate (when there is one). */
  private readonly lag: LagMeter | undefined;
  /** UDP socket-queue probes, one per UDP leg, when the gate sheds on queue delay. */
  private readonly probes: QueueProbe[] = [];
  /** Legs with an advertised address. */
  private readonly advertised = new Map<SocketPool, { host: string; port?: number }>();
  /** Which pool a connection (or UDP socket) belongs to, learnt as messages arrive. */
  private readonly poolOfSocket = new SocketPools();
  /** Client transactions holding a TCP/TLS connection open: the pool and the pool's id for them (server ones hold by flow). */
  private readonly held = new Map<ClientTransaction, { pool: SocketPool; tid: string }>();
  /** The client ones by id, to fail them when their connection dies (an INVITE and its CANCEL share one). */
  private readonly heldTids = new Map<string, Set<ClientTransaction>>();
  /** Flows (TCP/TLS connections) kept open for registrations, by the pool's id of the REGISTER: told when they break. */
  private readonly flowWatchers = new Map<string, (err: Error) => void>();
  /** Responses no client transaction claimed (a SipClient sharing this endpoint re-ACKs 2xx from here). */
  private readonly strayListeners = new Set<(res: SipResponse, from: SipPeer) => void>();

  constructor(
    private readonly opts: Omit<SipEndpointOptions, 'legs'>,
    hooks: TransactionLayerHooks,
  ) {
    const dialogs = new DialogLayer(opts.dialogs);
    dialogs.contactFor = (txn) => this.contactFor(txn);
    this.dialogs = dialogs;
    this.layer = new TransactionLayer({
      transport: this,
      timers: opts.timers,
      serverHeader: opts.serverHeader,
      admission: opts.admission,
      metrics: opts.metrics,
      ...hooks,
      onResponse: (txn, res) => {
        if (!txn.proxied) dialogs.responding(txn, res);
      },
      onStray: (res, from) => {
        hooks.onStray?.(res, from);
        for (const l of this.strayListeners) l(res, from);
      },
      onOpen: (peer, txn) => {
        const pool = this.poolFor(peer);
        if (pool === undefined) return;
        if (!(txn instanceof ClientTransaction)) {
          // A server transaction holds the connection its request came on, by flow: only client
          // transactions fail when their connection dies (connectionLost, by id); a server
          // transaction's responses fall back to §18.2.2. No id, no table entry per request.
          if (peer.flow !== undefined) pool.holdFlow(peer.flow);
          return;
        }
        const tid = pool.tidOf(txn.request);
        if (tid !== undefined && pool.hold(tid)) {
          this.held.set(txn, { pool, tid });
          const same = this.heldTids.get(tid);
          if (same === undefined) this.heldTids.set(tid, new Set([txn]));
          else same.add(txn);
        }
      },
      onClose: (peer, txn) => {
        if (!(txn instanceof ClientTransaction)) {
          if (peer.flow !== undefined) this.poolFor(peer)?.releaseFlow(peer.flow);
          return;
        }
        const h = this.held.get(txn);
        if (h === undefined) return;
        this.held.delete(txn);
        const same = this.heldTids.get(h.tid);
        if (same !== undefined && same.delete(txn) && same.size === 0) this.heldTids.delete(h.tid);
        h.pool.release(h.tid);
      },
    });
    const gate = this.layer.admission;
    if (gate !== undefined && gate.maxLag > 0) {
      this.lag = new LagMeter(gate);
      this.lag.start();
    }
  }

  /** Bind a leg. On failure nothing of this leg stays bound. */
  async addLeg(leg: SipLeg): Promise<SocketPool> {
    const pool = await SocketPool.create({
      proto: leg.transport,
      host: leg.host ?? '127.0.0.1',
      port: leg.port ?? DEFAULT_PORT[leg.transport],
      tls: leg.tls,
      ws: leg.ws,
      limits: this.opts.limits,
      reusePort: leg.reusePort,
    });
    this.pools.push(pool);
    if (leg.advertise !== undefined) this.advertised.set(pool, leg.advertise);
    this.poolOfSocket.learn(pool.master, pool);
    pool.on('error', (err) => this.layer.onError?.(err));
    pool.on('connectionLost', (tids, err) => this.connectionLost(tids, err));
    pool.attach(this.receiverFor(pool));
    const gate = this.layer.admission;
    if (gate !== undefined && gate.maxQueueDelay > 0 && pool.proto === 'udp') {
      const probe = new QueueProbe(pool, gate);
      this.probes.push(probe);
      await probe.start();
    }
    return pool;
  }

  addStrayListener(l: (res: SipResponse, from: SipPeer) => void): void {
    this.strayListeners.add(l);
  }

  removeStrayListener(l: (res: SipResponse, from: SipPeer) => void): void {
    this.strayListeners.delete(l);
  }

  get addresses(): LocalAddress[] {
    return this.pools.map((p) => p.local);
  }

  /**
   * A TCP/TLS connection died under open transactions: the client ones fail now with the
   * transport's reason instead of waiting for Timer B/F (RFC 3261 §17.1.4). Server transactions
   * carry on: their responses fall back to RFC 3261 §18.2.2 routing.
   */
  private connectionLost(tids: string[], err: Error): void {
    for (const tid of tids) {
      const watcher = this.flowWatchers.get(tid);
      if (watcher !== undefined) {
        this.flowWatchers.delete(tid);
        watcher(err);
      }
      const same = this.heldTids.get(tid);
      if (same === undefined) continue;
      for (const txn of [...same]) this.layer.abandon(txn, err);
    }
  }

  /**
   * Keep the TCP/TLS/WebSocket connection a response came in on open (a registration's flow, RFC 5626) and
   * call `onLost` once when it breaks. Undefined over UDP or when no open connection carries it;
   * else the undo.
   */
  watchFlow(res: SipResponse, onLost: (err: Error) => void): (() => void) | undefined {
    const via = res.topVia;
    const proto = via?.transport.toLowerCase();
    if (via === undefined || proto === undefined || !STREAMS.has(proto)) return undefined;
    const pool = this.poolFor({ proto: proto as TransportName, addr: via.host, port: via.port ?? 0 });
    const tid = pool?.tidOf(res);
    if (pool === undefined || tid === undefined || !pool.hold(tid)) return undefined;
    this.flowWatchers.set(tid, onLost);
    return () => {
      if (this.flowWatchers.get(tid) !== onLost) return;
      this.flowWatchers.delete(tid);
      pool.release(tid);
    };
  }

  /** One handler per pool (not per message): remembers the pool of each connection, then hands over. */
  private receiverFor(pool: SocketPool): (msg: SipMessage, from: From) => void {
    const layer = this.layer;
    const pools = this.poolOfSocket;
    const hep = this.opts.hep;
    return (msg, from) => {
      pools.learn(from.socket, pool);
      if (hep !== undefined) this.mirror(hep, pool, msg, from, true);
      layer.receive(msg, from as SipPeer);
    };
  }

  /** The pool to send to `dst` with: the one its connection belongs to, else the first of that transport and family. */
  poolFor(dst: SipDestination): SocketPool | undefined {
    const known = this.poolOfSocket.get(dst.socket);
    if (known !== undefined) return known;
    const family = dst.family ?? (isIP(dst.addr) === 6 ? 6 : 4);
    let fallback: SocketPool | undefined;
    for (const p of this.pools) {
      if (p.proto !== dst.proto || p.closed) continue;
      if (p.local.family === family) return p;
      fallback ??= p;
    }
    // An IPv4 host name on an IPv6-only pool (or the reverse) still gets a chance.
    return isIP(dst.addr) === 0 ? fallback : undefined;
  }

  // TransactionTransport
  send(msg: SipMessage | Buffer, dst: SipDestination): Promise<void> {
    const pool = this.poolFor(dst);
    if (pool === undefined) {
      return Promise.reject(new Error(`no ${dst.proto.toUpperCase()} leg for IPv${dst.family ?? (isIP(dst.addr) || '?')} destination ${dst.addr}:${dst.port}`));
    }
    const hep = this.opts.hep;
    if (hep !== undefined) this.mirror(hep, pool, msg, dst, false);
    return pool.sendto(msg, dst);
  }

  /** A copy of a message to the HEP collector: what went on the wire, between which ends. */
  private mirror(hep: HepMirror, pool: SocketPool, msg: SipMessage | Buffer, peer: SipDestination, received: boolean): void {
    try {
      const local = this.legAddress(pool, peer.socket, peer.addr);
      let payload: Buffer;
      let correlationId: string | undefined;
      if (Buffer.isBuffer(msg)) {
        payload = msg;
        correlationId = callIdOfWire(msg);
      } else {
        const m = msg as SipMessage;
        payload = m.toBuffer();
        try {
          correlationId = m.callId;
        } catch {
          correlationId = undefined;
        }
      }
      hep.capture(
        received
          ? { srcAddr: peer.addr, srcPort: peer.port, dstAddr: local.host, dstPort: local.port, proto: pool.proto, payload, correlationId }
          : { srcAddr: local.host, srcPort: local.port, dstAddr: peer.addr, dstPort: peer.port, proto: pool.proto, payload, correlationId },
      );
    } catch (err) {
      this.layer.onError?.(err);
    }
  }

  reliable(proto: SipDestination['proto']): boolean {
    return proto !== 'udp';
  }

  /**
   * Our Contact for a response to `txn`'s request, on the leg it came in on: the leg's advertised
   * address, else its bound one, else (wildcard bind) the interface the request arrived on.
   */
  contactFor(txn: ServerTransaction): string | undefined {
    const from = txn.from;
    const pool = this.poolFor(from);
    if (pool === undefined) return undefined;
    const req = txn.request;
    let uri;
    try {
      uri = req.requestUri;
    } catch {
      return undefined;
    }
    const secure = uri.scheme === 'sips';
    const user = uri.scheme === 'sip' || secure ? uri.user : undefined;
    return localContact(this.legAddress(pool, from.socket, from.addr), user, secure);
  }

  /** Where peers reach `pool` (its advertised address, else bound or interface one), as a Via sent-by or Record-Route. */
  legAddress(pool: SocketPool, socket: unknown, peerAddr: string): { proto: SocketPool['proto']; host: string; port: number } {
    const adv = this.advertised.get(pool);
    return { proto: pool.proto, host: adv?.host ?? localHostOf(pool, socket, peerAddr), port: adv?.port ?? pool.local.port };
  }

  /** Whether `host:port` is one of this endpoint's legs (its bound, advertised or, for a wildcard bind, an interface address). */
  isLocalAddress(host: string, port: number): boolean {
    const h = host.startsWith('[') ? host.slice(1, -1) : host;
    for (const pool of this.pools) {
      const adv = this.advertised.get(pool);
      if (adv !== undefined && adv.host === h && (adv.port ?? pool.local.port) === port) return true;
      if (pool.local.port !== port) continue;
      const bound = pool.local.addr;
      if (bound === h) return true;
      if ((bound === '0.0.0.0' || bound === '::') && isInterfaceAddress(h)) return true;
    }
    return false;
  }

  /** Let running transactions end within `drainMs`, then release every socket and timer. */
  async close(drainMs: number): Promise<void> {
    if (!this.layer.closed) {
      if (drainMs > 0) await this.layer.drain(drainMs);
      this.layer.close();
    }
    this.lag?.stop();
    this.opts.hep?.close();
    for (const p of this.probes) p.stop();
    this.dialogs.closeAll();
    await Promise.all(this.pools.map((p) => p.close()));
    this.held.clear();
    this.heldTids.clear();
    this.flowWatchers.clear();
  }
}

/**
 * The address a peer reached `pool` at: the bound one, or for a wildcard bind the connection's
 * local address (stream), else an interface of the leg's family (loopback for a loopback peer).
 */
export function localHostOf(pool: SocketPool, socket: unknown, peerAddr: string): string {
  const local = pool.local;
  if (local.addr !== '0.0.0.0' && local.addr !== '::') return local.addr;
  const onConn = pool.proto !== 'udp' ? (socket as Socket | undefined)?.localAddress : undefined;
  if (onConn !== undefined && onConn !== '') return onConn.startsWith('::ffff:') ? onConn.slice(7) : onConn;
  const family = isIP(peerAddr) === 6 ? 6 : 4;
  if (peerAddr === '127.0.0.1' || peerAddr === '::1' || peerAddr.startsWith('127.')) return family === 6 ? '::1' : '127.0.0.1';
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (!i.internal && (i.family === 'IPv6' ? 6 : 4) === family && !i.address.startsWith('fe80')) return i.address;
  }
  return family === 6 ? '::1' : '127.0.0.1';
}

/** An address of one of this host's interfaces (loopback included). */
function isInterfaceAddress(addr: string): boolean {
  if (addr === 'localhost') return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.address === addr) return true;
  }
  return false;
}
