/**
 * `GET /v1/doctor`: reads one snapshot of SQL and KV (KV first, like the reconciler) and returns
 * every invariant violation `core/invariants.ts` finds in it. Any manager answers it (not only the
 * leader); it changes nothing.
 */
import { kvKeys, type WorkerRegistration, workerKeyOf } from '../../contracts/kv-layout.ts';
import type { DoctorReport } from '../../contracts/records.ts';
import { checkInvariants, type InvariantSnapshot } from '../../core/invariants.ts';
import type { KvStore } from '../../stores/types.ts';
import { type CircuitRepo, circuitSpecOf } from '../repos/circuits.ts';
import type { WorkerRepo } from '../repos/workers.ts';
import { type Principal, requireAdmin } from './auth.ts';

export interface DoctorDeps {
  kv: KvStore;
  circuits: CircuitRepo;
  workers: WorkerRepo;
  graceOf: (authority: string) => number;
  pendingBoundMs: number;
  closingBoundMs: number;
}

export class Doctor {
  constructor(private readonly d: DoctorDeps) {}

  async snapshot(): Promise<InvariantSnapshot> {
    const { kv } = this.d;
    const [kvWorkers, kvRegs] = await Promise.all([
      kv.getPrefix(kvKeys.workers()),
      kv.getPrefix(kvKeys.registrations()),
    ]);
    const routes: InvariantSnapshot['routes'] = [];
    const readiness: InvariantSnapshot['readiness'] = [];
    for (const e of kvWorkers.entries) {
      const k = workerKeyOf(e.key);
      if (k)
        (k.kind === 'circuits' ? routes : readiness).push({ worker: k.worker, id: k.id, value: e.value });
    }
    const registrations: WorkerRegistration[] = [];
    for (const e of kvRegs.entries) {
      try {
        registrations.push(JSON.parse(e.value) as WorkerRegistration);
      } catch {
        // a malformed registration is not a registration
      }
    }
    const [rows, workers] = await Promise.all([
      this.d.circuits.notClosedWithSession(),
      this.d.workers.list(),
    ]);
    // The longest grace of any worker: the pure check takes one bound.
    const grace = Math.max(0, ...workers.map((w) => this.d.graceOf(w.authority)));
    return {
      now: Date.now(),
      circuits: rows.map((r) => ({
        id: r.id,
        state: r.state,
        worker: r.worker,
        sessionState: r.session_state,
        endpointState: r.endpoint_state,
        spec: circuitSpecOf(r),
        createdAt: r.created_at.getTime(),
        updatedAt: r.updated_at.getTime(),
      })),
      workers: workers.map((w) => ({
        authority: w.authority,
        frontendMode: w.frontend_mode,
        portRange: w.port_min !== null && w.port_max !== null ? [w.port_min, w.port_max] : null,
        lastSeenAt: w.last_seen_at.getTime(),
      })),
      registrations,
      routes,
      readiness,
      bounds: {
        // The health loop needs up to one of its ticks after the grace to mark the circuits.
        workerGraceMs: grace + 5000,
        pendingMs: this.d.pendingBoundMs,
        closingMs: this.d.closingBoundMs,
      },
    };
  }

  /** `GET /v1/doctor` (admins). */
  async report(p: Principal): Promise<DoctorReport> {
    requireAdmin(p);
    return this.check();
  }

  async check(): Promise<DoctorReport> {
    const snap = await this.snapshot();
    return { violations: checkInvariants(snap), checkedAt: new Date(snap.now).toISOString() };
  }
}
