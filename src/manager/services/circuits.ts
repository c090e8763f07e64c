/**
 * Circuits: opening one for a session's service (start-service), reading them, their activity.
 * Closing is the lifecycle service's job.
 *
 * start-service = reuse a live circuit of the same session and service, or allocate a slot
 * (`core/allocation.ts`; SQL unique indexes arbitrate races), INSERT the circuit PENDING, put its
 * RouteSpec in KV, and wait for the worker's readiness key. Only then (ACTIVE) is a setup token
 * minted, so the worker has the route before the browser gets the setup URL.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { counterKeys } from '../../contracts/activity.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import { kvKeys, type RouteReadiness, type WorkerRegistration } from '../../contracts/kv-layout.ts';
import type {
  Circuit,
  CircuitActivity,
  CircuitState,
  FrontendMode,
  StartServiceResult,
} from '../../contracts/records.ts';
import {
  allocate,
  appUrlFor,
  InflightSlots,
  resolveFrontendMode,
  setupUrlFor,
  type WorkerSlots,
} from '../../core/allocation.ts';
import type { SetupTokenIssuer } from '../../core/setup-token.ts';
import type { CounterStore, KvStore } from '../../stores/types.ts';
import type { ManagerMetrics } from '../metrics.ts';
import { type CircuitRepo, type CircuitRow, routeSpecOf, toCircuit } from '../repos/circuits.ts';
import type { Principal } from './auth.ts';
import { waitForKey } from './kv-wait.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { SessionService } from './sessions.ts';
import type { WorkerService } from './workers.ts';

export interface CircuitServiceDeps {
  kv: KvStore;
  counters: CounterStore;
  repo: CircuitRepo;
  sessions: SessionService;
  workers: WorkerService;
  lifecycle: Lifecycle;
  issuer: SetupTokenIssuer;
  metrics: ManagerMetrics;
  logger: Logger;
  setupTokenTtlMs: number;
  routeReadyTimeoutMs: number;
}

export interface StartServiceInput {
  service: string;
  frontend?: FrontendMode;
  next?: string;
}

type Readiness = { kind: 'ready' } | { kind: 'error'; code: string; message: string };

export class CircuitService {
  private readonly inflightSlots = new InflightSlots();
  /** One start-service at a time per session+service in this process (the second one reuses). */
  private readonly starting = new Map<string, Promise<unknown>>();
  /** Circuits this process is opening: their ACTIVE row, or the error that closed them. */
  private readonly opening = new Map<string, Promise<CircuitRow>>();

  constructor(private readonly d: CircuitServiceDeps) {}

  async startService(p: Principal, sessionId: string, input: StartServiceInput): Promise<StartServiceResult> {
    const t0 = performance.now();
    let outcome = 'error';
    try {
      const session = await this.d.sessions.get(p, sessionId);
      if (session.state !== 'RUNNING') {
        throw new AppProxyError(
          'AP_ERR_SESSION_NOT_RUNNING',
          `The session is ${session.state}, not RUNNING.`,
          {
            state: session.state,
          },
        );
      }
      const svc = session.services.find((s) => s.name === input.service);
      if (!svc) {
        throw new AppProxyError(
          'AP_ERR_SERVICE_NOT_FOUND',
          `The session has no service "${input.service}".`,
          {
            service: input.service,
            available: session.services.map((s) => s.name),
          },
        );
      }
      if (!svc.backend) {
        throw new AppProxyError(
          'AP_ERR_SESSION_NOT_RUNNING',
          `The service "${svc.name}" has no backend address yet.`,
        );
      }
      const key = `${sessionId}\u0000${svc.name}\u0000${input.frontend ?? ''}`;
      const previous = this.starting.get(key);
      if (previous) await previous.catch(() => {});
      const backend = svc.backend;
      const run = (async () => {
        const live = await this.d.repo.findLive(sessionId, svc.name, input.frontend);
        if (live) return { row: await this.confirm(live), reused: true };
        const row = await this.open({
          sessionId,
          ownerId: session.ownerId,
          service: svc.name,
          protocol: svc.protocol,
          backend,
          ...(input.frontend ? { frontend: input.frontend } : {}),
        });
        return { row, reused: false };
      })();
      this.starting.set(key, run);
      const { row, reused } = await run.finally(() => {
        if (this.starting.get(key) === run) this.starting.delete(key);
      });
      const { token, claims } = await this.d.issuer.issue({
        circuitId: row.id,
        userId: row.owner_id,
        ttlMs: this.d.setupTokenTtlMs,
      });
      outcome = reused ? 'reused' : 'opened';
      return {
        circuitId: row.id,
        appUrl: row.app_url,
        setupUrl: setupUrlFor(row.app_url, token, input.next),
        expiresAt: new Date(claims.expiresAt).toISOString(),
        reused,
      };
    } finally {
      this.d.metrics.startServiceDuration.observe({ outcome }, (performance.now() - t0) / 1000);
    }
  }

  async list(p: Principal, filter: { sessionId?: string; state?: CircuitState }): Promise<Circuit[]> {
    const rows = await this.d.repo.list({ ...filter, ...(p.role === 'admin' ? {} : { ownerId: p.userId }) });
    return rows.map(toCircuit);
  }

  async get(p: Principal, id: string): Promise<Circuit> {
    return toCircuit(await this.visibleRow(p, id));
  }

  async close(p: Principal, id: string): Promise<Circuit> {
    await this.visibleRow(p, id);
    const row = await this.d.lifecycle.closeCircuit(id, `closed on request of ${p.userId}`);
    if (!row) throw new AppProxyError('AP_ERR_CIRCUIT_NOT_FOUND');
    return toCircuit(row);
  }

  async activity(p: Principal, id: string): Promise<CircuitActivity> {
    const row = await this.visibleRow(p, id);
    const { counters } = this.d;
    const [bytesIn, bytesOut, requests, lastClient, lastBackend] = await counters.mget([
      counterKeys.bytesIn(id),
      counterKeys.bytesOut(id),
      counterKeys.requests(id),
      counterKeys.lastClientAt(id),
      counterKeys.lastBackendAt(id),
    ]);
    const openKeys = await counters.keys(counterKeys.openConnections(id, ''));
    const open = openKeys.length > 0 ? await counters.mget(openKeys) : [];
    const openConnections = open.reduce((n, v) => n + num(v), 0);
    const lc = num(lastClient) || null;
    const lb = num(lastBackend) || null;
    const last = lc !== null || lb !== null ? Math.max(lc ?? 0, lb ?? 0) : null;
    return {
      circuitId: id,
      bytesIn: num(bytesIn),
      bytesOut: num(bytesOut),
      requests: num(requests),
      openConnections,
      lastClientAt: iso(lc),
      lastBackendAt: iso(lb),
      lastActivityAt: iso(last),
      idleSince: last !== null ? iso(last) : row.created_at.toISOString(),
      policy: null,
    };
  }

  private async visibleRow(p: Principal, id: string): Promise<CircuitRow> {
    const row = await this.d.repo.get(id);
    if (!row || (p.role !== 'admin' && row.owner_id !== p.userId))
      throw new AppProxyError('AP_ERR_CIRCUIT_NOT_FOUND');
    return row;
  }

  /** A live circuit found for reuse: ACTIVE as is; PENDING once its opener (here or elsewhere) confirms it. */
  private async confirm(row: CircuitRow): Promise<CircuitRow> {
    if (row.state === 'ACTIVE') return row;
    const mine = this.opening.get(row.id);
    if (mine) return mine;
    // Opened by another manager (or interrupted): wait for the worker like the opener does.
    return this.awaitReady(row);
  }

  private async open(req: {
    sessionId: string;
    ownerId: string;
    service: string;
    protocol: 'http' | 'tcp';
    backend: { host: string; port: number };
    frontend?: FrontendMode;
  }): Promise<CircuitRow> {
    const { workers, repo } = this.d;
    // Registered and not draining; a worker whose registration vanished is gone from this list at once.
    const regs = await workers.allocatable();
    const mode = resolveMode(regs, req.protocol, req.frontend);
    let loaded = new Map<string, WorkerRegistration>();
    const id = randomUUID();
    const { value } = await allocate({
      protocol: req.protocol,
      mode,
      inflight: this.inflightSlots,
      load: async () => {
        const live = await workers.allocatable();
        loaded = new Map(live.map((r) => [r.authority, r]));
        const slots = await repo.liveSlots(live.map((r) => r.authority));
        return live.map((registration): WorkerSlots => {
          const mine = slots.filter((s) => s.worker === registration.authority);
          return {
            registration,
            liveCircuits: mine.length,
            takenPorts: new Set(mine.flatMap((s) => (s.port !== null ? [s.port] : []))),
            takenSubdomains: new Set(mine.flatMap((s) => (s.subdomain !== null ? [s.subdomain] : []))),
          };
        });
      },
      insert: async (choice) => {
        const reg = loaded.get(choice.authority)!;
        const row = await repo.insertForRunningSession({
          id,
          sessionId: req.sessionId,
          service: req.service,
          protocol: req.protocol,
          ownerId: req.ownerId,
          worker: choice.authority,
          frontendMode: choice.frontendMode,
          port: choice.port,
          subdomain: choice.subdomain,
          appUrl: appUrlFor(reg, choice),
          backends: [req.backend],
        });
        if (!row)
          throw new AppProxyError(
            'AP_ERR_SESSION_NOT_RUNNING',
            'The session stopped while the app was being opened.',
          );
        return row;
      },
    });
    const p = this.publishAndAwait(value);
    this.opening.set(id, p);
    p.catch(() => {}).finally(() => this.opening.delete(id));
    return p;
  }

  private async publishAndAwait(row: CircuitRow): Promise<CircuitRow> {
    const { kv, repo, lifecycle } = this.d;
    const spec = routeSpecOf(row);
    try {
      await kv.put(kvKeys.circuit(row.worker, row.id), JSON.stringify(spec));
    } catch (err) {
      // The route may or may not be out; closing deletes it either way (or recovery will).
      void lifecycle.closeCircuit(row.id, 'could not publish the route').catch(() => {});
      throw err;
    }
    // A close that ran between the INSERT and the put could not delete a key that was not there
    // yet: if the circuit is closing now, take the route back out ourselves.
    const now = await repo.get(row.id);
    if (now?.state !== 'PENDING') {
      await kv.delete(kvKeys.circuit(row.worker, row.id));
      throw closedWhileOpening();
    }
    return this.awaitReady(row);
  }

  /** Waits for the worker's readiness; ready → ACTIVE; error/timeout → the circuit is closed. */
  private async awaitReady(row: CircuitRow): Promise<CircuitRow> {
    const { kv, repo, lifecycle, logger } = this.d;
    const opening = lifecycle.beginOpening(row.id);
    try {
      const timeoutMs = this.d.routeReadyTimeoutMs;
      const out = await waitForKey<Readiness>(kv, kvKeys.ready(row.worker, row.id), {
        timeoutMs,
        signal: opening.signal,
        match: parseReadiness,
        onWatchError: (err) => logger.warn({ err, circuit: row.id }, 'readiness watch ended; re-arming'),
      });
      if (out.kind === 'aborted') throw closedWhileOpening();
      if (out.kind === 'timeout') {
        await lifecycle.closeCircuit(row.id, `the worker did not confirm the route within ${timeoutMs} ms`);
        throw new AppProxyError('AP_ERR_ROUTE_NOT_READY', undefined, { worker: row.worker, timeoutMs });
      }
      if (out.value.kind === 'error') {
        const { code, message } = out.value;
        await lifecycle.closeCircuit(row.id, `the worker refused the route: ${code}: ${message}`);
        throw new AppProxyError('AP_ERR_ROUTE_FAILED', `The worker could not open the route: ${message}`, {
          worker: row.worker,
          code,
          message,
        });
      }
      const active = await repo.transition(row.id, 'ACTIVE');
      if (active) return active;
      const cur = await repo.get(row.id);
      if (cur?.state === 'ACTIVE') return cur;
      throw closedWhileOpening();
    } finally {
      opening.end();
    }
  }
}

function closedWhileOpening(): AppProxyError {
  return new AppProxyError('AP_ERR_ROUTE_FAILED', 'The circuit was closed while it was being opened.');
}

function resolveMode(
  regs: WorkerRegistration[],
  protocol: 'http' | 'tcp',
  requested?: FrontendMode,
): FrontendMode {
  const mode = resolveFrontendMode(regs, protocol, requested);
  if (!mode) {
    throw new AppProxyError('AP_ERR_NO_WORKER', undefined, {
      protocol,
      ...(requested ? { frontendMode: requested } : {}),
    });
  }
  return mode;
}

/** Readiness key value → outcome; undefined (keep waiting) while absent or unreadable. */
function parseReadiness(value: string | null): Readiness | undefined {
  if (value === null) return undefined;
  try {
    const r = JSON.parse(value) as RouteReadiness;
    if (r.state === 'ready') return { kind: 'ready' };
    if (r.state === 'error') return { kind: 'error', code: String(r.code), message: String(r.message) };
  } catch {
    // A value we cannot read is not an answer; the timeout bounds the wait.
  }
  return undefined;
}

function num(v: string | null | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
