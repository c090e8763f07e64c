/**
 * A circuit's desired state as workers read it: the value of `kvKeys.circuit(authority, id)`,
 * written only by the manager's circuit projection (a projection of the circuit's SQL row), and the
 * readiness mark a worker answers with (`kvKeys.ready(authority, id)`). Parsing and comparing specs
 * is `core/circuit-spec.ts`.
 */
import type { Grant } from './auth.ts';
import type { EndpointSettings, SpecBackend } from './endpoint.ts';
import type { FrontendMode, Protocol, TcpAccessMode } from './records.ts';

/** Value of `kvKeys.circuit(authority, id)`: everything a worker needs to serve the circuit. */
export interface CircuitSpec {
  id: string;
  /** The session it belongs to; null for an endpoint's circuit (see `endpointId`). */
  sessionId: string | null;
  /** The endpoint it belongs to, for an inference endpoint's circuit. */
  endpointId?: string;
  /** An endpoint's circuit: how the worker admits and spreads its requests. */
  endpoint?: EndpointSettings;
  ownerId: string;
  service: string;
  protocol: Protocol;
  frontendMode: FrontendMode;
  port: number | null;
  subdomain: string | null;
  /** Where it leads: a session's service; for an endpoint, its routes with their weights. */
  backends: SpecBackend[];
  /**
   * TCP circuits only: how the port is reached and how many connections it carries at once.
   * Absent on http routes (and on routes written before TCP circuits existed).
   */
  tcp?: { access: TcpAccessMode; allowFrom: string[]; maxConnections: number };
  /**
   * Per-connection idle timeout (ms) for TCP, tunnel and WebSocket connections: closed after this
   * long without a byte in either direction. Absent = the worker default (30 min).
   */
  idleTimeoutMs?: number;
  /**
   * Raw TCP circuits (access `allow-list` or `public`): the grant (login session, API token) their
   * current access was given under, and when (epoch ms). Their connections carry no credential of
   * their own, so revoking this grant (or the owner, after `grantedAt`) closes them and refuses new
   * ones with `revoked`. Absent: nothing to revoke but the owner.
   */
  grant?: Grant;
  grantedAt?: number;
  /**
   * `legacy`: the circuit was created under the legacy flow (see `CircuitFlow`): the worker takes
   * the user's `appproxy_permit` cookie and serves `/setup?token=` on it. Absent: integrated.
   */
  flow?: 'legacy';
}

/** Default per-connection idle timeout when a route does not say. */
export const DEFAULT_CONNECTION_IDLE_TIMEOUT_MS = 30 * 60_000;
/** Default connection limit of a TCP circuit. */
export const DEFAULT_TCP_MAX_CONNECTIONS = 256;

/** Value of `kvKeys.ready(authority, id)`. */
export type CircuitReadiness =
  | { state: 'ready'; at: string }
  | { state: 'error'; code: string; message: string; at: string };
