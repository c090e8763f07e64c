/**
 * The invariants that tie SQL (the truth) to KV (its projection, plus the workers' own leased
 * keys). `checkInvariants` is a pure function over one snapshot of both; `appproxy doctor`
 * (`GET /v1/doctor`) prints what it returns, and the tests assert it is empty after every scenario.
 *
 * Kinds (stable; `subject` says what the violation is about):
 * - `route-missing`   a live circuit (PENDING past its publication grace, ACTIVE, UNAVAILABLE) has no KV route
 * - `route-stale`     the KV route of a live circuit differs from the circuit's CircuitSpec
 * - `route-orphan`    a KV route with no live circuit of that id on that worker
 * - `slot-shared`     two live circuits hold one slot of a worker (the unique indexes forbid it)
 * - `slot-invalid`    a slot outside its worker's port range or mode, or a malformed subdomain
 * - `session-final`   a live circuit of a TERMINATED/ERROR session
 * - `worker-gone`     an ACTIVE circuit on a worker unregistered for longer than the grace
 * - `readiness-missing` an ACTIVE circuit on a registered worker without a `ready` mark
 * - `readiness-orphan` a readiness mark of a circuit that is not live
 * - `closing-stuck`   a CLOSING circuit older than the close bound
 * - `pending-stuck`   a PENDING circuit older than the route-ready bound
 */

import type { CircuitReadiness, CircuitSpec } from '../contracts/circuit-spec.ts';
import type { WorkerRegistration } from '../contracts/kv-layout.ts';
import type { CircuitState, InvariantViolation, SessionState } from '../contracts/records.ts';
import { readCircuitSpec, sameCircuitSpec } from './circuit-spec.ts';
import { isCircuitLive } from './state-machines.ts';

export type { InvariantViolation };

export interface SnapshotCircuit {
  id: string;
  state: CircuitState;
  worker: string;
  sessionState: SessionState | null;
  /** An endpoint's circuit: its endpoint's state (null when the circuit is a session's). */
  endpointState?: string | null;
  /** The route the circuit's worker must have (derived from the SQL row). */
  spec: CircuitSpec;
  createdAt: number;
  updatedAt: number;
}

export interface SnapshotWorker {
  authority: string;
  frontendMode: 'port' | 'wildcard';
  portRange: [number, number] | null;
  lastSeenAt: number;
}

export interface InvariantSnapshot {
  now: number;
  /** Every circuit that is not CLOSED. */
  circuits: SnapshotCircuit[];
  /** Workers SQL knows. */
  workers: SnapshotWorker[];
  /** Registrations present in KV now. */
  registrations: WorkerRegistration[];
  /** KV routes: `kvKeys.circuit(worker, id)` entries. */
  routes: { worker: string; id: string; value: string }[];
  /** KV readiness marks: `kvKeys.ready(worker, id)` entries. */
  readiness: { worker: string; id: string; value: string }[];
  bounds: {
    /** How long a worker may be unregistered before its ACTIVE circuits must be UNAVAILABLE. */
    workerGraceMs: number;
    /** A PENDING circuit younger than this may not be published or confirmed yet. */
    pendingMs: number;
    /** A CLOSING circuit younger than this may still be closing. */
    closingMs: number;
  };
}

const SUBDOMAIN = /^[0-9a-f]{6}$/;

export function checkInvariants(s: InvariantSnapshot): InvariantViolation[] {
  const out: InvariantViolation[] = [];
  const add = (kind: string, subject: string, detail: string) => out.push({ kind, subject, detail });
  const iso = (ms: number) => new Date(ms).toISOString();

  const routes = new Map(s.routes.map((r) => [`${r.worker}/${r.id}`, r]));
  const ready = new Map(s.readiness.map((r) => [`${r.worker}/${r.id}`, r]));
  const registered = new Set(s.registrations.map((r) => r.authority));
  const workers = new Map(s.workers.map((w) => [w.authority, w]));
  const liveIds = new Set<string>();
  const slots = new Map<string, string>();

  for (const c of s.circuits) {
    const subject = `circuit/${c.id}`;
    if (c.state === 'CLOSING') {
      if (s.now - c.updatedAt > s.bounds.closingMs)
        add('closing-stuck', subject, `CLOSING since ${iso(c.updatedAt)} on worker ${c.worker}`);
      continue;
    }
    if (!isCircuitLive(c.state)) continue;
    liveIds.add(`${c.worker}/${c.id}`);
    const young = c.state === 'PENDING' && s.now - c.createdAt <= s.bounds.pendingMs;
    if (c.state === 'PENDING' && !young)
      add('pending-stuck', subject, `PENDING since ${iso(c.createdAt)} on worker ${c.worker}`);

    // Its route.
    const route = routes.get(`${c.worker}/${c.id}`);
    let routeOk = false;
    if (!route) {
      if (!young) add('route-missing', subject, `${c.state} circuit has no route on worker ${c.worker}`);
    } else {
      const spec = readCircuitSpec(route.value);
      routeOk = spec !== null && sameCircuitSpec(c.spec, spec);
      if (!routeOk)
        add('route-stale', subject, `the route on worker ${c.worker} differs from the circuit in SQL`);
    }

    // Its session, or its endpoint.
    if (c.spec.endpointId !== undefined) {
      if (c.endpointState !== 'ACTIVE')
        add(
          'session-final',
          subject,
          `${c.state} circuit of endpoint ${c.spec.endpointId}, which is ${c.endpointState ?? 'gone'}`,
        );
    } else if (c.sessionState === null) add('session-final', subject, 'the circuit belongs to no session');
    else if (c.sessionState === 'TERMINATED' || c.sessionState === 'ERROR')
      add('session-final', subject, `${c.state} circuit of a ${c.sessionState} session ${c.spec.sessionId}`);

    // Its slot.
    const slot = c.spec.frontendMode === 'port' ? `port ${c.spec.port}` : `subdomain ${c.spec.subdomain}`;
    const slotKey = `${c.worker}/${slot}`;
    const holder = slots.get(slotKey);
    if (holder) add('slot-shared', `slot/${c.worker}/${slot}`, `held by circuits ${holder} and ${c.id}`);
    else slots.set(slotKey, c.id);
    const w = workers.get(c.worker);
    if (!w) add('slot-invalid', subject, `worker ${c.worker} is unknown`);
    else if (w.frontendMode !== c.spec.frontendMode)
      add(
        'slot-invalid',
        subject,
        `${c.spec.frontendMode}-mode circuit on ${w.frontendMode}-mode worker ${c.worker}`,
      );
    else if (c.spec.frontendMode === 'port') {
      const p = c.spec.port;
      if (p === null || !w.portRange || p < w.portRange[0] || p > w.portRange[1])
        add('slot-invalid', subject, `port ${p} is outside the range of worker ${c.worker}`);
    } else if (!SUBDOMAIN.test(c.spec.subdomain ?? '')) {
      add('slot-invalid', subject, `subdomain ${c.spec.subdomain} is not 6 hex digits`);
    }

    // Its worker.
    if (c.state === 'ACTIVE') {
      if (!registered.has(c.worker)) {
        const since = w?.lastSeenAt ?? 0;
        if (s.now - since > s.bounds.workerGraceMs)
          add('worker-gone', subject, `ACTIVE on worker ${c.worker}, unregistered since ${iso(since)}`);
      } else if (routeOk) {
        // (Without its route the worker rightly has no mark: one cause, reported once.)
        const r = ready.get(`${c.worker}/${c.id}`);
        let state: string | undefined;
        try {
          state = r ? (JSON.parse(r.value) as CircuitReadiness).state : undefined;
        } catch {
          state = 'unreadable';
        }
        if (state !== 'ready')
          add(
            'readiness-missing',
            subject,
            `ACTIVE but worker ${c.worker} ${r ? `marks it ${state}` : 'has no readiness mark'}`,
          );
      }
    }
  }

  for (const r of s.routes) {
    if (!liveIds.has(`${r.worker}/${r.id}`)) {
      const closing = s.circuits.find((c) => c.id === r.id && c.state === 'CLOSING');
      // A CLOSING circuit's route is deleted by its close flow (reported as closing-stuck when late).
      if (!closing || s.now - closing.updatedAt > s.bounds.closingMs)
        add('route-orphan', `route/${r.worker}/${r.id}`, 'KV route without a live circuit');
    }
  }
  // A CLOSING circuit's mark is the worker's to delete as part of the close (closing-stuck when late).
  const closingIds = new Set(
    s.circuits.filter((c) => c.state === 'CLOSING').map((c) => `${c.worker}/${c.id}`),
  );
  for (const r of s.readiness) {
    const k = `${r.worker}/${r.id}`;
    if (!liveIds.has(k) && !routes.has(k) && !closingIds.has(k))
      add('readiness-orphan', `ready/${r.worker}/${r.id}`, 'readiness mark of a circuit that is not live');
  }
  return out;
}
