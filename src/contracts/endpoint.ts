/**
 * Inference endpoints as the API and the workers see them: one stable address per model service
 * (an endpoint's circuit), whose **routes** (replicas) change in real time. Types and defaults
 * only; the manager validates and projects them, the worker serves them.
 */

/**
 * How a worker spreads an endpoint's requests over its routes. `prefix`: prompt-prefix cache
 * affinity only; `llm`: prefix affinity weighed against in-flight requests and the engines' own
 * queue and KV-cache metrics (OpenAI-compatible endpoints).
 */
export type BalancingPolicy = 'round-robin' | 'random' | 'weighted' | 'least-inflight' | 'prefix' | 'llm';

export const BALANCING_POLICIES: readonly BalancingPolicy[] = [
  'round-robin',
  'random',
  'weighted',
  'least-inflight',
  'prefix',
  'llm',
];

export interface EndpointHealthCheck {
  /** Path probed with GET on each route. */
  path: string;
  /** Status that counts as healthy. */
  expectedStatus: number;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes that make an unhealthy route healthy again. */
  healthyThreshold: number;
  /** Consecutive failures that make a route unhealthy. */
  unhealthyThreshold: number;
  /**
   * A new route is first probed this long after it appears; until it passes `healthyThreshold`
   * probes it takes no request (requests are held meanwhile: a replica still loading its model).
   */
  initialDelayMs: number;
}

/** What a worker needs of an endpoint beyond its routes. */
export interface EndpointSettings {
  /** `token`: requests carry `Authorization: Bearer <endpoint key>`; `public`: anyone (where permitted). */
  access: 'token' | 'public';
  balancing: BalancingPolicy;
  /** Active health checks of routes; null = none (passive ejection only). */
  healthCheck: EndpointHealthCheck | null;
  /** How long a route may take to send response headers (time to first token, for streams). */
  headersTimeoutMs: number;
  /** Optional parts; absent = the defaults below (`endpointSettingsWithDefaults`). */
  retry?: EndpointRetry;
  passive?: EndpointPassiveHealth;
  hold?: EndpointHold;
  limits?: EndpointLimits;
  /** Longest quiet gap between two chunks of a response body (streams have no total timeout). */
  streamIdleTimeoutMs?: number;
  /** Largest request body accepted (413 beyond). */
  maxBodyBytes?: number;
  /** A new route's share ramps from 10 % to its weight over this long (0 = at once). */
  slowStartMs?: number;
  /** A removed route's requests in flight may finish for this long, then are cut. */
  drainGraceMs?: number;
  /** Requests carrying the same value of this header go to the same route while it serves. */
  affinityHeader?: string | null;
  /** Where routes publish engine metrics (Prometheus text), scraped for the `llm` policy. */
  engineMetrics?: EndpointEngineMetrics | null;
}

/** Replaying a request that sent nothing to the client to another route. */
export interface EndpointRetry {
  /** Tries after the first; 0 = never retry. */
  attempts: number;
  /** Bodies up to this size are kept for replay; larger ones are never retried. */
  bufferBytes: number;
  /** Retries in flight may be at most this share of requests in flight… */
  budgetPercent: number;
  /** …or this many, whichever is more. */
  minRetries: number;
}

/** Passive health: routes that fail are taken out for a while. */
export interface EndpointPassiveHealth {
  /** Consecutive connect failures, resets or 5xx answers that eject a route. */
  consecutiveFailures: number;
  /** First ejection's length; doubled at each ejection in a row, up to `maxEjectionMs`. */
  baseEjectionMs: number;
  maxEjectionMs: number;
  /** At most this share of the routes is ejected at once (never all: the rest take the load). */
  maxEjectedPercent: number;
}

/** Requests wait while no route is ready (scale from zero, warm-up) instead of failing at once. */
export interface EndpointHold {
  /** How long a request may wait for a ready route; 0 = answer 503 at once. */
  timeoutMs: number;
  /** At most this many requests wait; more get 503 with `Retry-After`. */
  maxRequests: number;
  /** Waiting streaming calls get an SSE comment this often (keeps clients and middleboxes patient). */
  heartbeatMs: number;
}

/** Admission limits. */
export interface EndpointLimits {
  /** Requests in flight on this endpoint per worker process; null = unbounded. */
  maxConcurrent: number | null;
  /** Requests that may wait for a slot past `maxConcurrent` (429 with `Retry-After` beyond). */
  queue: number;
  /** Per key, across every worker: requests per minute; null = none. Keys may set their own. */
  rpm: number | null;
  /** Per key, across every worker: prompt + completion tokens per minute; null = none. */
  tpm: number | null;
}

export interface EndpointEngineMetrics {
  path: string;
  intervalMs: number;
  /** Signals older than this are ignored (the picker falls back to load only). */
  staleMs: number;
}

export const DEFAULT_RETRY: Readonly<EndpointRetry> = Object.freeze({
  attempts: 2,
  bufferBytes: 1024 * 1024,
  budgetPercent: 20,
  minRetries: 3,
});

export const DEFAULT_PASSIVE_HEALTH: Readonly<EndpointPassiveHealth> = Object.freeze({
  consecutiveFailures: 3,
  baseEjectionMs: 5_000,
  maxEjectionMs: 120_000,
  maxEjectedPercent: 67,
});

export const DEFAULT_HOLD: Readonly<EndpointHold> = Object.freeze({
  timeoutMs: 60_000,
  maxRequests: 1024,
  heartbeatMs: 10_000,
});

export const DEFAULT_LIMITS: Readonly<EndpointLimits> = Object.freeze({
  maxConcurrent: null,
  queue: 0,
  rpm: null,
  tpm: null,
});

export const DEFAULT_ENGINE_METRICS: Readonly<EndpointEngineMetrics> = Object.freeze({
  path: '/metrics',
  intervalMs: 1_000,
  staleMs: 5_000,
});

/** Every setting with its default filled in (what a worker runs with). */
export type ResolvedEndpointSettings = Required<
  Omit<EndpointSettings, 'engineMetrics' | 'affinityHeader'>
> & {
  affinityHeader: string | null;
  engineMetrics: EndpointEngineMetrics | null;
};

export function endpointSettingsWithDefaults(s: EndpointSettings): ResolvedEndpointSettings {
  const llm = s.balancing === 'llm';
  return {
    access: s.access,
    balancing: s.balancing,
    healthCheck: s.healthCheck,
    headersTimeoutMs: s.headersTimeoutMs,
    retry: { ...DEFAULT_RETRY, ...s.retry },
    passive: { ...DEFAULT_PASSIVE_HEALTH, ...s.passive },
    hold: { ...DEFAULT_HOLD, ...s.hold },
    limits: { ...DEFAULT_LIMITS, ...s.limits },
    streamIdleTimeoutMs: s.streamIdleTimeoutMs ?? 300_000,
    maxBodyBytes: s.maxBodyBytes ?? 16 * 1024 * 1024,
    slowStartMs: s.slowStartMs ?? 0,
    drainGraceMs: s.drainGraceMs ?? 60_000,
    affinityHeader: s.affinityHeader ?? null,
    engineMetrics:
      s.engineMetrics === null
        ? null
        : s.engineMetrics || llm
          ? { ...DEFAULT_ENGINE_METRICS, ...s.engineMetrics }
          : null,
  };
}

export const DEFAULT_ENDPOINT_SETTINGS: Readonly<EndpointSettings> = Object.freeze({
  access: 'token',
  balancing: 'least-inflight',
  healthCheck: null,
  headersTimeoutMs: 300_000,
});

export const DEFAULT_HEALTH_CHECK: Readonly<EndpointHealthCheck> = Object.freeze({
  path: '/health',
  expectedStatus: 200,
  intervalMs: 5_000,
  timeoutMs: 2_000,
  healthyThreshold: 1,
  unhealthyThreshold: 2,
  initialDelayMs: 0,
});

/** A route of an endpoint as the API answers it. */
export interface EndpointRoute {
  id: string;
  /** `session`: a session's service (follows the session's life); `address`: a fixed address. */
  kind: 'session' | 'address';
  sessionId: string | null;
  service: string | null;
  /** Where it is reached now; null while its session's service has no backend (not running). */
  backend: { host: string; port: number } | null;
  /** Traffic share; 0 = staged (receives nothing). */
  weight: number;
  /** `serving` (a backend, weight > 0), `staged` (weight 0) or `unresolved` (no backend yet). */
  state: 'serving' | 'staged' | 'unresolved';
  /** As the workers serving the endpoint see it (absent until one reports). */
  health?: RouteHealth;
  /** In flight now and the last minute of answers, summed over the reporting worker processes. */
  traffic?: RouteTraffic;
}

export type EndpointState = 'ACTIVE' | 'DELETING' | 'DELETED';

export interface Endpoint {
  id: string;
  name: string;
  ownerId: string;
  state: EndpointState;
  /** The stable URL clients call (`…/v1/chat/completions` under it). */
  url: string | null;
  circuitId: string | null;
  settings: EndpointSettings;
  routes: EndpointRoute[];
  /** Bumped by every change of the endpoint or its routes (`If-Match` of `PUT …/routes`). */
  revision: number;
  createdAt: string;
  updatedAt: string;
}

/** An endpoint key as the API answers it (its secret only once, at creation). */
export interface EndpointKey {
  id: string;
  endpointId: string;
  name: string;
  models: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  state: 'live' | 'expired' | 'revoked';
  /** This key's requests / tokens per minute (null: the endpoint's limits). */
  rpm: number | null;
  tpm: number | null;
}

/**
 * Value of `kvKeys.endpointKey(endpoint, id)`: what a worker checks a presented key against. A
 * digest, never the key: KV holds no secret.
 */
export interface EndpointKeyRecord {
  id: string;
  endpointId: string;
  /** SHA-256 (hex) of the key. */
  digest: string;
  /** Epoch ms; null = until revoked. */
  expiresAt: number | null;
  /** Model names it may ask for; empty = any. */
  models: string[];
  /** This key's own limits (else the endpoint's). */
  rpm?: number | null;
  tpm?: number | null;
}

/**
 * A backend of an endpoint's circuit spec: the route it stands for and its weight (absent on
 * interactive circuits, whose backends are the session's one service).
 */
export interface SpecBackend {
  host: string;
  port: number;
  /** The route id (endpoint circuits). */
  route?: string;
  /** Traffic share (endpoint circuits); absent = 1 share. */
  weight?: number;
}

/** A route's health as the workers serving its endpoint see it (each worker process probes). */
export type RouteHealthState = 'starting' | 'healthy' | 'unhealthy' | 'ejected';

/** One worker process's view of one route (what it writes to the counter store). */
export interface RouteHealthReport {
  key: string;
  route: string | null;
  state: RouteHealthState;
  lastProbeAt: number | null;
  lastError: string | null;
  ejections: number;
  consecutiveFailures: number;
  /** Requests with an attempt on the route now, in the reporting process. */
  inflight?: number;
  /** The reporting process's last minute of the route's answers (null: none). */
  traffic?: RouteTrafficReport | null;
}

/** One process's last minute of one route, as its report carries it (latencies bucketed: core/route-traffic.ts). */
export interface RouteTrafficReport {
  requests: number;
  /** Answers of 5xx, failed attempts and streams ended by an error event. */
  errors: number;
  /** Request duration, arrival to last byte: counts per log-spaced bucket. */
  latency: number[];
  /** Arrival to the first generated token (streams only): counts per bucket. */
  ttft: number[];
}

/** A route's traffic in the API: the reporting processes' windows summed. */
export interface RouteTraffic {
  windowS: number;
  /** Requests with an attempt on the route now (summed over the processes). */
  inflight: number;
  requests: number;
  errors: number;
  /** errors / requests over the window; null without requests. */
  errorRate: number | null;
  latencyMs: { p50: number | null; p90: number | null; p99: number | null };
  ttftMs: { p50: number | null; p99: number | null };
}

/** A route's health in the API: the worst state any reporting worker process sees, and totals. */
export interface RouteHealth {
  state: RouteHealthState;
  /** Worker processes whose report counted (fresh ones). */
  reporters: number;
  lastProbeAt: string | null;
  lastError: string | null;
  ejections: number;
}

/**
 * Counter-store keys of endpoints (the Redis role): route health and traffic reports, short-lived.
 * One key per endpoint and worker process (`<authority>:<pid>`, the worker serving the endpoint's
 * circuit): in-flight counts and traffic windows are per process and add up, so each process
 * writes its own and the manager sums the fresh ones (listed by the endpoint-and-worker prefix).
 */
export const endpointCounterKeys = {
  healthReport: (endpointId: string, reporter: string) => `ap:eph:${endpointId}:${reporter}`,
  /** The prefix of every process's report of one worker (`reporter` = `<worker>:<pid>`). */
  healthReportsOf: (endpointId: string, worker: string) => `ap:eph:${endpointId}:${worker}:`,
} as const;
