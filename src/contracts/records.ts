/** Wire shapes of the manager's API (JSON). Field names are part of the external contract. */

export type SessionState = 'PENDING' | 'RUNNING' | 'TERMINATING' | 'TERMINATED' | 'ERROR';
/**
 * `UNAVAILABLE`: the circuit's worker stopped answering (its registration has been gone longer than
 * the grace); the circuit keeps its slot and its route, and returns to ACTIVE when the worker comes
 * back with the same authority and confirms the route again.
 */
export type CircuitState = 'PENDING' | 'ACTIVE' | 'UNAVAILABLE' | 'CLOSING' | 'CLOSED';
export type Protocol = 'http' | 'tcp';
export type FrontendMode = 'port' | 'wildcard';
/**
 * How a TCP circuit is reached. `tunnel`: the circuit's port speaks HTTP and only carries
 * authenticated WebSocket tunnels (`/_appproxy/tunnel`); `allow-list`: the port relays raw TCP
 * for listed client addresses/CIDRs only; `public`: the port relays raw TCP for anyone (only when
 * the request asks and the configuration permits it).
 */
export type TcpAccessMode = 'tunnel' | 'allow-list' | 'public';

/**
 * How an http circuit's browser access works, fixed when it is created (the `integratedFlow`
 * flag decides): `integrated`, a per-circuit app cookie bound to the sign-in that asked for it
 * (logout revokes it), set through `/_appproxy/setup`; `legacy`, Backend.AI's per-user
 * `appproxy_permit` cookie, set through `/setup?token=`, ended by its expiry or the user's
 * disabling, not by a logout.
 */
export type CircuitFlow = 'integrated' | 'legacy';

/** Why a long-lived connection (TCP, tunnel, WebSocket) ended; part of the access record. */
export type CloseReason =
  | 'client-closed'
  | 'backend-closed'
  | 'idle-timeout'
  /** The peer stopped answering keepalive pings (vanished without FIN). */
  | 'peer-unresponsive'
  | 'circuit-closed'
  /** Its access was withdrawn (allow-list changed, token revoked). */
  | 'revoked'
  | 'refused-ip'
  | 'limit'
  /** The backend could not be reached. */
  | 'backend-unreachable';

/** Idle timeouts that apply to a circuit, resolved from template, session and request. */
export interface IdleSettings {
  /** Per connection (TCP, tunnel, WebSocket): closed after this long without a byte either way. */
  connectionIdleTimeoutMs: number;
  /** The circuit closes when no byte moved on it for this long; null = never. */
  circuitIdleTimeoutMs: number | null;
}

export interface ServiceInfo {
  name: string;
  protocol: Protocol;
  /** Where the service listens (the backend a circuit leads to); null until the session runs. */
  backend: { host: string; port: number } | null;
}

export interface Session {
  id: string;
  name: string;
  template: string;
  ownerId: string;
  state: SessionState;
  stateReason: string | null;
  services: ServiceInfo[];
  /** Session idle policy: terminated once every circuit was idle this long (null = never). */
  idleTimeoutMs: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface Circuit {
  id: string;
  /** The session it belongs to (interactive apps); null for an endpoint's circuit. */
  sessionId: string | null;
  /** The endpoint it belongs to (inference); null for a session's circuit. */
  endpointId: string | null;
  service: string;
  protocol: Protocol;
  ownerId: string;
  worker: string;
  frontendMode: FrontendMode;
  /** The port (port mode) or subdomain label (wildcard mode) the circuit holds on its worker. */
  slot: { port: number } | { subdomain: string };
  appUrl: string;
  backends: { host: string; port: number }[];
  /** TCP circuits: how the port is reached (null for http circuits). */
  access: { mode: TcpAccessMode; allowFrom: string[] } | null;
  /** Connection and circuit idle timeouts in force for this circuit. */
  idle: IdleSettings;
  /** See `CircuitFlow`; kept for the circuit's life. */
  flow: CircuitFlow;
  state: CircuitState;
  stateReason: string | null;
  createdAt: string;
  closedAt: string | null;
}

export interface StartServiceResult {
  circuitId: string;
  /**
   * http: the app's origin. tcp: `tcp://host:port` (allow-list, public) or the circuit's origin
   * that carries tunnels (tunnel; use `appproxy tunnel` or `POST /v1/circuits/{id}/tunnel-token`).
   */
  appUrl: string;
  /** http circuits only (null for tcp). */
  setupUrl: string | null;
  /** When the setup URL's token expires (ISO 8601); null for tcp. */
  expiresAt: string | null;
  reused: boolean;
}

export interface WorkerInfo {
  authority: string;
  frontendMode: FrontendMode;
  protocols: Protocol[];
  portRange: [number, number] | null;
  wildcardDomain: string | null;
  /** Base origin pieces for app URLs: scheme and host the browser uses, and the port in wildcard mode. */
  publicScheme: 'http' | 'https';
  publicHost: string;
  publicPort: number | null;
  healthy: boolean;
  /**
   * Draining: no new circuits are allocated to it; its circuits keep running. Always present in
   * answers of this version (optional only so that older fixtures still type-check).
   */
  draining?: boolean;
  circuits: number;
  lastSeenAt: string | null;
}

/** One broken invariant found by `GET /v1/doctor` (`core/invariants.ts` lists the kinds). */
export interface InvariantViolation {
  kind: string;
  /** What it is about, e.g. `circuit/<id>`, `route/<worker>/<id>`, `slot/<worker>/<port>`. */
  subject: string;
  detail: string;
}

/** `GET /v1/doctor`. */
export interface DoctorReport {
  violations: InvariantViolation[];
  checkedAt: string;
}

/** `GET /v1/circuits/{id}/activity`: what the workers counted for one circuit (times ISO 8601). */
export interface CircuitActivity {
  circuitId: string;
  bytesIn: number;
  bytesOut: number;
  requests: number;
  /** Summed over the worker processes that reported recently. */
  openConnections: number;
  lastClientAt: string | null;
  lastBackendAt: string | null;
  /** The later of lastClientAt and lastBackendAt. */
  lastActivityAt: string | null;
  /** Since when no byte moved: lastActivityAt, else the circuit's creation (open sockets do not count). */
  idleSince: string | null;
  /** The policy that would act first (null when none applies), then every policy considered. */
  policy: IdlePolicyExplanation | null;
  policies: IdlePolicyExplanation[];
}

/** One idle policy as it stands for a circuit (`GET /v1/circuits/{id}/activity`). */
export interface IdlePolicyExplanation {
  policy: 'circuit-idle' | 'session-idle';
  timeoutMs: number;
  /** Where the timeout came from. */
  source: 'template' | 'session' | 'request' | 'config';
  /** When it acts if nothing moves (ISO 8601); null when it cannot act now (see `explanation`). */
  actsAt: string | null;
  /** A sentence for humans, e.g. "idle since 10:02:03; closes the circuit at 10:32:03". */
  explanation: string;
}

/** Something a policy or the lifecycle did (`GET /v1/sessions/{id}/events`, `/v1/circuits/{id}/events`). */
export interface LifecycleEvent {
  id: number;
  at: string;
  /** The session (null for events of an endpoint and its circuit). */
  sessionId: string | null;
  /** The endpoint (null for events of a session and its circuits). */
  endpointId: string | null;
  circuitId: string | null;
  /** e.g. `circuit-idle-closed`, `session-idle-terminated`. */
  kind: string;
  detail: string;
}

/** `POST /v1/circuits/{id}/tunnel-token`: a single-use credential for one tunnelled connection. */
export interface TunnelToken {
  token: string;
  expiresAt: string;
  /** `ws://host:port/_appproxy/tunnel` (or wss). The token goes in `Authorization: Bearer`. */
  url: string;
}
