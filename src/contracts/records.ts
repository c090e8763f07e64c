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
  createdAt: string;
  updatedAt: string;
}

export interface Circuit {
  id: string;
  sessionId: string;
  service: string;
  protocol: Protocol;
  ownerId: string;
  worker: string;
  frontendMode: FrontendMode;
  /** The port (port mode) or subdomain label (wildcard mode) the circuit holds on its worker. */
  slot: { port: number } | { subdomain: string };
  appUrl: string;
  backends: { host: string; port: number }[];
  state: CircuitState;
  stateReason: string | null;
  createdAt: string;
  closedAt: string | null;
}

export interface StartServiceResult {
  circuitId: string;
  appUrl: string;
  setupUrl: string;
  /** When the setup URL's token expires (ISO 8601). */
  expiresAt: string;
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
  /** The idle policy that applies and when it would close the circuit; null until idle policies exist. */
  policy: null;
}
