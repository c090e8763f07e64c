/**
 * Wire types of the inference endpoint part of the manager API: endpoints, their routes
 * (replicas) and their keys. The records come from `src/contracts/endpoint.ts`; the manager may
 * answer more fields than these name, and callers pass them through rather than drop them.
 */

import type {
  BalancingPolicy,
  EndpointKey,
  Endpoint as EndpointRecord,
  EndpointRoute as EndpointRouteRecord,
  EndpointSettings,
} from '../contracts/endpoint.ts';
import type { FrontendMode } from '../contracts/records.ts';

export type { BalancingPolicy, EndpointKey, EndpointSettings };

/**
 * A route as answered. `health` is the manager's report of the route's health when it gives one;
 * its shape is the manager's to define, so it is typed loosely (an intersection, so that a precise
 * type added to the record later still wins).
 */
export type EndpointRoute = EndpointRouteRecord & { health?: unknown };

export type Endpoint = Omit<EndpointRecord, 'routes'> & { routes: EndpointRoute[] };

/** A route as a request gives it: a session's service, or an address (admins only). */
export type EndpointRouteRequest =
  | { id?: string; session: string; service: string; weight?: number }
  | { id?: string; host: string; port: number; weight?: number };

/** The settings a request may change; absent ones keep their value (or the default). */
export interface EndpointSettingsRequest {
  access?: 'token' | 'public';
  balancing?: BalancingPolicy;
  headersTimeoutMs?: number;
}

export interface CreateEndpointRequest {
  /** 1–63 lowercase letters, digits, ".", "_" or "-"; unique among the owner's live endpoints. */
  name: string;
  frontend?: FrontendMode;
  settings?: EndpointSettingsRequest;
  routes?: EndpointRouteRequest[];
}

export interface UpdateEndpointRequest {
  name?: string;
  settings?: EndpointSettingsRequest;
}

export interface CreateEndpointKeyRequest {
  name: string;
  /** Lifetime in milliseconds (at least 1000); absent = until revoked. */
  expiresIn?: number;
  /** Model names the key may ask for; absent or empty = any. */
  models?: string[];
}

/** A new key: the bearer secret (`apk_…`) is in this answer only. */
export type NewEndpointKey = EndpointKey & { key: string };

/** Token counts of an endpoint, or of one of its keys. */
export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Requests whose counts are estimates (their stream was cut). */
  estimatedRequests: number;
}

/** `GET /v1/endpoints/{id}/usage`. */
export interface EndpointUsage {
  endpointId: string;
  total: UsageTotals;
  keys: ({ keyId: string | null; name: string | null } & UsageTotals)[];
}
