/**
 * One served circuit: its spec, its upstream (how it reaches its backends), its activity and its
 * client sockets. The routing table builds it fully before it is reachable and changes it in place
 * afterwards (`update`): a spec that keeps the circuit's identity (owner, session, protocol, slot)
 * swaps the backend set, the access and the idle timeout under live traffic — in-flight requests,
 * WebSockets, relays and tunnels go on; those the new access no longer admits end with `revoked`.
 * Closing it refuses new work at once, ends its live connections (`circuit-closed`, through the
 * connection registry), destroys its other client sockets (keep-alive HTTP) and its upstream.
 */
import type { Socket } from 'node:net';
import type { CircuitSpec } from '../../contracts/circuit-spec.ts';
import { endpointSettingsWithDefaults } from '../../contracts/endpoint.ts';
import type { TcpAccessMode } from '../../contracts/records.ts';
import { AllowList } from '../../core/allow-list.ts';
import { sameCircuitIdentity } from '../../core/circuit-spec.ts';
import { EndpointRuntime, type InferenceDeps } from '../inference/runtime.ts';
import { ActivityCell, type ActivitySource } from '../observe/activity.ts';
import type { WorkerMetrics } from '../observe/metrics.ts';
import { Upstream, type UpstreamSettings } from '../upstream/upstream.ts';

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

/**
 * How the circuit's slot speaks: `http` (apps: cookie-authenticated HTTP and WebSocket), `tunnel`
 * (a TCP circuit whose port carries only authenticated tunnels, over HTTP), `tcp` (a TCP circuit
 * whose port relays raw TCP: allow-list or public).
 */
export type Serving = 'http' | 'tunnel' | 'tcp';

/** What a circuit asks of the worker's connection registry (connections/registry.ts). */
export interface CircuitConnections {
  /** True when the circuit carries as many relays and tunnels as its spec allows. */
  atLimit(circuit: Circuit): boolean;
  /** Ends every live connection of the circuit with `reason`. */
  terminateCircuit(circuit: Circuit, reason: 'circuit-closed' | 'revoked'): number;
}

export interface CircuitDeps {
  cookieName: string;
  metrics: WorkerMetrics;
  upstream: UpstreamSettings;
  connections: CircuitConnections;
  /** What endpoint circuits' runtimes share (absent: endpoint circuits are served without one). */
  inference?: InferenceDeps;
}

function accessOf(spec: CircuitSpec): TcpAccessMode | null {
  return spec.protocol === 'tcp' ? (spec.tcp?.access ?? 'tunnel') : null;
}

export class Circuit implements ActivitySource {
  readonly id: string;
  readonly ownerId: string;
  readonly cookieName: string;
  /** Created under the legacy flow: the user's `appproxy_permit` opens it, `/setup?token=` sets it. */
  readonly legacy: boolean;
  readonly upstream: Upstream;
  /** Endpoint circuits: health, picking, admission and holding of their routes. */
  readonly endpoint: EndpointRuntime | null;
  readonly activity = new ActivityCell();
  /** Client sockets (HTTP keep-alive and upgraded ones): their bytes are the circuit's activity. */
  readonly sockets = new Set<TrackedSocket>();
  /** TCP circuits: how the port is reached (null for http circuits). */
  access: TcpAccessMode | null;
  /** `allow-list` circuits: who may connect. */
  allowList: AllowList | null;
  closed = false;

  constructor(
    public spec: CircuitSpec,
    /** The KV value this circuit was built from; an identical put is a no-op. */
    public raw: string,
    private readonly deps: CircuitDeps,
  ) {
    this.id = spec.id;
    this.ownerId = spec.ownerId;
    this.cookieName = deps.cookieName;
    this.legacy = spec.flow === 'legacy';
    this.upstream = new Upstream(
      spec.backends,
      spec.endpoint
        ? {
            headersTimeoutMs: spec.endpoint.headersTimeoutMs,
            balancing: spec.endpoint.balancing,
            drainGraceMs: endpointSettingsWithDefaults(spec.endpoint).drainGraceMs,
            ...(deps.upstream.rawHttp ? { rawHttp: true } : {}),
          }
        : deps.upstream,
    );
    this.endpoint =
      spec.endpoint && spec.endpointId && deps.inference
        ? new EndpointRuntime(spec.endpointId, spec.endpoint, this.upstream, deps.inference)
        : null;
    this.access = accessOf(spec);
    this.allowList = this.access === 'allow-list' ? AllowList.parse(spec.tcp?.allowFrom ?? []) : null;
  }

  get sessionId(): string | null {
    return this.spec.sessionId;
  }

  /** The per-connection idle timeout (`parseCircuitSpec` fills in the default). */
  get idleTimeoutMs(): number {
    return this.spec.idleTimeoutMs!;
  }

  get serving(): Serving {
    if (this.access === null) return 'http';
    return this.access === 'tunnel' ? 'tunnel' : 'tcp';
  }

  /** True when `spec` can be applied to this circuit in place (`update`). */
  canUpdate(spec: CircuitSpec): boolean {
    return !this.closed && sameCircuitIdentity(this.spec, spec);
  }

  /**
   * Applies a spec of the same circuit in place: the upstream swaps its backend set, access and
   * limits change; the caller then has the live connections rechecked (registry.recheck).
   */
  update(spec: CircuitSpec, raw: string): void {
    const allowList = accessOf(spec) === 'allow-list' ? AllowList.parse(spec.tcp?.allowFrom ?? []) : null;
    this.spec = spec;
    this.raw = raw;
    this.access = accessOf(spec);
    this.allowList = allowList;
    this.upstream.update(spec.backends);
    if (spec.endpoint) {
      this.upstream.setBalancing(spec.endpoint.balancing);
      this.endpoint?.update(spec.endpoint);
    }
  }

  /** True when the circuit cannot take one more TCP relay or tunnel. */
  atConnectionLimit(): boolean {
    return this.deps.connections.atLimit(this);
  }

  /**
   * Makes `socket` one of this circuit's connections (so closing the circuit destroys it). In
   * wildcard mode a keep-alive socket may move between circuits; its bytes so far stay with the
   * circuit that carried them.
   */
  adopt(socket: TrackedSocket): void {
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
    st.counted = false;
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

  sample(now: number): void {
    for (const s of this.sockets) {
      const st = s[kConn];
      if (st) this.sampleSocket(s, st, now);
    }
  }

  openConnections(): number {
    return this.sockets.size;
  }

  /**
   * Refuses new work at once, ends every live connection with `reason` (they may still send
   * their close frames), destroys the other client sockets and the upstream.
   */
  close(reason: 'circuit-closed' | 'revoked' = 'circuit-closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.deps.connections.terminateCircuit(this, reason);
    for (const s of [...this.sockets]) {
      this.release(s);
      s.destroy();
    }
    this.endpoint?.close();
    this.upstream.close();
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
