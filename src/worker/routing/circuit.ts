/**
 * One served circuit: its spec, its upstream pool, and every live connection it carries. Built
 * fully by the routing table before it is swapped in; closing it refuses new work at once and
 * ends its long-lived connections (TCP relays, tunnels) with `circuit-closed`, then destroys its
 * other connections (keep-alive sockets, WebSockets) and its pool.
 */
import type { Socket } from 'node:net';
import { Pool } from 'undici';
import type { CircuitSpec } from '../../contracts/circuit-spec.ts';
import type { CloseReason, TcpAccessMode } from '../../contracts/records.ts';
import { AllowList } from '../../core/allow-list.ts';
import type { ConnectionKind } from '../observe/access-log.ts';
import { ActivityCell, type ActivitySource } from '../observe/activity.ts';
import type { WorkerMetrics } from '../observe/metrics.ts';

/** Per client socket bookkeeping, kept on the socket itself so lookups cost nothing. */
interface ConnState {
  circuit: Circuit | null;
  /** Byte counters already accounted for. */
  readBase: number;
  writeBase: number;
  /** True once the socket carried an authorized request: only those count as activity. */
  counted: boolean;
}

const kConn = Symbol('appproxy.conn');
export type TrackedSocket = Socket & { [kConn]?: ConnState };

function onClientSocketClose(this: TrackedSocket): void {
  this[kConn]?.circuit?.release(this);
}

function onUpstreamSocketClose(this: Socket): void {
  (this as Socket & { [kConn]?: Circuit })[kConn]?.upstreams.delete(this);
}

/**
 * A connection that outlives requests (a raw TCP relay, a tunnel) and writes an access record
 * when it ends. The circuit ends it with a reason instead of just destroying its sockets, so the
 * record says why.
 */
export interface LongLivedConnection {
  readonly kind: ConnectionKind;
  /** Ends the connection now (both sides) with `reason`; idempotent. */
  terminate(reason: CloseReason): void;
  /**
   * Route update: moves the connection to the circuit's replacement when that still admits it;
   * false when it does not (it is then ended with `revoked`). Absent: it stays with the old
   * circuit and closes with it.
   */
  carryTo?(next: Circuit): boolean;
}

export interface CircuitDeps {
  cookieName: string;
  metrics: WorkerMetrics;
  upstreamHeadersTimeoutMs: number;
}

export class Circuit implements ActivitySource {
  readonly id: string;
  readonly ownerId: string;
  readonly cookieName: string;
  readonly backend: { host: string; port: number };
  /** Built on the first HTTP request: an idle circuit (or a WebSocket-only one) holds no pool. */
  private upstreamPool: Pool | null = null;
  readonly activity = new ActivityCell();
  /** Client sockets (HTTP keep-alive and upgraded ones). */
  readonly sockets = new Set<TrackedSocket>();
  /** Upstream sockets of WebSockets, TCP relays and tunnels (HTTP ones belong to the pool). */
  readonly upstreams = new Set<Socket>();
  /** TCP relays and tunnels: counted against `spec.tcp.maxConnections`, ended with a reason. */
  readonly longLived = new Set<LongLivedConnection>();
  /** TCP circuits: how the port is reached (null for http circuits). */
  readonly access: TcpAccessMode | null;
  /** `allow-list` circuits: who may connect. */
  readonly allowList: AllowList | null;
  closed = false;

  constructor(
    readonly spec: CircuitSpec,
    /** The KV value this circuit was built from; an identical put is a no-op. */
    readonly raw: string,
    private readonly deps: CircuitDeps,
  ) {
    this.id = spec.id;
    this.ownerId = spec.ownerId;
    this.cookieName = deps.cookieName;
    this.backend = spec.backends[0]!;
    this.access = spec.protocol === 'tcp' ? (spec.tcp?.access ?? 'tunnel') : null;
    this.allowList = this.access === 'allow-list' ? AllowList.parse(spec.tcp?.allowFrom ?? []) : null;
  }

  /** The per-connection idle timeout (parseRouteSpec fills in the default). */
  get idleTimeoutMs(): number {
    return this.spec.idleTimeoutMs!;
  }

  /** True when the circuit cannot take one more TCP relay or tunnel. */
  atConnectionLimit(): boolean {
    return this.longLived.size >= (this.spec.tcp?.maxConnections ?? Number.POSITIVE_INFINITY);
  }

  get pool(): Pool {
    if (this.upstreamPool === null) {
      const host = this.backend.host.includes(':') ? `[${this.backend.host}]` : this.backend.host;
      this.upstreamPool = new Pool(`http://${host}:${this.backend.port}`, {
        headersTimeout: this.deps.upstreamHeadersTimeoutMs,
        // No body timeout: streams (SSE, downloads, long polls) may stay quiet for a long time.
        bodyTimeout: 0,
        connect: { timeout: 10_000 },
      });
      // A closed circuit refuses work: dispatch on a destroyed pool fails like a closed one.
      if (this.closed) void this.upstreamPool.destroy().catch(() => {});
    }
    return this.upstreamPool;
  }

  /**
   * Makes `socket` one of this circuit's connections (so closing the circuit destroys it). In
   * wildcard mode a keep-alive socket may move between circuits; its bytes so far stay with the
   * circuit that carried them. `carried`: a counted connection moving to this circuit's
   * replacement (route update) keeps counting, without counting as a new request.
   */
  adopt(socket: TrackedSocket, carried = false): void {
    let st = socket[kConn];
    if (st?.circuit === this) return;
    if (!st) {
      st = { circuit: null, readBase: 0, writeBase: 0, counted: false };
      socket[kConn] = st;
      socket.once('close', onClientSocketClose);
    } else if (st.circuit) {
      st.circuit.release(socket); // samples it: the bases move to the current counts
    }
    if (this.closed) {
      socket.destroy();
      return;
    }
    // A fresh socket counts from its first byte (in wildcard mode the request head was read
    // before the circuit was known); a socket moving between circuits counts from here.
    st.circuit = this;
    st.counted = carried;
    this.sockets.add(socket);
    this.deps.metrics.openConnections.inc();
  }

  /**
   * Called for every authorized request: counts it, and makes the socket's bytes count (from its
   * adoption on, so the authorized request's own head and body are included).
   */
  countRequest(socket: TrackedSocket): void {
    this.activity.requests++;
    const st = socket[kConn];
    if (st && !st.counted) {
      st.counted = true;
      this.activity.lastClientAt = Date.now();
    }
  }

  release(socket: TrackedSocket): void {
    const st = socket[kConn];
    if (!st || st.circuit !== this) return;
    this.sampleSocket(socket, st, Date.now());
    st.circuit = null;
    if (this.sockets.delete(socket)) this.deps.metrics.openConnections.dec();
  }

  /**
   * Excludes bytes that are not activity (keepalive pings the worker sent on `socket`, and the
   * client's pongs) from the circuit's counts: they move the socket's byte counters, not its idle
   * clock.
   */
  discount(socket: TrackedSocket, read: number, written: number): void {
    const st = socket[kConn];
    if (!st || st.circuit !== this) return;
    st.readBase += read;
    st.writeBase += written;
  }

  /** Makes `socket` an upstream of this circuit (moving it from its previous circuit, if any). */
  trackUpstream(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const s = socket as Socket & { [kConn]?: Circuit };
    const previous = s[kConn];
    s[kConn] = this;
    this.upstreams.add(socket);
    if (previous) previous.upstreams.delete(socket);
    else socket.once('close', onUpstreamSocketClose);
  }

  sample(now: number): void {
    for (const s of this.sockets) {
      const st = s[kConn];
      if (st) this.sampleSocket(s, st, now);
    }
  }

  openConnections(): number {
    return this.sockets.size;
  }

  /** Refuses new work at once, ends every live connection and destroys the upstream pool. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.longLived]) c.terminate('circuit-closed');
    for (const s of [...this.sockets]) {
      this.release(s);
      s.destroy();
    }
    for (const s of this.upstreams) s.destroy();
    this.upstreams.clear();
    this.upstreamPool?.destroy().catch(() => {});
  }

  private sampleSocket(socket: TrackedSocket, st: ConnState, now: number): void {
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    if (st.counted) {
      const dIn = read - st.readBase;
      const dOut = written - st.writeBase;
      if (dIn > 0) {
        this.activity.bytesIn += dIn;
        this.activity.lastClientAt = now;
      }
      // Bytes written to the client came from the backend, except for the odd worker error page
      // on a socket that already carried an authorized request (small; not worth a hot-path hook).
      if (dOut > 0) {
        this.activity.bytesOut += dOut;
        this.activity.lastBackendAt = now;
      }
    }
    st.readBase = read;
    st.writeBase = written;
  }
}
