/**
 * The worker (data plane): factory and lifecycle. Its folders read like the request path:
 * control/ (what to serve, from KV) → routing/ (the table, one owner of circuit state; circuits)
 * → frontend/ (port and wildcard listeners, dispatch by the circuit's kind) → access/ (setup,
 * app cookie, single-use marks) → transport/ (http, upgrade and WebSocket relay, tunnel, TCP relay)
 * → connections/ (live-connection model, registry, keepalive) → upstream/ (backends, pools, phase
 * codes); observe/ (activity, access log, metrics, error pages) on the side; multiprocess/ builds
 * the data plane, in this process and in data-plane children.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AppProxyError } from '../contracts/errors.ts';
import { kvKeys, type WorkerRegistration } from '../contracts/kv-layout.ts';
import type { Protocol } from '../contracts/records.ts';
import { probe } from '../core/probe.ts';
import type { CounterStore, KvStore } from '../stores/types.ts';
import type { ConnectionRegistry } from './connections/registry.ts';
import { ControlSource } from './control/source.ts';
import { buildDataPlane, closeServing, type DataPlaneConfig } from './multiprocess/data-plane.ts';
import { DataPlaneChildren, ReplicatedTable, ReplicatedVerifier } from './multiprocess/multiprocess.ts';
import { DEFAULT_TUNNEL_PING_INTERVAL_MS } from './transport/tunnel.ts';

export interface WorkerOptions {
  /** Stable name, e.g. 'port-1'. */
  authority: string;
  frontendMode: 'port' | 'wildcard';
  /**
   * What the worker serves: ['http'], or ['http', 'tcp'] on a port-mode worker (TCP circuits need
   * a port each). Other circuits get an AP_ERR_PROTOCOL_UNSUPPORTED readiness error.
   */
  protocols: Protocol[];
  /** Where listeners bind, e.g. '127.0.0.1'. */
  bindHost: string;
  /** Port mode: inclusive range. */
  portRange?: [number, number];
  /** Wildcard mode, e.g. 'apps.localhost'. */
  wildcardDomain?: string;
  /** Wildcard mode listen port; 0 = pick a free one. */
  wildcardPort?: number;
  /** What browsers use (TLS may terminate in front); 'https' ⇒ Secure + __Host- cookies. */
  publicScheme: 'http' | 'https';
  /** Host browsers use in port mode (e.g. '127.0.0.1'). */
  publicHost: string;
  /** Wildcard: the port browsers use; undefined = the actual wildcard listen port, null = scheme default. */
  publicPort?: number | null;
  kv: KvStore;
  counters: CounterStore;
  /** ≥ 32 bytes; HMAC key of app cookies. */
  cookieSecret: Buffer;
  /** Default 12 h. */
  cookieTtlMs?: number;
  /** Default 10 s. */
  leaseTtlMs?: number;
  /** Default 1000. */
  activityFlushMs?: number;
  /** IPs/CIDRs whose inbound X-Forwarded-* and Forwarded headers are kept and extended; default none. */
  trustedProxies?: string[];
  /** Default 300 s (apps are interactive; long polls exist). */
  upstreamHeadersTimeoutMs?: number;
  /** Tunnel clients are pinged this often and cut when one interval passes without a pong. Default 30 s. */
  tunnelPingIntervalMs?: number;
  logger: Logger;
  metrics: Registry;
  /**
   * Data-plane processes (default 1). With N > 1 this process keeps the control source,
   * registration and readiness and serves too, and N−1 child processes serve the same ports
   * (SO_REUSEPORT, Linux); a readiness mark is written once every process applied the change.
   * Prometheus metrics then cover this process's share of the traffic only.
   */
  processes?: number;
}

export interface Worker {
  /** Listen (wildcard), register under a lease, snapshot+watch circuits, publish readiness. */
  start(): Promise<void>;
  /** Stop accepting, revoke the lease, close every circuit's live connections, flush activity. */
  close(): Promise<void>;
  /** Valid after start(). */
  readonly registration: WorkerRegistration;
  /** Actual listen port in wildcard mode. */
  readonly wildcardPort: number | null;
  routeCount(): number;
  /** Pids of the processes serving (this one first, then data-plane children). */
  processIds(): number[];
  /**
   * What tests wait on instead of sleeping: activity flush passes of this process, and how far
   * the circuits watch is (revision seen, established or not, failed attempts to resume).
   */
  status(): { activityPasses: number; circuits: { revision: number; watching: boolean; failures: number } };
  /** The live WebSockets, TCP relays and tunnels this process serves, by circuit. */
  readonly connections: ConnectionRegistry;
  /** What `/readyz` of the worker process answers (see `WorkerReadiness`). */
  readiness(): Promise<WorkerReadiness>;
}

/**
 * Whether the worker serves, and which of its stores answer. `ready`: started, KV and counters
 * answer. `degraded`: started, but a store does not answer — it still serves every circuit it
 * knows with the cookies it issued (static stability), so a load balancer should keep it; what
 * does not work meanwhile: without KV, new or changed circuits and readiness marks (start-service
 * waits); without the counters role, setup links and tunnel tokens (their single-use marks: 503
 * AP_ERR_STORE_UNAVAILABLE) and activity reporting (kept in memory, sent when it returns).
 * `starting` (answered 503): not serving yet.
 */
export interface WorkerReadiness {
  status: 'starting' | 'ready' | 'degraded';
  stores: { kv: boolean; counters: boolean };
  circuits: number;
}

/** A key nobody writes: reading it is the cheapest question the counters role can answer. */
const READINESS_PROBE_KEY = 'ap:probe:readiness';

function invalidConfig(message: string): AppProxyError {
  return new AppProxyError('AP_ERR_CONFIG_INVALID', message);
}

function validate(opts: WorkerOptions): void {
  if (
    opts.processes !== undefined &&
    (!Number.isInteger(opts.processes) || opts.processes < 1 || opts.processes > 256)
  )
    throw invalidConfig('worker processes must be an integer from 1 to 256.');
  const ping = opts.tunnelPingIntervalMs;
  if (ping !== undefined && (!Number.isInteger(ping) || ping < 10 || ping > 2 ** 31 - 1))
    throw invalidConfig('worker tunnelPingIntervalMs must be an integer of at least 10.');
  if (!opts.authority || /[/\s]/.test(opts.authority))
    throw invalidConfig('worker authority must be a non-empty name without / or spaces.');
  if (!Buffer.isBuffer(opts.cookieSecret) || opts.cookieSecret.length < 32) {
    throw invalidConfig('worker cookieSecret must be at least 32 bytes.');
  }
  if (opts.frontendMode === 'port') {
    const r = opts.portRange;
    if (!r || !Number.isInteger(r[0]) || !Number.isInteger(r[1]) || r[0] < 1 || r[1] > 65535 || r[0] > r[1]) {
      throw invalidConfig('worker portRange must be [low, high] with 1 ≤ low ≤ high ≤ 65535 in port mode.');
    }
  } else if (opts.frontendMode === 'wildcard') {
    if (!opts.wildcardDomain) throw invalidConfig('worker wildcardDomain is required in wildcard mode.');
  } else {
    throw invalidConfig(`worker frontendMode must be port or wildcard, not ${String(opts.frontendMode)}.`);
  }
}

export function createWorker(opts: WorkerOptions): Worker {
  validate(opts);
  const logger = opts.logger.child({ component: 'worker', authority: opts.authority });
  const processes = opts.processes ?? 1;
  const cfg: DataPlaneConfig = {
    authority: opts.authority,
    frontendMode: opts.frontendMode,
    protocols: [...opts.protocols],
    bindHost: opts.bindHost,
    portRange: opts.portRange,
    wildcardDomain: opts.wildcardDomain,
    wildcardPort: opts.wildcardPort ?? 0,
    publicScheme: opts.publicScheme,
    cookieSecret: opts.cookieSecret,
    cookieTtlMs: opts.cookieTtlMs ?? 12 * 3600 * 1000,
    activityFlushMs: opts.activityFlushMs ?? 1000,
    trustedProxies: opts.trustedProxies ?? [],
    upstreamHeadersTimeoutMs: opts.upstreamHeadersTimeoutMs ?? 300_000,
    reusePort: processes > 1,
    tunnelPingIntervalMs: opts.tunnelPingIntervalMs ?? DEFAULT_TUNNEL_PING_INTERVAL_MS,
  };
  const children = processes > 1 ? new DataPlaneChildren(processes - 1, opts.counters, logger) : null;
  const plane = buildDataPlane(cfg, {
    counters: opts.counters,
    logger,
    metrics: opts.metrics,
    reporter: `${opts.authority}:${process.pid}`,
    verifier: children ? new ReplicatedVerifier(children) : undefined,
    makeTable: children ? (o) => new ReplicatedTable(o, children) : undefined,
  });
  const { verifier, wildcard, frontend, activity, table, metrics } = plane;
  let registration: WorkerRegistration | null = null;
  const source = new ControlSource({
    kv: opts.kv,
    authority: opts.authority,
    leaseTtlMs: opts.leaseTtlMs ?? 10_000,
    registration: () => registration!,
    table,
    verifier,
    logger,
  });
  let state: 'new' | 'starting' | 'running' | 'closed' = 'new';

  return {
    async start() {
      if (state !== 'new') throw new Error(`worker ${opts.authority} cannot start twice`);
      state = 'starting';
      const port = wildcard ? await wildcard.start() : null;
      if (children) {
        try {
          await children.start({
            t: 'init',
            cfg: { ...cfg, wildcardPort: port ?? 0, cookieSecret: opts.cookieSecret.toString('base64') },
            logLevel: opts.logger.level,
          });
        } catch (err) {
          await this.close();
          throw err;
        }
      }
      registration = {
        authority: opts.authority,
        frontendMode: opts.frontendMode,
        protocols: [...opts.protocols],
        portRange: opts.frontendMode === 'port' ? opts.portRange! : null,
        wildcardDomain: wildcard ? opts.wildcardDomain!.toLowerCase() : null,
        publicScheme: opts.publicScheme,
        publicHost: opts.publicHost,
        publicPort: wildcard ? (opts.publicPort === undefined ? port : opts.publicPort) : null,
        startedAt: new Date().toISOString(),
      };
      activity.start();
      try {
        await source.start();
      } catch (err) {
        await this.close();
        throw err;
      }
      state = 'running';
      logger.info({ mode: opts.frontendMode, wildcardPort: port, circuits: table.size }, 'worker started');
    },

    async close() {
      if (state === 'closed') return;
      state = 'closed';
      await frontend.close();
      await source.close();
      closeServing(plane);
      await children?.close();
      await activity.close();
      metrics.detach();
      logger.info('worker closed');
    },

    get registration(): WorkerRegistration {
      if (!registration) throw new Error('worker registration is available after start()');
      return registration;
    },

    get wildcardPort() {
      return wildcard?.listenPort ?? null;
    },

    routeCount() {
      return table.size;
    },

    processIds() {
      return [process.pid, ...(children?.pids() ?? [])];
    },

    status() {
      return { activityPasses: activity.passes, circuits: source.syncStatus() };
    },

    connections: plane.connections,

    async readiness(): Promise<WorkerReadiness> {
      const [kv, counters] = await Promise.all([
        probe(() => opts.kv.get(kvKeys.registration(opts.authority))),
        probe(() => opts.counters.get(READINESS_PROBE_KEY)),
      ]);
      const status = state !== 'running' ? 'starting' : kv && counters ? 'ready' : 'degraded';
      return { status, stores: { kv, counters }, circuits: table.size };
    },
  };
}
