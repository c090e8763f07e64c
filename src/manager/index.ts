/**
 * The manager (control plane with the integrated coordinator). `createManager` wires stores,
 * services and the HTTP app; it never listens. `start()` publishes the setup-token keys, begins
 * the worker-registrations watch, subscribes to agent reports and resumes interrupted lifecycle
 * flows; `close()` stops all of that and waits (bounded) for in-flight lifecycle work.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AgentDriver } from '../contracts/agent.ts';
import { kvKeys } from '../contracts/kv-layout.ts';
import { SETUP_TOKEN_MAX_TTL_MS, type SetupTokenIssuer } from '../core/setup-token.ts';
import type { Stores } from '../stores/types.ts';
import { buildApp } from './app.ts';
import { createManagerMetrics } from './metrics.ts';
import { CircuitRepo } from './repos/circuits.ts';
import { SessionRepo } from './repos/sessions.ts';
import { UserRepo } from './repos/users.ts';
import { WorkerRepo } from './repos/workers.ts';
import { AuthService } from './services/auth.ts';
import { CircuitService } from './services/circuits.ts';
import { Lifecycle } from './services/lifecycle.ts';
import { SessionService } from './services/sessions.ts';
import { WorkerService } from './services/workers.ts';
import { guardStores } from './store-guard.ts';

export interface ManagerOptions {
  /** SQL (migrated already), KV and counters. */
  stores: Stores;
  agent: AgentDriver;
  setupTokenIssuer: SetupTokenIssuer;
  /** Plaintext; at start, user `admin` (role admin) and this token exist (its SHA-256 only is stored). */
  adminToken: string;
  logger: Logger;
  metrics: Registry;
  /** Setup-token lifetime; default 30 s, capped at 60 s. */
  setupTokenTtlMs?: number;
  /** How long start-service waits for the worker to confirm a route; default 10 s. */
  routeReadyTimeoutMs?: number;
  /** How long a close waits for the worker to confirm before marking the circuit CLOSED anyway; default 5 s. */
  circuitCloseTimeoutMs?: number;
  /** Bound on `close()` waiting for in-flight lifecycle work; default 10 s. */
  drainTimeoutMs?: number;
}

export interface Manager {
  app: FastifyInstance;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function createManager(opts: ManagerOptions): Promise<Manager> {
  const logger = opts.logger.child({ component: 'manager' });
  const stores = guardStores(opts.stores);
  const routeReadyTimeoutMs = opts.routeReadyTimeoutMs ?? 10_000;
  const circuitCloseTimeoutMs = opts.circuitCloseTimeoutMs ?? 5_000;
  const setupTokenTtlMs = Math.min(Math.max(opts.setupTokenTtlMs ?? 30_000, 1_000), SETUP_TOKEN_MAX_TTL_MS);

  const sessionRepo = new SessionRepo(stores.sql);
  const circuitRepo = new CircuitRepo(stores.sql);
  const workerRepo = new WorkerRepo(stores.sql);
  const userRepo = new UserRepo(stores.sql);

  const metrics = createManagerMetrics(opts.metrics, {
    sessions: () => sessionRepo.countByState(),
    circuits: () => circuitRepo.countByState(),
  });
  const auth = new AuthService(userRepo);
  const workers = new WorkerService(stores.kv, workerRepo, logger.child({ service: 'workers' }));
  const lifecycle = new Lifecycle({
    kv: stores.kv,
    sessions: sessionRepo,
    circuits: circuitRepo,
    workers,
    agent: opts.agent,
    logger: logger.child({ service: 'lifecycle' }),
    circuitCloseTimeoutMs,
    routeReadyTimeoutMs,
  });
  const sessions = new SessionService(
    sessionRepo,
    opts.agent,
    lifecycle,
    logger.child({ service: 'sessions' }),
  );
  const circuits = new CircuitService({
    kv: stores.kv,
    counters: stores.counters,
    repo: circuitRepo,
    sessions,
    workers,
    lifecycle,
    issuer: opts.setupTokenIssuer,
    metrics,
    logger: logger.child({ service: 'circuits' }),
    setupTokenTtlMs,
    routeReadyTimeoutMs,
  });

  const app = await buildApp({
    logger: opts.logger,
    registry: opts.metrics,
    metrics,
    stores,
    agent: opts.agent,
    auth,
    sessions,
    circuits,
    workers,
  });

  let started = false;
  let closed = false;
  return {
    // The type provider only matters to our routes; callers get a plain instance.
    app: app as unknown as FastifyInstance,
    async start() {
      if (started) return;
      started = true;
      await auth.ensureAdmin(opts.adminToken);
      await stores.kv.put(kvKeys.setupTokenKeys(), JSON.stringify(opts.setupTokenIssuer.publicKeySet()));
      await workers.start();
      sessions.listen();
      await lifecycle.recover();
      logger.info('manager started');
    },
    async close() {
      if (closed) return;
      closed = true;
      sessions.close();
      await app.close();
      const drained = await lifecycle.drain(opts.drainTimeoutMs ?? 10_000);
      if (!drained) logger.warn('closing with lifecycle work still in flight; recovery will resume it');
      await workers.close();
    },
  };
}
