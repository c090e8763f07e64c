/**
 * The worker (data plane): factory and lifecycle. Its folders read like the request path:
 * control/ (what to serve and what is revoked, from KV) → routing/ (the table, one owner of circuit state; circuits)
 * → frontend/ (port and wildcard listeners, dispatch by the circuit's kind) → access/ (setup,
 * app cookie, revocation set, single-use marks) → transport/ (http, upgrade and WebSocket relay, tunnel, TCP relay)
 * → connections/ (live-connection model, registry, keepalive) → upstream/ (backends, pools, phase
 * codes); observe/ (activity, access log, metrics, error pages) on the side; multiprocess/ builds
 * the data plane, in this process and in data-plane children.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { LOGOUT_PATH } from '../contracts/auth.ts';
import { AppProxyError } from '../contracts/errors.ts';
import { kvKeys, type WorkerRegistration } from '../contracts/kv-layout.ts';
import type { Protocol } from '../contracts/records.ts';
import { probe } from '../core/probe.ts';
import { FlagView } from '../stores/flag-view.ts';
import type { CounterStore, KvStore } from '../stores/types.ts';
import { DEFAULT_REVOCATION_STALE_AFTER_MS } from './access/revocations.ts';
import type { ConnectionRegistry } from './connections/registry.ts';
import { EndpointKeySource } from './control/endpoint-keys.ts';
import { type FlagValues, followFlags } from './control/flags.ts';
import { DEFAULT_REVOCATION_CONFIRM_INTERVAL_MS, RevocationSource } from './control/revocations.ts';
import { ControlSource } from './control/source.ts';
import { buildDataPlane, closeServing, type DataPlaneConfig } from './multiprocess/data-plane.ts';
import {
  DataPlaneChildren,
  ReplicatedRevocations,
  ReplicatedTable,
  ReplicatedVerifier,
} from './multiprocess/multiprocess.ts';
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
  /** Proxied HTTP/1.1 on the fast path (fastpath/connection.ts), both frontend modes; false = node:http only. Default true. */
  fastPath?: boolean;
  /** Tunnel clients are pinged this often and cut when one interval passes without a pong. Default 30 s. */
  tunnelPingIntervalMs?: number;
  /**
   * Fail closed: once the revocation set has not been confirmed against KV for this long, app
   * cookies and tokens issued before its last confirmation are refused
   * (AP_ERR_APP_COOKIE_UNCONFIRMED) and `/readyz` says degraded. Default 30 s.
   */
  revocationStaleAfterMs?: number;
  /** How often the revocation set is re-read from KV (which confirms it). Default 2 s. */
  revocationConfirmIntervalMs?: number;
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
  status(): {
    activityPasses: number;
    circuits: { revision: number; watching: boolean; failures: number };
    /** Records applied, the last revision of the revocations prefix seen, confirmations so far. */
    revocations: { records: number; revision: number; confirmedAt: number; confirmations: number };
  };
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
 * AP_ERR_STORE_UNAVAILABLE) and activity reporting (kept in memory, sent when it returns). It is
 * also `degraded` while its revocation set is stale (not confirmed against KV for longer than
 * `revocationStaleAfterMs`): cookies and tokens issued before the last confirmation are refused
 * meanwhile (fail closed), newer ones work.
 * `starting` (answered 503): not serving yet.
 */
export interface WorkerReadiness {
  status: 'starting' | 'ready' | 'degraded';
  stores: { kv: boolean; counters: boolean };
  circuits: number;
  /** When the set was last confirmed current (ISO 8601; null: never), whether it is stale, records held. */
  revocations: { confirmedAt: string | null; stale: boolean; records: number };
  /** The feature flags the worker reads, as it applies them now (its overrides included). */
  flags: Partial<FlagValues>;
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
  const staleAfter = opts.revocationStaleAfterMs ?? DEFAULT_REVOCATION_STALE_AFTER_MS;
  const confirmEvery = opts.revocationConfirmIntervalMs ?? DEFAULT_REVOCATION_CONFIRM_INTERVAL_MS;
  if (!Number.isInteger(staleAfter) || staleAfter < 100 || staleAfter > 2 ** 31 - 1)
    throw invalidConfig('worker revocationStaleAfterMs must be an integer of at least 100.');
  if (!Number.isInteger(confirmEvery) || confirmEvery < 10 || confirmEvery >= staleAfter)
    throw invalidConfig(
      'worker revocationConfirmIntervalMs must be an integer of at least 10, below revocationStaleAfterMs.',
    );
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
    fastPath: opts.fastPath ?? true,
    reusePort: processes > 1,
    tunnelPingIntervalMs: opts.tunnelPingIntervalMs ?? DEFAULT_TUNNEL_PING_INTERVAL_MS,
    revocationStaleAfterMs: opts.revocationStaleAfterMs ?? DEFAULT_REVOCATION_STALE_AFTER_MS,
  };
  const children = processes > 1 ? new DataPlaneChildren(processes - 1, opts.counters, logger) : null;
  const plane = buildDataPlane(cfg, {
    counters: opts.counters,
    logger,
    metrics: opts.metrics,
    reporter: `${opts.authority}:${process.pid}`,
    verifier: children ? new ReplicatedVerifier(children) : undefined,
    makeTable: children ? (o) => new ReplicatedTable(o, children) : undefined,
    makeRevocations: children ? (o) => new ReplicatedRevocations(o, children) : undefined,
  });
  const { verifier, wildcard, frontend, activity, table, metrics, revocations } = plane;
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
  const endpointKeySource = new EndpointKeySource(opts.kv, plane.endpointKeys, logger);
  // Feature flags, evaluated for this worker; children get the values with every change.
  const flagView = new FlagView(opts.kv, logger);
  if (children) plane.flags.onChange((values) => children.updateFlags(values));
  const stopFlags = followFlags(flagView, opts.authority, plane.flags);
  if (children) children.replicateEndpointKeys(plane.endpointKeys);
  const revocationSource = new RevocationSource({
    kv: opts.kv,
    revocations,
    onLoginUrl: (url) => {
      plane.links.loginUrl = url;
      children?.updateLoginUrl(url);
    },
    confirmIntervalMs: opts.revocationConfirmIntervalMs ?? DEFAULT_REVOCATION_CONFIRM_INTERVAL_MS,
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
        logoutPath: LOGOUT_PATH,
        startedAt: new Date().toISOString(),
      };
      activity.start();
      try {
        // Flags and revocations first: no circuit is served before they are known.
        await flagView.start();
        await revocationSource.start();
        await endpointKeySource.start();
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
      stopFlags();
      await Promise.all([
        source.close(),
        revocationSource.close(),
        endpointKeySource.close(),
        flagView.close(),
      ]);
      closeServing(plane);
      await children?.close();
      await activity.close();
      await plane.inference.usage.close();
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
      return {
        activityPasses: activity.passes,
        circuits: source.syncStatus(),
        revocations: {
          records: revocations.size,
          revision: revocationSource.revision,
          confirmedAt: revocations.confirmedAt,
          confirmations: revocationSource.confirmations,
        },
      };
    },

    connections: plane.connections,

    async readiness(): Promise<WorkerReadiness> {
      const [kv, counters] = await Promise.all([
        probe(() => opts.kv.get(kvKeys.registration(opts.authority))),
        probe(() => opts.counters.get(READINESS_PROBE_KEY)),
      ]);
      // With revocation turned off (a flag) nothing fails closed, so staleness degrades nothing.
      const stale = revocations.enforcing && revocations.stale(Date.now());
      const status = state !== 'running' ? 'starting' : kv && counters && !stale ? 'ready' : 'degraded';
      const confirmedAt =
        revocations.confirmedAt > 0 ? new Date(revocations.confirmedAt).toISOString() : null;
      return {
        status,
        stores: { kv, counters },
        circuits: table.size,
        revocations: { confirmedAt, stale, records: revocations.size },
        flags: plane.flags.workerValues(),
      };
    },
  };
}
