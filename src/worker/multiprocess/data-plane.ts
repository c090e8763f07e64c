/**
 * The serving half of a worker, built the same way in the primary process and in every
 * data-plane child (`processes > 1`): cookies, the revocation set (whose records end the matching
 * live connections of this process), forwarding policy, the connection registry and keepalive
 * sweeper, the tunnel endpoint, the dispatch, the frontend, the activity flusher and the routing
 * table — the data plane's composition root. The control sources (KV), registration and readiness
 * stay in the primary only.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type RevocationRecord, refuses } from '../../contracts/auth.ts';
import type { Protocol } from '../../contracts/records.ts';
import { SetupTokenVerifier } from '../../core/setup-token.ts';
import type { CounterStore } from '../../stores/types.ts';
import { AppCookies } from '../access/app-cookie.ts';
import { EndpointKeys } from '../access/endpoint-keys.ts';
import { RevocationSet, type RevocationSetOptions } from '../access/revocations.ts';
import { Keepalive } from '../connections/keepalive.ts';
import { ConnectionRegistry } from '../connections/registry.ts';
import type { ManagerLinks, WorkerContext } from '../context.ts';
import { WorkerFlags } from '../control/flags.ts';
import { Dispatch } from '../frontend/dispatch.ts';
import { PortFrontend } from '../frontend/port.ts';
import { WildcardFrontend } from '../frontend/wildcard.ts';
import { KeyLimiter } from '../inference/limits.ts';
import { EndpointMetrics } from '../inference/metrics.ts';
import type { InferenceDeps } from '../inference/runtime.ts';
import { UsageRecorder } from '../inference/usage.ts';
import { AccessLog } from '../observe/access-log.ts';
import { ActivityFlusher } from '../observe/activity.ts';
import { WorkerMetrics } from '../observe/metrics.ts';
import type { Circuit } from '../routing/circuit.ts';
import { type Frontend, RoutingTable, type RoutingTableOptions } from '../routing/routing-table.ts';
import { ForwardingPolicy } from '../transport/headers.ts';
import { TunnelEndpoint } from '../transport/tunnel.ts';

/** The serializable part of `WorkerOptions` a data plane needs (sent to children as is). */
export interface DataPlaneConfig {
  authority: string;
  frontendMode: 'port' | 'wildcard';
  protocols: Protocol[];
  bindHost: string;
  portRange?: [number, number];
  wildcardDomain?: string;
  wildcardPort: number;
  publicScheme: 'http' | 'https';
  cookieSecret: Buffer;
  cookieTtlMs: number;
  activityFlushMs: number;
  trustedProxies: string[];
  upstreamHeadersTimeoutMs: number;
  /** Port mode: proxied HTTP/1.1 through the fast path (fastpath/connection.ts). */
  fastPath: boolean;
  /** Listen with SO_REUSEPORT so several processes share each port (processes > 1). */
  reusePort: boolean;
  /** How often tunnel clients are pinged; one missed interval cuts the tunnel. */
  tunnelPingIntervalMs: number;
  /** How long the revocation set may go unconfirmed before old credentials are refused. */
  revocationStaleAfterMs: number;
}

export interface DataPlane {
  /** Feature flags as evaluated for this worker (the primary's watch, or the primary over IPC). */
  flags: WorkerFlags;
  cookies: AppCookies;
  verifier: SetupTokenVerifier;
  revocations: RevocationSet;
  /** Keys of token endpoints (the control side fills them). */
  endpointKeys: EndpointKeys;
  /** The manager's sign-in page, for 401 pages (set by the control side). */
  links: ManagerLinks;
  metrics: WorkerMetrics;
  wildcard: WildcardFrontend | null;
  frontend: Frontend;
  activity: ActivityFlusher;
  table: RoutingTable;
  /** Live WebSockets, relays and tunnels of this process. */
  connections: ConnectionRegistry;
  keepalive: Keepalive;
  /** Key limits, usage recording and metrics of inference endpoints (usage flushes on close). */
  inference: InferenceDeps;
}

/**
 * HTTP keep-alive sockets whose last cookie a revocation refuses are destroyed: a response still
 * streaming (an event stream, a long poll, a download) ends with them, and the next request would
 * be refused anyway. Upgraded sockets are the registry's (their entry in `bySocket` is dropped at
 * the upgrade), so they get their close frames from `ConnectionRegistry.revoke`. Revocations are
 * rare; visiting every client socket then is cheaper than tracking sockets by grant per request.
 */
function cutHttpSockets(circuits: Iterable<Circuit>, cookies: AppCookies, record: RevocationRecord): number {
  let cut = 0;
  for (const circuit of circuits) {
    if (record.kind === 'circuit' && circuit.id !== record.subject) continue;
    for (const socket of [...circuit.sockets]) {
      const claims = cookies.bySocket.get(socket)?.claims;
      if (claims && refuses(record, claims)) {
        socket.destroy();
        cut++;
      }
    }
  }
  return cut;
}

export function buildDataPlane(
  cfg: DataPlaneConfig,
  deps: {
    counters: CounterStore;
    logger: Logger;
    metrics: Registry;
    reporter: string;
    verifier?: SetupTokenVerifier;
    /** The routing table class (the primary's replicates changes to its children). */
    makeTable?: (o: RoutingTableOptions) => RoutingTable;
    /** The revocation set class (the primary's replicates its decisions to its children). */
    makeRevocations?: (o: RevocationSetOptions) => RevocationSet;
  },
): DataPlane {
  const { logger } = deps;
  const metrics = new WorkerMetrics(deps.metrics);
  const cookies = new AppCookies({
    secret: cfg.cookieSecret,
    ttlMs: cfg.cookieTtlMs,
    secure: cfg.publicScheme === 'https',
  });
  const verifier = deps.verifier ?? new SetupTokenVerifier();
  const upstream = { headersTimeoutMs: cfg.upstreamHeadersTimeoutMs, rawHttp: cfg.fastPath };
  const connections = new ConnectionRegistry(new AccessLog(logger, deps.metrics));
  const keepalive = new Keepalive();
  const revocationOpts: RevocationSetOptions = {
    staleAfterMs: cfg.revocationStaleAfterMs,
    onSizeChange: (n) => metrics.revocations.set(n),
  };
  const revocations = deps.makeRevocations?.(revocationOpts) ?? new RevocationSet(revocationOpts);
  const flags = new WorkerFlags();
  flags.onChange((v) => {
    revocations.enforce(v.logoutRevocation);
    logger.info({ flags: v }, 'feature flags changed');
  });
  revocations.onRecord((record, live) => {
    const ended = connections.revoke(record) + cutHttpSockets(table?.values() ?? [], cookies, record);
    metrics.countRevoked('connection', ended);
    if (live) metrics.observeRevocationLag(Date.now() - record.at);
    if (ended > 0)
      logger.info(
        { revocation: record.id, kind: record.kind, reason: record.reason, ended },
        'connections revoked',
      );
  });
  const links: ManagerLinks = { loginUrl: null };
  const inference: InferenceDeps = {
    limiter: new KeyLimiter(deps.counters, {
      onError: (err) => logger.warn({ err }, 'endpoint key limit not settled'),
    }),
    usage: new UsageRecorder(deps.counters, {
      onError: (err) => logger.warn({ err }, 'endpoint usage not written yet (kept for the next flush)'),
    }),
    metrics: new EndpointMetrics(deps.metrics),
    counters: deps.counters,
    logger,
    worker: cfg.authority,
    reporter: deps.reporter,
  };
  const ctx: WorkerContext = {
    flags,
    inference,
    endpointKeys: new EndpointKeys(),
    cookies,
    revocations,
    links,
    verifier,
    counters: deps.counters,
    forwarding: new ForwardingPolicy(cfg.trustedProxies, cfg.publicScheme),
    metrics,
    logger,
    connections,
    keepalive,
    tunnelPingIntervalMs: cfg.tunnelPingIntervalMs,
  };
  const tunnels = new TunnelEndpoint({
    verifier,
    counters: deps.counters,
    revocations,
    connections,
    keepalive,
    metrics,
    logger,
    pingIntervalMs: cfg.tunnelPingIntervalMs,
  });
  const dispatch = new Dispatch(ctx, tunnels);
  const fastPath = cfg.fastPath ? { headersTimeoutMs: cfg.upstreamHeadersTimeoutMs } : null;
  const wildcard =
    cfg.frontendMode === 'wildcard'
      ? new WildcardFrontend(
          cfg.wildcardDomain!,
          cfg.bindHost,
          cfg.wildcardPort,
          dispatch,
          cfg.reusePort,
          fastPath,
        )
      : null;
  const frontend: Frontend = wildcard ?? new PortFrontend(cfg.bindHost, dispatch, cfg.reusePort, fastPath);
  let table: RoutingTable | null = null;
  const activity = new ActivityFlusher({
    counters: deps.counters,
    reporter: deps.reporter,
    flushMs: cfg.activityFlushMs,
    logger,
    live: () => table?.values() ?? [],
    legacyKeys: () => flags.enabled('legacyCoordinatorApi'),
  });
  const tableOpts: RoutingTableOptions = {
    frontendMode: cfg.frontendMode,
    protocols: cfg.protocols,
    portRange: cfg.portRange,
    frontend,
    activity,
    circuitDeps: (spec) => ({
      cookieName: spec.flow === 'legacy' ? cookies.permitName() : cookies.nameFor(spec.id),
      metrics,
      upstream,
      connections,
      inference,
    }),
    recheck: (circuit) => connections.recheck(circuit),
    onSizeChange: (n) => metrics.circuits.set(n),
  };
  table = deps.makeTable ? deps.makeTable(tableOpts) : new RoutingTable(tableOpts);
  return {
    flags,
    endpointKeys: ctx.endpointKeys,
    cookies,
    verifier,
    revocations,
    links,
    metrics,
    wildcard,
    frontend,
    activity,
    table,
    connections,
    keepalive,
    inference,
  };
}

/**
 * Ends everything the data plane serves: every circuit (its connections get their close frames),
 * then whatever is still open is destroyed without waiting for close handshakes, and the sweeper
 * stops. The frontend stops accepting before this (the caller's first step).
 */
export function closeServing(plane: DataPlane): void {
  plane.table.closeAll();
  plane.connections.destroyAll();
  plane.keepalive.close();
}
