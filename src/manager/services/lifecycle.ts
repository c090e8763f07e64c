/**
 * Lifecycle sync (design §5.2): the one place that closes circuits and terminates sessions.
 *
 * Closing a circuit: SQL CLOSING (guarded UPDATE) → its circuit spec is retracted from KV (through
 * the projection's outbox; the flow waits until the store takes it, however long it is away) →
 * wait until the worker deletes its readiness key, which it does once the route is gone and the
 * circuit's live connections are cut (bounded by `circuitCloseTimeoutMs`; not waited for when the
 * worker is not registered, since nobody would answer) → SQL CLOSED, which releases the slot.
 *
 * Terminating a session: TERMINATING (or ERROR when the agent reported a failure) → close every
 * circuit of the session in parallel → `agent.terminate` → TERMINATED. The processes stop only
 * after their routes are gone, so users see a clean refusal from the worker rather than a 502.
 *
 * Both are idempotent, and concurrent calls for one entity share one flow (per-id promise maps).
 * State changes are guarded UPDATEs, so several managers cannot move an entity backwards; a flow
 * interrupted by a crash is resumed by `recover()` from the durable CLOSING/TERMINATING states.
 */
import type { Logger } from 'pino';
import type { AgentDriver } from '../../contracts/agent.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import type { SessionState } from '../../contracts/records.ts';
import { SESSION_LIVE } from '../../core/state-machines.ts';
import type { CircuitRepo, CircuitRow } from '../repos/circuits.ts';
import type { EventLog } from '../repos/events.ts';
import type { SessionRepo } from '../repos/sessions.ts';
import type { CircuitProjection } from './circuit-projection.ts';
import type { OpeningCircuits } from './opening.ts';
import type { WorkerService } from './workers.ts';

export interface LifecycleDeps {
  projection: CircuitProjection;
  opening: OpeningCircuits;
  sessions: SessionRepo;
  circuits: CircuitRepo;
  workers: WorkerService;
  agent: AgentDriver;
  events: EventLog;
  logger: Logger;
  circuitCloseTimeoutMs: number;
  routeReadyTimeoutMs: number;
}

/** Who else holds routes to a session's services (inference endpoints): told when it ends. */
export interface SessionRouteHolder {
  sessionEnded(sessionId: string): Promise<void>;
}

export interface TerminationFlow {
  /** Settles once the session has left PENDING/RUNNING (TERMINATING, or final). */
  begun: Promise<void>;
  /** Settles when the flow is over (TERMINATED / ERROR, circuits CLOSED). */
  done: Promise<void>;
}

/** How the session ends: TERMINATED (asked to, or it stopped), ERROR (the agent reported a failure). */
export type TerminationOutcome = 'TERMINATED' | 'ERROR';

export class Lifecycle {
  private readonly routeHolders: SessionRouteHolder[] = [];

  /** Registers a holder of routes to sessions (the endpoint service); composition root only. */
  holdRoutes(holder: SessionRouteHolder): void {
    this.routeHolders.push(holder);
  }

  private readonly closing = new Map<string, Promise<CircuitRow | undefined>>();
  private readonly terminating = new Map<string, TerminationFlow>();
  /** Circuits whose close waits for KV to take the retraction of their spec. */
  private readonly retracting = new Set<string>();
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly d: LifecycleDeps) {}

  /** Keeps `p` in the set of background work that `drain()` waits for. */
  track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const forget = () => this.inflight.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** Waits for background work, at most `timeoutMs`. Returns false when some was still running. */
  async drain(timeoutMs: number): Promise<boolean> {
    // Circuits being opened are left to finish (their wait is bounded by routeReadyTimeoutMs):
    // aborting them would strand PENDING circuits with a route already in KV.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => {
      timer = setTimeout(() => r(false), timeoutMs);
    });
    const all = (async () => {
      while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
      return true as const;
    })();
    const ok = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return ok;
  }

  /**
   * Closes a circuit (see the module comment). `reason` undefined keeps the stored reason (used
   * when resuming a close). Resolves with the final row, undefined when there is no such circuit.
   */
  closeCircuit(id: string, reason?: string): Promise<CircuitRow | undefined> {
    const running = this.closing.get(id);
    if (running) return running;
    const p = this.track(this.runClose(id, reason)).finally(() => this.closing.delete(id));
    this.closing.set(id, p);
    return p;
  }

  /**
   * `closeCircuit` for a caller that answers a request: when KV has not taken the retraction
   * within `circuitCloseTimeoutMs` (the store is away), rejects with AP_ERR_STORE_UNAVAILABLE; the
   * close goes on and completes by itself as soon as the store takes it.
   */
  async closeCircuitPromptly(id: string, reason?: string): Promise<CircuitRow | undefined> {
    const flow = this.closeCircuit(id, reason);
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'waited'>((r) => {
      timer = setTimeout(() => r('waited'), this.d.circuitCloseTimeoutMs);
    });
    const first = await Promise.race([flow, waited]).finally(() => clearTimeout(timer));
    if (first !== 'waited') return first;
    if (!this.retracting.has(id)) return flow; // KV took it; the worker's confirmation is bounded too
    flow.catch(() => {});
    throw new AppProxyError(
      'AP_ERR_STORE_UNAVAILABLE',
      'The circuit is closing, but the KV store has not taken the removal of its route yet; the close completes by itself once the store answers.',
      { store: 'kv' },
    );
  }

  private async runClose(id: string, reason: string | undefined): Promise<CircuitRow | undefined> {
    const { circuits, projection, workers, logger } = this.d;
    let row = await circuits.transition(id, 'CLOSING', reason);
    if (!row) {
      row = await circuits.get(id);
      if (!row || row.state === 'CLOSED') return row;
      if (row.state !== 'CLOSING')
        throw new Error(`circuit ${id} could not move from ${row.state} to CLOSING`);
    }
    this.d.opening.abort(id);
    this.retracting.add(id);
    let retracted: boolean;
    try {
      retracted = await projection.retract(row.worker, id);
    } finally {
      this.retracting.delete(id);
    }
    // Stays CLOSING: recovery or the reconciler resume it.
    if (!retracted) throw new Error(`shutting down before KV took the retraction of circuit ${id}`);
    if (workers.isLive(row.worker)) {
      if (!(await projection.awaitGone(row.worker, id, this.d.circuitCloseTimeoutMs))) {
        logger.warn(
          { circuit: id, worker: row.worker },
          'worker did not confirm the close in time; closing anyway',
        );
      }
    }
    const closed = await circuits.transition(id, 'CLOSED');
    if (closed) {
      logger.info({ circuit: id, worker: closed.worker, reason: closed.state_reason }, 'circuit closed');
      await this.d.events.record({
        sessionId: closed.session_id,
        endpointId: closed.endpoint_id,
        circuitId: id,
        kind: 'circuit-closed',
        detail: closed.state_reason ?? 'closed',
      });
    }
    return closed ?? (await circuits.get(id));
  }

  /**
   * Starts (or joins) the termination of a session. `reason` undefined keeps the stored reason.
   * With outcome ERROR the session goes to ERROR at once (the agent already said it failed) and
   * its circuits are then closed; with TERMINATED it passes through TERMINATING.
   */
  terminateSession(
    id: string,
    reason: string | undefined,
    outcome: TerminationOutcome = 'TERMINATED',
  ): TerminationFlow {
    const running = this.terminating.get(id);
    if (running) return running;
    let markBegun!: () => void;
    const begun = new Promise<void>((r) => {
      markBegun = r;
    });
    const done = this.track(this.runTermination(id, reason, outcome, () => markBegun())).finally(() => {
      markBegun();
      this.terminating.delete(id);
    });
    done.catch(() => {});
    const flow: TerminationFlow = { begun: Promise.race([begun, done]), done };
    this.terminating.set(id, flow);
    return flow;
  }

  private async runTermination(
    id: string,
    reason: string | undefined,
    outcome: TerminationOutcome,
    begun: () => void,
  ): Promise<void> {
    const { sessions, circuits, agent, logger } = this.d;
    const row = await sessions.getRow(id);
    if (!row) return;
    let state: SessionState = row.state;
    const wasFinal = state === 'TERMINATED' || state === 'ERROR';
    if (outcome === 'ERROR' && state !== 'TERMINATED' && state !== 'ERROR') {
      const moved = await sessions.transition(id, 'ERROR', reason);
      if (moved)
        await this.d.events.record({ sessionId: id, kind: 'session-error', detail: reason ?? 'failed' });
      state = moved?.state ?? (await sessions.getRow(id))?.state ?? state;
    } else if (state === 'PENDING' || state === 'RUNNING') {
      const moved = await sessions.transition(id, 'TERMINATING', reason);
      state = moved?.state ?? (await sessions.getRow(id))?.state ?? state;
    }
    begun();

    // Routes first: every circuit of the session leaves its worker before the processes stop, and
    // so do the endpoint routes that lead to its services (no new request reaches the replica).
    for (const holder of this.routeHolders) await holder.sessionEnded(id);
    const ids = await circuits.idsNotClosedOfSession(id);
    const results = await Promise.allSettled(ids.map((c) => this.closeCircuit(c, 'session ended')));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;

    // A session already final when this flow began has had its processes stopped before.
    if (wasFinal || state === 'TERMINATED') return;
    try {
      // Sessions registered by address (external) run elsewhere: there is nothing to stop here.
      if (row.agent === agent.name) await agent.terminate(id);
    } catch (err) {
      logger.error({ err, session: id }, 'agent could not stop the session');
      if (state === 'TERMINATING') {
        const why = `stopping the session failed: ${(err as Error).message}`;
        if (await sessions.transition(id, 'ERROR', why))
          await this.d.events.record({ sessionId: id, kind: 'session-error', detail: why });
      }
      return;
    }
    if (state === 'TERMINATING') {
      const done = await sessions.transition(id, 'TERMINATED');
      if (done) {
        logger.info({ session: id }, 'session terminated');
        await this.d.events.record({
          sessionId: id,
          kind: 'session-terminated',
          detail: done.state_reason ?? 'terminated',
        });
      }
    }
  }

  /**
   * After a restart: sessions of this agent that it no longer runs (or that were mid-termination)
   * go through termination; circuits that were CLOSING, or live on an ended session, or PENDING for
   * longer than any allocation can take, are closed.
   */
  async recover(): Promise<void> {
    const { sessions, circuits, agent, logger } = this.d;
    const running = new Set(agent.running());
    const flows: Promise<unknown>[] = [];
    for (const s of await sessions.idsInStates(SESSION_LIVE, agent.name)) {
      if (s.state === 'TERMINATING') flows.push(this.terminateSession(s.id, undefined).done);
      else if (!running.has(s.id)) {
        flows.push(
          this.terminateSession(s.id, 'the agent no longer runs this session (found after a restart)').done,
        );
      }
    }
    for (const c of await circuits.idsToRecover(this.d.routeReadyTimeoutMs + 5000)) {
      const reason =
        c.why === 'closing'
          ? undefined
          : c.why === 'session ended'
            ? 'session ended'
            : 'allocation was interrupted';
      flows.push(this.closeCircuit(c.id, reason));
    }
    const results = await Promise.allSettled(flows);
    const failures = results.filter((r) => r.status === 'rejected').length;
    if (flows.length > 0) logger.info({ recovered: flows.length, failures }, 'recovery after restart done');
  }
}
