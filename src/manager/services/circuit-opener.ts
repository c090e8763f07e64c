/**
 * Opening a circuit for start-service: allocate a slot (`core/allocation.ts`: the least loaded
 * eligible worker, its lowest free port or a random subdomain; SQL unique indexes arbitrate
 * races), INSERT the circuit PENDING, publish its spec (the projection), and wait for the worker's
 * readiness mark; only then is it ACTIVE, so the worker serves the circuit before anyone gets its
 * URL. A readiness error or timeout closes the circuit. Openings in progress are in
 * `OpeningCircuits`, where a concurrent start-service joins them and a close aborts them.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Grant } from '../../contracts/auth.ts';
import type { EndpointSettings, SpecBackend } from '../../contracts/endpoint.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import type { WorkerRegistration } from '../../contracts/kv-layout.ts';
import type { CircuitFlow, FrontendMode } from '../../contracts/records.ts';
import {
  accepts,
  allocate,
  appUrlFor,
  InflightSlots,
  resolveFrontendMode,
  type WorkerSlots,
} from '../../core/allocation.ts';
import { appUrlOf, type CircuitRepo, type CircuitRow, circuitIdleDeadline } from '../repos/circuits.ts';
import type { EventLog } from '../repos/events.ts';
import type { TcpAccess } from './access.ts';
import type { CircuitProjection, PublishOutcome } from './circuit-projection.ts';
import type { CircuitIdleSettings } from './idle-settings.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { OpeningCircuits } from './opening.ts';
import type { WorkerService } from './workers.ts';

/** What opening one circuit needs (start-service, after the session and service are checked). */
export interface OpenRequest {
  /** The session it is for; or, for an inference endpoint's circuit, `endpointId`. */
  sessionId: string | null;
  endpointId?: string;
  /** An endpoint's circuit: the endpoint's settings its worker needs. */
  endpointSettings?: EndpointSettings;
  ownerId: string;
  service: string;
  protocol: 'http' | 'tcp';
  /** A session's service: its one backend; an endpoint: its routes (possibly none yet). */
  backends: SpecBackend[];
  tcp: (TcpAccess & { maxConnections: number }) | null;
  idle: CircuitIdleSettings;
  frontend?: FrontendMode;
  /** The caller's grant: what the circuit's raw TCP connections are revoked by. */
  grant: Grant;
  /** http circuits: the flow it is created under (default integrated). */
  flow?: CircuitFlow;
}

export interface CircuitOpenerDeps {
  projection: CircuitProjection;
  opening: OpeningCircuits;
  repo: CircuitRepo;
  workers: WorkerService;
  lifecycle: Lifecycle;
  events: EventLog;
  logger: Logger;
  routeReadyTimeoutMs: number;
  /** Tells the idle loop a policy may act at `at` (epoch ms), so it wakes on time. */
  idleDeadline?: (at: number) => void;
}

/** How long a port a worker could not listen on is left out of allocation. */
const REFUSED_PORT_MS = 60_000;

/** The worker refused a circuit spec (its readiness mark says `error` with the worker's code). */
export class WorkerRefusedCircuit extends AppProxyError {
  constructor(
    worker: string,
    readonly workerCode: string,
    workerMessage: string,
  ) {
    super('AP_ERR_ROUTE_FAILED', `The worker could not open the route: ${workerMessage}`, {
      worker,
      code: workerCode,
      message: workerMessage,
    });
  }
}

export class CircuitOpener {
  private readonly inflightSlots = new InflightSlots();

  constructor(private readonly d: CircuitOpenerDeps) {}

  /** A live circuit found for reuse: ACTIVE as is; PENDING once its opener (here or elsewhere) confirms it. */
  async confirm(row: CircuitRow): Promise<CircuitRow> {
    if (row.state === 'ACTIVE') return row;
    // Being opened here: join it; opened by another manager (or interrupted): wait for the worker too.
    return this.d.opening.run(row.id, (signal) => this.awaitReady(row, signal));
  }

  /**
   * Opens a circuit; a port the worker could not listen on (another process holds it on the
   * worker's host) is remembered for a while and the circuit is opened again on another slot, so
   * a foreign listener in the range costs one failed attempt, not every start-service.
   */
  async open(req: OpenRequest): Promise<CircuitRow> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.openOnce(req);
      } catch (err) {
        if (
          attempt >= 3 ||
          !(err instanceof WorkerRefusedCircuit) ||
          err.workerCode !== 'AP_ERR_SLOT_UNAVAILABLE'
        )
          throw err;
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
        const row = await repo.insertForLiveOwner({
          id,
          sessionId: req.sessionId,
          endpointId: req.endpointId ?? null,
          endpointSettings: req.endpointSettings ?? null,
          service: req.service,
          protocol: req.protocol,
          ownerId: req.ownerId,
          worker: choice.authority,
          frontendMode: choice.frontendMode,
          port: choice.port,
          subdomain: choice.subdomain,
          appUrl: appUrlFor(reg, choice),
          backends: req.backends,
          tcp: req.tcp,
          idle: req.idle,
          grant: req.grant,
          flow: req.flow ?? 'integrated',
        });
        if (!row)
          throw req.endpointId
            ? new AppProxyError(
                'AP_ERR_ENDPOINT_NOT_FOUND',
                'The endpoint was deleted while it was being opened.',
              )
            : new AppProxyError(
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
      throw new WorkerRefusedCircuit(row.worker, code, message);
    }
    const active = await repo.transition(row.id, 'ACTIVE');
    if (active) {
      await this.d.events.record({
        sessionId: active.session_id,
        endpointId: active.endpoint_id,
        circuitId: active.id,
        kind: 'circuit-opened',
        detail: `${active.protocol} ${active.service} on ${active.worker} at ${appUrlOf(active)}`,
      });
      const at = circuitIdleDeadline(active);
      if (at !== null) this.d.idleDeadline?.(at);
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
