/**
 * Layout of the KV (etcd role) namespace shared by the manager and the workers. One JSON value
 * per entity under a versioned prefix. Everything here except registrations and readiness marks
 * is a projection of SQL and can be rebuilt from it. Secrets never go here.
 */
import type { TemplateInfo } from './agent.ts';
import type { FrontendMode, Protocol } from './records.ts';

export const KV_PREFIX = '/appproxy/v1/';

export const kvKeys = {
  /** Worker registration, written by the worker under its lease. */
  registrations: () => `${KV_PREFIX}registrations/`,
  registration: (authority: string) => `${KV_PREFIX}registrations/${authority}`,
  /** Everything kept per worker: its circuit specs and its readiness marks (see `workerKeyOf`). */
  workers: () => `${KV_PREFIX}workers/`,
  /** Desired circuits of one worker, written only by the manager's circuit projection. */
  circuits: (authority: string) => `${KV_PREFIX}workers/${authority}/circuits/`,
  circuit: (authority: string, circuitId: string) => `${KV_PREFIX}workers/${authority}/circuits/${circuitId}`,
  /** The worker's acknowledgement that a circuit is served (or failed), under the worker's lease. */
  readiness: (authority: string) => `${KV_PREFIX}workers/${authority}/ready/`,
  ready: (authority: string, circuitId: string) => `${KV_PREFIX}workers/${authority}/ready/${circuitId}`,
  /** The leader among the managers: created under the leader's lease (see `manager/loops/leader.ts`). */
  leader: () => `${KV_PREFIX}managers/leader`,
  /** Revocation records (`RevocationRecord` of contracts/auth.ts), written only by managers; workers watch them. */
  revocations: () => `${KV_PREFIX}revocations/`,
  revocation: (id: string) => `${KV_PREFIX}revocations/${id}`,
  /** Endpoint keys (`EndpointKeyRecord` of contracts/endpoint.ts), written only by managers. */
  endpointKeys: () => `${KV_PREFIX}endpoint-keys/`,
  endpointKey: (endpointId: string, keyId: string) => `${KV_PREFIX}endpoint-keys/${endpointId}/${keyId}`,
  /**
   * Feature-flag overrides, one record per flag and scope (`FlagOverrideRecord` of
   * contracts/flags.ts), written only by managers; managers and workers watch them.
   */
  flags: () => `${KV_PREFIX}flags/`,
  flagOverride: (name: string, scope: string) => `${KV_PREFIX}flags/${name}/${scope}`,
  /** Where browsers reach the manager (`ManagerInfo`): workers link their sign-in pages there. */
  managerInfo: () => `${KV_PREFIX}managers/info`,
  /** Public keys (JWK set) that verify setup tokens; written by the manager. */
  setupTokenKeys: () => `${KV_PREFIX}keys/setup-token`,
  /** An agent process's registration (`AgentRegistration`), written by the agent under its lease. */
  agents: () => `${KV_PREFIX}agents/`,
  agent: (name: string) => `${KV_PREFIX}agents/${name}`,
  /** Sessions an agent should run (`AgentSessionSpec`), written only by managers (desired state). */
  agentSessions: (name: string) => `${KV_PREFIX}agents/${name}/sessions/`,
  agentSession: (name: string, sessionId: string) => `${KV_PREFIX}agents/${name}/sessions/${sessionId}`,
  /** The agent's reports (`AgentReport` from contracts/agent.ts), under the agent's lease. */
  agentReports: (name: string) => `${KV_PREFIX}agents/${name}/reports/`,
  agentReport: (name: string, sessionId: string) => `${KV_PREFIX}agents/${name}/reports/${sessionId}`,
} as const;

const WORKER_KEY = /^workers\/([^/]+)\/(circuits|ready)\/([^/]+)$/;

/** What a key under `kvKeys.workers()` is: a circuit spec or a readiness mark, of which circuit. */
export function workerKeyOf(key: string): { worker: string; kind: 'circuits' | 'ready'; id: string } | null {
  if (!key.startsWith(KV_PREFIX)) return null;
  const m = WORKER_KEY.exec(key.slice(KV_PREFIX.length));
  return m ? { worker: m[1]!, kind: m[2] as 'circuits' | 'ready', id: m[3]! } : null;
}

/** Value of `kvKeys.registration(authority)`. */
export interface WorkerRegistration {
  authority: string;
  frontendMode: FrontendMode;
  protocols: Protocol[];
  /** Port mode: inclusive range of ports the worker may listen on. */
  portRange: [number, number] | null;
  /** Wildcard mode: apps live at `<6 hex>.<wildcardDomain>`. */
  wildcardDomain: string | null;
  publicScheme: 'http' | 'https';
  /** Host name browsers use to reach the worker (port mode) — e.g. `127.0.0.1` or `apps.example.com`. */
  publicHost: string;
  /** Wildcard mode: the port browsers use (null = scheme default). */
  publicPort: number | null;
  startedAt: string;
  /**
   * The path every origin of this worker serves to drop its app cookies (`LOGOUT_PATH`): the
   * manager lists `<origin><logoutPath>` for each origin where a signing-out user holds a cookie.
   * Absent (older workers): `/_appproxy/logout`.
   */
  logoutPath?: string;
  /**
   * TTL of the lease the registration lives under (ms). The manager waits about this long after the
   * registration vanished before it marks the worker's circuits UNAVAILABLE.
   */
  leaseTtlMs?: number;
}

/** Value of `kvKeys.leader()`. */
export interface LeaderRecord {
  /** The manager's id (unique per process). */
  id: string;
  /** When it became leader (ISO 8601). */
  since: string;
}

/** Value of `kvKeys.managerInfo()`. */
export interface ManagerInfo {
  /** The manager's public base URL, e.g. `https://appproxy.example.com` (no trailing slash). */
  publicUrl: string;
  /** Where a browser signs in (`<publicUrl>/login`). */
  loginUrl: string;
}

/** Value of `kvKeys.setupTokenKeys()`: a public JWK set (Ed25519, `kid` set on each key). */
export interface SetupTokenKeySet {
  keys: Array<Record<string, unknown> & { kid: string }>;
}

/** Value of `kvKeys.agent(name)`: what a remote agent process offers. */
export interface AgentRegistration {
  name: string;
  templates: TemplateInfo[];
  startedAt: string;
}

/** Value of `kvKeys.agentSession(name, id)`: a session the agent should run. */
export interface AgentSessionSpec {
  template: string;
}
