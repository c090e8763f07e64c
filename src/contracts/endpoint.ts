/**
 * Inference endpoints as the API and the workers see them: one stable address per model service
 * (an endpoint's circuit), whose **routes** (replicas) change in real time. Types and defaults
 * only; the manager validates and projects them, the worker serves them.
 */

/** How a worker spreads an endpoint's requests over its routes. */
export type BalancingPolicy = 'round-robin' | 'random' | 'weighted' | 'least-inflight';

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
  /** A new route is not probed (and is taken as healthy) for this long. */
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
