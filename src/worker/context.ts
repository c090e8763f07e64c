/**
 * What the request path needs, built once per data plane (`multiprocess/data-plane.ts`) and
 * handed to the frontends' dispatch and the transports. Types only: no module here builds
 * anything, so every part of the worker can depend on it without an import circle.
 */
import type { Logger } from 'pino';
import type { SetupTokenVerifier } from '../core/setup-token.ts';
import type { CounterStore } from '../stores/types.ts';
import type { AppCookies } from './access/app-cookie.ts';
import type { EndpointKeys } from './access/endpoint-keys.ts';
import type { RevocationSet } from './access/revocations.ts';
import type { Keepalive } from './connections/keepalive.ts';
import type { ConnectionRegistry } from './connections/registry.ts';
import type { WorkerFlags } from './control/flags.ts';
import type { InferenceDeps } from './inference/runtime.ts';
import type { WorkerMetrics } from './observe/metrics.ts';
import type { ForwardingPolicy } from './transport/headers.ts';

/** Where the manager's sign-in page is (KV `managers/info`), for 401 pages; null until known. */
export interface ManagerLinks {
  loginUrl: string | null;
}

export interface WorkerContext {
  /** Feature flags for this worker (read per request: a property lookup). */
  flags: WorkerFlags;
  /** Keys of token endpoints (digests from KV), checked on every request to an endpoint. */
  endpointKeys: EndpointKeys;
  cookies: AppCookies;
  /** Revoked login sessions, tokens, users and circuits (from KV), checked on every request. */
  revocations: RevocationSet;
  links: ManagerLinks;
  /** Setup and tunnel tokens (Ed25519 public keys from KV). */
  verifier: SetupTokenVerifier;
  /** Single-use marks of setup and tunnel tokens. */
  counters: CounterStore;
  forwarding: ForwardingPolicy;
  metrics: WorkerMetrics;
  logger: Logger;
  /** Every live WebSocket, TCP relay and tunnel, by circuit; writes their access records. */
  connections: ConnectionRegistry;
  /** The one sweeper that pings and times out WebSockets and tunnels. */
  keepalive: Keepalive;
  /** Key limits, usage and metrics of inference endpoints. */
  inference: InferenceDeps;
  /** How often tunnel clients are pinged; one missed interval cuts the tunnel. */
  tunnelPingIntervalMs: number;
}
