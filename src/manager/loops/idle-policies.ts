/**
 * Idle policies (a leader loop): the circuit idle policy closes a circuit on which no byte moved
 * for its `circuitIdleTimeoutMs`; the session idle policy terminates a RUNNING session whose every
 * live circuit has been idle for the session's `idleTimeoutMs`. Both act through the lifecycle
 * (`closeCircuit`, `terminateSession`), so routes leave the workers and live connections are cut
 * exactly as for a requested close, and both record a lifecycle event.
 *
 * What counts as activity: bytes moved, in either direction, on any protocol. The workers count
 * HTTP, WebSocket, raw TCP and tunnel bytes into the same per-circuit counters (`lastClientAt`,
 * `lastBackendAt`, merged across workers and their processes with `max`), so a circuit is idle
 * since the later of the two — or, before any byte, since it was created or its access last
 * changed. Open connections alone do NOT keep a circuit alive: a forgotten SSH session or a
 * browser tab left open on a quiet page must not pin compute forever; a connection that matters
 * moves bytes (keepalives of the app's own protocol do, TCP keepalive probes and the worker's
 * WebSocket pings do not). The counters are as fresh as the workers' flush interval
 * (`worker.activityFlushInterval`, 1 s by default), which bounds how late activity can be seen.
 *
 * A session with no live circuit is not judged by the session policy: AppProxy sees only the
 * traffic of circuits, and a session used some other way (a batch job, a terminal of the
 * platform) would otherwise be terminated under its user.
 *
 * Scheduling: a pass every `checkIntervalMs`, and a timer for the earliest moment a policy could
 * act, so that a policy acts on time rather than up to one interval late. `wakeBy(at)` lets the
 * API side (circuit opened, access changed) move that timer earlier. A pass reads SQL once and
 * the counters in a handful of multi-gets (MGET in Redis; `READ_CHUNK_KEYS` of `services/activity.ts` each), whatever
 * the number of circuits; just before acting it re-reads the activity of the circuits concerned,
 * so bytes that arrived during the pass still count.
 */
import type { Logger } from 'pino';
import { formatDuration } from '../../core/duration.ts';
import type { CounterStore } from '../../stores/types.ts';
import type { ManagerMetrics } from '../metrics.ts';
import type { CircuitRepo, IdleCandidateRow } from '../repos/circuits.ts';
import type { EventLog } from '../repos/events.ts';
import { idleSinceOf, readLastActivity } from '../services/activity.ts';
import type { Lifecycle } from '../services/lifecycle.ts';

export interface IdlePoliciesDeps {
  circuits: CircuitRepo;
  counters: CounterStore;
  lifecycle: Lifecycle;
  events: EventLog;
  metrics: ManagerMetrics;
  logger: Logger;
  checkIntervalMs: number;
}

export interface IdleAction {
  kind: 'circuit-idle-closed' | 'session-idle-terminated';
  subject: string;
  detail: string;
}

/** Shortest delay between passes, so that a policy due "now" cannot spin the loop. */
const MIN_DELAY_MS = 20;

interface PassResult {
  actions: IdleAction[];
  /** Earliest time a policy that did not act could act (null: none pending). */
  next: number | null;
}

interface Evaluation {
  dueCircuits: { row: IdleCandidateRow; idleSince: number; timeoutMs: number }[];
  dueSessions: { sessionId: string; idleSince: number; timeoutMs: number; circuits: number }[];
  /** Earliest time a policy that is not due yet could act. */
  next: number | null;
}

/** Endpoint circuits whose routes are a session's services: their activity is the session's too. */
type ServedBy = Map<string, { circuitId: string; createdAt: number }[]>;

function evaluate(
  rows: IdleCandidateRow[],
  activity: Map<string, number | null>,
  now: number,
  servedBy: ServedBy = new Map(),
): Evaluation {
  const out: Evaluation = { dueCircuits: [], dueSessions: [], next: null };
  const soonest = (at: number) => {
    if (out.next === null || at < out.next) out.next = at;
  };
  const sessions = new Map<string, { timeoutMs: number; idleSince: number; circuits: number }>();
  const idleSince = new Map<string, number>();
  for (const r of rows) {
    const since = idleSinceOf(
      activity.get(r.id) ?? null,
      r.created_at.getTime(),
      r.access_updated_at?.getTime() ?? null,
    );
    idleSince.set(r.id, since);
    if (r.session_state === 'RUNNING' && r.session_idle_timeout_ms !== null) {
      const s = sessions.get(r.session_id);
      if (s) {
        s.idleSince = Math.max(s.idleSince, since);
        s.circuits++;
      } else {
        sessions.set(r.session_id, {
          timeoutMs: Number(r.session_idle_timeout_ms),
          idleSince: since,
          circuits: 1,
        });
      }
    }
  }
  // A replica that answers an endpoint's requests is busy, whatever its own circuits see: the
  // endpoint circuit's last activity (bytes of a stream included) counts for the session.
  for (const [sessionId, s] of sessions) {
    for (const ep of servedBy.get(sessionId) ?? [])
      s.idleSince = Math.max(s.idleSince, activity.get(ep.circuitId) ?? ep.createdAt);
  }
  const terminating = new Set<string>();
  for (const [sessionId, s] of sessions) {
    const at = s.idleSince + s.timeoutMs;
    if (now >= at) {
      out.dueSessions.push({ sessionId, ...s });
      terminating.add(sessionId);
    } else soonest(at);
  }
  for (const r of rows) {
    // A session being terminated closes its circuits itself.
    if (r.state !== 'ACTIVE' || r.circuit_idle_timeout_ms === null || terminating.has(r.session_id)) continue;
    const timeoutMs = Number(r.circuit_idle_timeout_ms);
    const since = idleSince.get(r.id)!;
    if (now >= since + timeoutMs) out.dueCircuits.push({ row: r, idleSince: since, timeoutMs });
    else soonest(since + timeoutMs);
  }
  return out;
}

export class IdlePolicies {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private running: Promise<PassResult> | null = null;
  private active = false;
  /** Deadlines hinted while a pass ran (its SQL read may have missed their circuits). */
  private hinted: number | null = null;

  constructor(private readonly d: IdlePoliciesDeps) {}

  start(): void {
    if (this.active) return;
    this.active = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.active = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  /** A policy may act at `at` (epoch ms): make sure a pass runs then (leader only; no-op otherwise). */
  wakeBy(at: number): void {
    if (!this.active) return;
    if (this.running) {
      this.hinted = this.hinted === null ? at : Math.min(this.hinted, at);
      return;
    }
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.schedule(at - Date.now());
  }

  /** Arms the timer for the next pass: the earliest of the interval, `next` and hinted deadlines. */
  private rearm(next: number | null): void {
    if (!this.active) return;
    let at = Date.now() + this.d.checkIntervalMs;
    for (const t of [next, this.hinted]) if (t !== null && t < at) at = t;
    this.hinted = null;
    // An earlier timer (a hint that arrived before the pass) stands.
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.schedule(at - Date.now());
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    const ms = Math.max(MIN_DELAY_MS, Math.min(delayMs, this.d.checkIntervalMs));
    this.timerAt = Date.now() + ms;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pass().catch(() => {});
    }, ms);
    this.timer.unref();
  }

  /** One pass now (joins the pass in progress); resolves with what the policies did. */
  async runOnce(): Promise<IdleAction[]> {
    return (await this.pass()).actions;
  }

  /**
   * One pass (joined when one is in progress), with the earliest time a policy could act next;
   * the loop's timer is re-armed after every pass, whoever asked for it.
   */
  private pass(): Promise<PassResult> {
    if (this.running) return this.running;
    const p = this.evaluateAndAct().then(
      (r) => {
        this.running = null;
        this.rearm(r.next);
        return r;
      },
      (err: unknown) => {
        this.running = null;
        this.d.logger.warn({ err }, 'idle policy pass failed; the next pass retries');
        this.rearm(null);
        throw err;
      },
    );
    this.running = p;
    return p;
  }

  private async evaluateAndAct(): Promise<PassResult> {
    const { circuits, counters, lifecycle, events, logger, metrics } = this.d;
    const rows = await circuits.idleCandidates();
    if (rows.length === 0) return { actions: [], next: null };
    const servedBy: ServedBy = new Map();
    for (const r of await circuits.endpointCircuitsBySession()) {
      const list = servedBy.get(r.session_id) ?? [];
      list.push({ circuitId: r.circuit_id, createdAt: r.created_at.getTime() });
      servedBy.set(r.session_id, list);
    }
    const endpointCircuits = [...new Set([...servedBy.values()].flat().map((e) => e.circuitId))];
    const activity = await readLastActivity(counters, [...rows.map((r) => r.id), ...endpointCircuits]);
    let ev = evaluate(rows, activity, Date.now(), servedBy);
    if (ev.dueCircuits.length === 0 && ev.dueSessions.length === 0) return { actions: [], next: ev.next };

    // Re-read what is about to act on: bytes that arrived while this pass ran still count.
    const dueSessions = new Set(ev.dueSessions.map((s) => s.sessionId));
    const recheck = rows.filter(
      (r) => dueSessions.has(r.session_id) || ev.dueCircuits.some((c) => c.row.id === r.id),
    );
    const recheckEndpoints = [...dueSessions].flatMap((id) =>
      (servedBy.get(id) ?? []).map((e) => e.circuitId),
    );
    for (const [id, at] of await readLastActivity(counters, [
      ...recheck.map((r) => r.id),
      ...recheckEndpoints,
    ]))
      activity.set(id, at);
    ev = evaluate(rows, activity, Date.now(), servedBy);

    const actions: IdleAction[] = [];
    for (const s of ev.dueSessions) {
      const detail = `every circuit of the session (${s.circuits}) idle since ${iso(s.idleSince)}: session idle timeout ${formatDuration(s.timeoutMs)} reached`;
      actions.push({ kind: 'session-idle-terminated', subject: `session/${s.sessionId}`, detail });
      metrics.idleActions.inc({ policy: 'session-idle' });
      logger.info(
        { session: s.sessionId, idleSince: iso(s.idleSince), timeoutMs: s.timeoutMs },
        'session idle: terminating',
      );
      await events.record({ sessionId: s.sessionId, kind: 'session-idle-terminated', detail });
      const flow = lifecycle.terminateSession(s.sessionId, `idle: ${detail}`);
      flow.done.catch((err: unknown) =>
        logger.warn(
          { err, session: s.sessionId },
          'idle session termination failed; the reconciler resumes it',
        ),
      );
      await flow.begun;
    }
    for (const c of ev.dueCircuits) {
      const id = c.row.id;
      const detail = `no byte moved since ${iso(c.idleSince)}: circuit idle timeout ${formatDuration(c.timeoutMs)} reached`;
      actions.push({ kind: 'circuit-idle-closed', subject: `circuit/${id}`, detail });
      metrics.idleActions.inc({ policy: 'circuit-idle' });
      logger.info(
        { circuit: id, session: c.row.session_id, idleSince: iso(c.idleSince), timeoutMs: c.timeoutMs },
        'circuit idle: closing',
      );
      await events.record({
        sessionId: c.row.session_id,
        circuitId: id,
        kind: 'circuit-idle-closed',
        detail,
      });
      // Not awaited: a close waits for the worker (bounded), and other circuits must not wait for it.
      lifecycle
        .closeCircuit(id, `idle: ${detail}`)
        .catch((err: unknown) =>
          logger.warn({ err, circuit: id }, 'idle circuit close failed; retrying later'),
        );
    }
    return { actions, next: ev.next };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
