/**
 * Circuits: opening one for a session's service (start-service), reading them, their activity and
 * the idle policies that apply, changing a TCP circuit's access, minting tunnel tokens. Closing is
 * the lifecycle service's job.
 *
 * start-service = reuse a live circuit of the same session and service, or allocate a slot
 * (`core/allocation.ts`; SQL unique indexes arbitrate races), INSERT the circuit PENDING, put its
 * CircuitSpec in KV, and wait for the worker's readiness key. Only then (ACTIVE) is a setup token
 * minted (http), so the worker has the route before the browser gets the setup URL.
 *
 * TCP circuits are port mode only (a wildcard frontend routes by the HTTP Host header) and carry an
 * access mode (`access.ts`): `tunnel` by default, `allow-list`, or `public` when configured. They
 * get no setup URL: raw TCP is reached at `tcp://host:port`, a tunnel with a tunnel token
 * (`POST /v1/circuits/{id}/tunnel-token`). Changing the access of a live circuit (start-service
 * with another access, or `PATCH /v1/circuits/{id}/access`) updates SQL and re-puts the route; the
 * worker cuts the connections that no longer pass (reason `revoked`).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { counterKeys } from '../../contracts/activity.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import type { WorkerRegistration } from '../../contracts/kv-layout.ts';
import type {
  Circuit,
  CircuitActivity,
  CircuitState,
  FrontendMode,
  StartServiceResult,
  TunnelToken,
} from '../../contracts/records.ts';
import {
  accepts,
  allocate,
  appUrlFor,
  InflightSlots,
  resolveFrontendMode,
  setupUrlFor,
  type WorkerSlots,
} from '../../core/allocation.ts';
import type { SetupTokenIssuer } from '../../core/setup-token.ts';
import { isCircuitLive } from '../../core/state-machines.ts';
import type { CounterStore } from '../../stores/types.ts';
import { explainPolicies, idleSinceOf, readLastActivity } from '../loops/idle-policies.ts';
import type { ManagerMetrics } from '../metrics.ts';
import {
  accessOf,
  appUrlOf,
  type CircuitRepo,
  type CircuitRow,
  idleOf,
  toCircuit,
  tunnelUrlOf,
} from '../repos/circuits.ts';
import type { EventLog } from '../repos/events.ts';
import { type SessionRepo, sessionIdleOf } from '../repos/sessions.ts';
import { type AccessRequest, resolveAccess, sameAccess, type TcpAccess, type TcpPolicy } from './access.ts';
import type { Principal } from './auth.ts';
import type { CircuitProjection, PublishOutcome } from './circuit-projection.ts';
import {
  type CircuitIdleRequest,
  type CircuitIdleSettings,
  checkIdleRequest,
  type IdlePolicyConfig,
  resolveCircuitIdle,
} from './idle-settings.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { OpeningCircuits } from './opening.ts';
import type { SessionService } from './sessions.ts';
import type { WorkerService } from './workers.ts';

export interface CircuitServiceDeps {
  projection: CircuitProjection;
  opening: OpeningCircuits;
  counters: CounterStore;
  repo: CircuitRepo;
  sessionRepo: SessionRepo;
  sessions: SessionService;
  workers: WorkerService;
  lifecycle: Lifecycle;
  events: EventLog;
  issuer: SetupTokenIssuer;
  metrics: ManagerMetrics;
  logger: Logger;
  setupTokenTtlMs: number;
  routeReadyTimeoutMs: number;
  tcp: TcpPolicy;
  idle: IdlePolicyConfig;
  /** Tells the idle loop a policy may act at `at` (epoch ms), so it wakes on time. */
  idleDeadline?: (at: number) => void;
}

export interface StartServiceInput {
  service: string;
  frontend?: FrontendMode;
  next?: string;
  /** TCP services only. */
  access?: AccessRequest;
  idle?: CircuitIdleRequest;
}

function invalid(field: string, message: string): AppProxyError {
  return new AppProxyError('AP_ERR_VALIDATION', message, [{ field, in: 'body', message }]);
}

/** What opening one circuit needs (start-service, after the session and service are checked). */
interface OpenRequest {
  sessionId: string;
  ownerId: string;
  service: string;
  protocol: 'http' | 'tcp';
  backend: { host: string; port: number };
  tcp: (TcpAccess & { maxConnections: number }) | null;
  idle: CircuitIdleSettings;
  frontend?: FrontendMode;
}

/** How long a port a worker could not listen on is left out of allocation. */
const REFUSED_PORT_MS = 60_000;

export class CircuitService {
  private readonly inflightSlots = new InflightSlots();
  /** One start-service at a time per session+service in this process (the second one reuses). */
  private readonly starting = new Map<string, Promise<unknown>>();

  constructor(private readonly d: CircuitServiceDeps) {}

  async startService(p: Principal, sessionId: string, input: StartServiceInput): Promise<StartServiceResult> {
    const t0 = performance.now();
    let outcome = 'error';
    try {
      const { session, idle: sessionIdle } = await this.d.sessions.getWithIdle(p, sessionId);
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
      const tcp = svc.protocol === 'tcp';
      if (!tcp && input.access !== undefined)
        throw invalid('/access', `access applies to TCP services only; "${svc.name}" is ${svc.protocol}.`);
      if (tcp && input.frontend === 'wildcard') {
        throw invalid(
          '/frontend',
          `TCP services need a port-mode worker (a wildcard frontend routes by the HTTP Host header); "${svc.name}" is tcp.`,
        );
      }
      checkIdleRequest(input.idle, this.d.idle);
      const frontend: FrontendMode | undefined = tcp ? 'port' : input.frontend;
      const key = `${sessionId}\u0000${svc.name}\u0000${frontend ?? ''}`;
      const previous = this.starting.get(key);
      if (previous) await previous.catch(() => {});
      const backend = svc.backend;
      const run = (async () => {
        const live = await this.d.repo.findLive(sessionId, svc.name, frontend);
        if (live) {
          let row = await this.confirm(live);
          if (tcp && input.access !== undefined) {
            const current = accessOf(row)!;
            const wanted = resolveAccess(input.access, current, this.d.tcp);
            if (!sameAccess(current, wanted)) row = await this.changeAccess(p, row, wanted);
          }
          return { row, reused: true };
        }
        const access = tcp ? resolveAccess(input.access, null, this.d.tcp) : null;
        const row = await this.open({
          sessionId,
          ownerId: session.ownerId,
          service: svc.name,
          protocol: svc.protocol,
          backend,
          tcp: access ? { ...access, maxConnections: this.d.tcp.maxConnectionsPerCircuit } : null,
          idle: resolveCircuitIdle(input.idle, sessionIdle),
          ...(frontend ? { frontend } : {}),
        });
        return { row, reused: false };
      })();
      this.starting.set(key, run);
      const { row, reused } = await run.finally(() => {
        if (this.starting.get(key) === run) this.starting.delete(key);
      });
      // The session policy may act once this circuit (now its newest) has been idle long enough.
      const sessionTimeout = sessionIdle.session.value;
      if (sessionTimeout !== null && !reused)
        this.d.idleDeadline?.(row.created_at.getTime() + sessionTimeout);
      if (row.protocol === 'tcp') {
        outcome = reused ? 'reused' : 'opened';
        return { circuitId: row.id, appUrl: appUrlOf(row), setupUrl: null, expiresAt: null, reused };
      }
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
    const row = await this.d.lifecycle.closeCircuitPromptly(id, `closed on request of ${p.userId}`);
    if (!row) throw new AppProxyError('AP_ERR_CIRCUIT_NOT_FOUND');
    return toCircuit(row);
  }

  /** `PATCH /v1/circuits/{id}/access`: a live TCP circuit's access, changed in place. */
  async updateAccess(p: Principal, id: string, req: AccessRequest): Promise<Circuit> {
    const row = await this.visibleRow(p, id);
    const current = accessOf(row);
    if (row.protocol !== 'tcp' || !current)
      throw invalid('/', `Access applies to TCP circuits only; this circuit is ${row.protocol}.`);
    if (!isCircuitLive(row.state))
      throw new AppProxyError('AP_ERR_CIRCUIT_CLOSED', `The circuit is ${row.state}.`, { state: row.state });
    const wanted = resolveAccess(req, current, this.d.tcp, '');
    if (sameAccess(current, wanted)) return toCircuit(row);
    return toCircuit(await this.changeAccess(p, row, wanted));
  }

  /**
   * `POST /v1/circuits/{id}/tunnel-token`: a single-use token for one tunnelled connection to an
   * ACTIVE TCP circuit in tunnel mode. Like a setup token it is bound to the circuit's owner (the
   * worker checks the owner, and the access record names them); an admin may mint one for any
   * circuit, which is logged with the admin's id.
   */
  async tunnelToken(p: Principal, id: string): Promise<TunnelToken> {
    const row = await this.visibleRow(p, id);
    if (row.protocol !== 'tcp' || row.access_mode !== 'tunnel' || row.state !== 'ACTIVE') {
      const why =
        row.protocol !== 'tcp'
          ? `it is an ${row.protocol} circuit`
          : row.access_mode !== 'tunnel'
            ? `its access mode is "${row.access_mode}" (connect to ${appUrlOf(row)} directly)`
            : `it is ${row.state}`;
      throw new AppProxyError('AP_ERR_TUNNEL_NOT_AVAILABLE', `No tunnel to this circuit: ${why}.`, {
        protocol: row.protocol,
        access: row.access_mode,
        state: row.state,
      });
    }
    const { token, claims } = await this.d.issuer.issue({
      circuitId: row.id,
      userId: row.owner_id,
      ttlMs: this.d.setupTokenTtlMs,
      purpose: 'tunnel',
    });
    this.d.logger.info(
      { circuit: row.id, user: p.userId, expiresAt: claims.expiresAt },
      'tunnel token issued',
    );
    return { token, expiresAt: new Date(claims.expiresAt).toISOString(), url: tunnelUrlOf(row) };
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
    const idleSince = idleSinceOf(last, row.created_at.getTime(), row.access_updated_at?.getTime() ?? null);
    const { policy, policies } = await this.explain(row, idleSince);
    return {
      circuitId: id,
      bytesIn: num(bytesIn),
      bytesOut: num(bytesOut),
      requests: num(requests),
      openConnections,
      lastClientAt: iso(lc),
      lastBackendAt: iso(lb),
      lastActivityAt: iso(last),
      idleSince: iso(idleSince),
      policy,
      policies,
    };
  }

  /** The idle policies of a circuit as they stand now (see `explainPolicies`). */
  private async explain(row: CircuitRow, idleSince: number) {
    const session = await this.d.sessionRepo.getRow(row.session_id);
    const idle = idleOf(row);
    const sessionIdle = session ? sessionIdleOf(session) : null;
    let liveCircuits: { id: string; idleSince: number }[] = [];
    if (session?.state === 'RUNNING' && sessionIdle?.session.value != null) {
      const live = await this.d.repo.liveOfSession(row.session_id);
      const acts = await readLastActivity(
        this.d.counters,
        live.map((c) => c.id),
      );
      liveCircuits = live.map((c) => ({
        id: c.id,
        idleSince:
          c.id === row.id
            ? idleSince
            : idleSinceOf(
                acts.get(c.id) ?? null,
                c.created_at.getTime(),
                c.access_updated_at?.getTime() ?? null,
              ),
      }));
    }
    return explainPolicies({
      now: Date.now(),
      checkIntervalMs: this.d.idle.checkIntervalMs,
      circuit: {
        id: row.id,
        state: row.state,
        idleSince,
        timeoutMs: idle.circuit.value,
        source: idle.circuit.source,
      },
      session: {
        state: session?.state ?? 'TERMINATED',
        timeoutMs: sessionIdle?.session.value ?? null,
        source: sessionIdle?.session.source ?? 'config',
        liveCircuits,
      },
    });
  }

  /**
   * Applies a new access to a live TCP circuit: SQL first (the truth), then its spec, republished
   * from SQL (so of two concurrent changes the later state wins; see `CircuitProjection`).
   */
  private async changeAccess(p: Principal, row: CircuitRow, access: TcpAccess): Promise<CircuitRow> {
    const { repo, projection, logger, events } = this.d;
    const before = accessOf(row);
    const updated = await repo.updateAccess(row.id, access);
    if (!updated) throw new AppProxyError('AP_ERR_CIRCUIT_CLOSED', 'The circuit was closed meanwhile.');
    const now =
      (await projection.republish(updated.id)) === 'published' ? await repo.get(updated.id) : undefined;
    if (!now || !isCircuitLive(now.state))
      throw new AppProxyError('AP_ERR_CIRCUIT_CLOSED', 'The circuit was closed meanwhile.');
    const detail = `access ${describeAccess(before)} → ${describeAccess(access)} by ${p.userId}`;
    logger.info({ circuit: row.id, from: before, to: access, by: p.userId }, 'circuit access changed');
    await events.record({
      sessionId: row.session_id,
      circuitId: row.id,
      kind: 'circuit-access-changed',
      detail,
    });
    this.hintIdle(now);
    return now;
  }

  /** Wakes the idle loop by the earliest time a policy could act on this fresh circuit. */
  private hintIdle(row: CircuitRow): void {
    const t = idleOf(row).circuit.value;
    if (t !== null && this.d.idleDeadline) {
      const since = Math.max(row.created_at.getTime(), row.access_updated_at?.getTime() ?? 0);
      this.d.idleDeadline(since + t);
    }
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
    // Being opened here: join it; opened by another manager (or interrupted): wait for the worker too.
    return this.d.opening.run(row.id, (signal) => this.awaitReady(row, signal));
  }

  /**
   * Opens a circuit; a port the worker could not listen on (another process holds it on the
   * worker's host) is remembered for a while and the circuit is opened again on another slot, so
   * a foreign listener in the range costs one failed attempt, not every start-service.
   */
  private async open(req: OpenRequest): Promise<CircuitRow> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.openOnce(req);
      } catch (err) {
        const code = (err as AppProxyError).detail as { code?: string } | undefined;
        if (attempt >= 3 || code?.code !== 'AP_ERR_SLOT_UNAVAILABLE') throw err;
        this.d.logger.warn({ err, attempt }, 'the worker could not listen on the slot; trying another one');
      }
    }
  }

  /** Ports workers refused, `<worker>\0<port>` → until when they are skipped. */
  private readonly refusedPorts = new Map<string, number>();

  private refusedPortsOf(worker: string): number[] {
    const now = Date.now();
    const out: number[] = [];
    for (const [k, until] of this.refusedPorts) {
      if (until <= now) this.refusedPorts.delete(k);
      else if (k.startsWith(`${worker}\u0000`)) out.push(Number(k.slice(worker.length + 1)));
    }
    return out;
  }

  private async openOnce(req: OpenRequest): Promise<CircuitRow> {
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
        // Load only decides between several eligible workers: with one, its count is not read
        // (the count scans every live circuit of the worker).
        const eligible = live.filter((r) => accepts(r, req.protocol, mode));
        const { counts, ports } = await repo.liveLoad(
          eligible.length > 1 ? eligible.map((r) => r.authority) : [],
          mode === 'port' ? eligible.map((r) => r.authority) : [],
        );
        return live.map(
          (registration): WorkerSlots => ({
            registration,
            liveCircuits: counts.get(registration.authority) ?? 0,
            takenPorts: new Set([
              ...ports.filter((p) => p.worker === registration.authority).map((p) => p.port),
              ...this.refusedPortsOf(registration.authority),
            ]),
            takenSubdomains: new Set(),
          }),
        );
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
          tcp: req.tcp,
          idle: req.idle,
        });
        if (!row)
          throw new AppProxyError(
            'AP_ERR_SESSION_NOT_RUNNING',
            'The session stopped while the app was being opened.',
          );
        return row;
      },
    });
    return this.d.opening.run(id, (signal) => this.publishAndAwait(value, signal));
  }

  private async publishAndAwait(row: CircuitRow, signal: AbortSignal): Promise<CircuitRow> {
    const { projection, lifecycle } = this.d;
    let published: PublishOutcome;
    try {
      published = await projection.publish(row);
    } catch (err) {
      // The store refused the spec (it stays queued): closing retracts it, as soon as the store answers.
      void lifecycle.closeCircuit(row.id, 'could not publish the circuit spec').catch(() => {});
      throw err;
    }
    if (published === 'closed') throw closedWhileOpening();
    return this.awaitReady(row, signal);
  }

  /** Waits for the worker's readiness; ready → ACTIVE; error/timeout → the circuit is closed. */
  private async awaitReady(row: CircuitRow, signal: AbortSignal): Promise<CircuitRow> {
    const { projection, repo, lifecycle } = this.d;
    const timeoutMs = this.d.routeReadyTimeoutMs;
    const out = await projection.awaitReady(row, { timeoutMs, signal });
    if (out.kind === 'aborted') throw closedWhileOpening();
    if (out.kind === 'timeout') {
      await lifecycle.closeCircuitPromptly(
        row.id,
        `the worker did not confirm the route within ${timeoutMs} ms`,
      );
      throw new AppProxyError('AP_ERR_ROUTE_NOT_READY', undefined, { worker: row.worker, timeoutMs });
    }
    if (out.value.kind === 'error') {
      const { code, message } = out.value;
      if (code === 'AP_ERR_SLOT_UNAVAILABLE' && row.port !== null)
        this.refusedPorts.set(`${row.worker}\u0000${row.port}`, Date.now() + REFUSED_PORT_MS);
      await lifecycle.closeCircuitPromptly(row.id, `the worker refused the route: ${code}: ${message}`);
      throw new AppProxyError('AP_ERR_ROUTE_FAILED', `The worker could not open the route: ${message}`, {
        worker: row.worker,
        code,
        message,
      });
    }
    const active = await repo.transition(row.id, 'ACTIVE');
    if (active) {
      await this.d.events.record({
        sessionId: active.session_id,
        circuitId: active.id,
        kind: 'circuit-opened',
        detail: `${active.protocol} ${active.service} on ${active.worker} at ${appUrlOf(active)}`,
      });
      this.hintIdle(active);
      return active;
    }
    const cur = await repo.get(row.id);
    if (cur?.state === 'ACTIVE') return cur;
    throw closedWhileOpening();
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

function describeAccess(a: TcpAccess | null): string {
  if (!a) return 'none';
  return a.mode === 'allow-list' ? `allow-list [${a.allowFrom.join(', ')}]` : a.mode;
}

function num(v: string | null | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
