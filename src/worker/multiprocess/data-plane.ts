/**
 * The serving half of a worker, built the same way in the primary process and in every
 * data-plane child (`processes > 1`): cookies, forwarding policy, request handler, frontend,
 * activity flusher and routing table. The route source (KV), registration and readiness stay in
 * the primary only.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Protocol } from '../../contracts/records.ts';
import { SetupTokenVerifier } from '../../core/setup-token.ts';
import type { CounterStore } from '../../stores/types.ts';
import { AppCookies } from '../access/app-cookie.ts';
import { RequestHandler, type WorkerContext } from '../frontend/dispatch.ts';
import { PortFrontend } from '../frontend/port.ts';
import { WildcardFrontend } from '../frontend/wildcard.ts';
import { AccessLog } from '../observe/access-log.ts';
import { ActivityFlusher } from '../observe/activity.ts';
import { WorkerMetrics } from '../observe/metrics.ts';
import { type Frontend, RoutingTable, type RoutingTableOptions } from '../routing/routing-table.ts';
import { ForwardingPolicy } from '../transport/headers.ts';

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
  /** Listen with SO_REUSEPORT so several processes share each port (processes > 1). */
  reusePort: boolean;
  /** How often tunnel clients are pinged; one missed interval cuts the tunnel. */
  tunnelPingIntervalMs: number;
}

export interface DataPlane {
  cookies: AppCookies;
  verifier: SetupTokenVerifier;
  metrics: WorkerMetrics;
  wildcard: WildcardFrontend | null;
  frontend: Frontend;
  activity: ActivityFlusher;
  table: RoutingTable;
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
  const upstreamHeadersTimeoutMs = cfg.upstreamHeadersTimeoutMs;
  const ctx: WorkerContext = {
    cookies,
    verifier,
    counters: deps.counters,
    forwarding: new ForwardingPolicy(cfg.trustedProxies, cfg.publicScheme),
    metrics,
    logger,
    upstreamHeadersTimeoutMs,
    access: new AccessLog(logger, deps.metrics),
    tunnelPingIntervalMs: cfg.tunnelPingIntervalMs,
  };
  const handler = new RequestHandler(ctx);
  const wildcard =
    cfg.frontendMode === 'wildcard'
      ? new WildcardFrontend(cfg.wildcardDomain!, cfg.bindHost, cfg.wildcardPort, handler, cfg.reusePort)
      : null;
  const frontend: Frontend = wildcard ?? new PortFrontend(cfg.bindHost, handler, cfg.reusePort);
  let table: RoutingTable | null = null;
  const activity = new ActivityFlusher({
    counters: deps.counters,
    reporter: deps.reporter,
    flushMs: cfg.activityFlushMs,
    logger,
    live: () => table?.values() ?? [],
  });
  const tableOpts: RoutingTableOptions = {
    frontendMode: cfg.frontendMode,
    protocols: cfg.protocols,
    portRange: cfg.portRange,
    frontend,
    activity,
    circuitDeps: (spec) => ({ cookieName: cookies.nameFor(spec.id), metrics, upstreamHeadersTimeoutMs }),
    onSizeChange: (n) => metrics.circuits.set(n),
  };
  table = deps.makeTable ? deps.makeTable(tableOpts) : new RoutingTable(tableOpts);
  return { cookies, verifier, metrics, wildcard, frontend, activity, table };
}
