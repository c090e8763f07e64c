/**
 * The reconciler (a leader loop): SQL is the truth, KV its projection. Every `intervalMs` (and once
 * when this manager becomes leader) it reads KV *first*, then SQL — a route in the KV snapshot was
 * put after its circuit's INSERT committed, so the SQL read sees every circuit a route can belong
 * to — and repairs:
 *
 * - `route-missing` / `route-stale`: a live circuit (PENDING, ACTIVE, UNAVAILABLE) whose KV route is
 *   absent or differs: the route is put again (re-checking the circuit is still live right before
 *   and right after the put, so a concurrent close never gets its route resurrected);
 * - `route-orphan`: a KV route with no live circuit of that id on that worker: deleted (guarded by
 *   its mod revision), unless a close is in progress (a CLOSING circuit younger than the bound);
 * - `session-final`: a live circuit whose session is TERMINATED/ERROR (or missing): closed through
 *   the lifecycle, like any orphan;
 * - `closing-stuck`: a CLOSING circuit older than the bound (its close flow died, or KV was down):
 *   the close is resumed;
 * - `pending-stuck`: a PENDING circuit older than the route-ready bound (its opener died): closed,
 *   which frees the leaked slot;
 * - `terminating-stuck`: a TERMINATING session of this manager's agent (or external) older than the
 *   bound: its termination is resumed.
 *
 * Each repair is logged and counted in `appproxy_manager_reconcile_repairs_total{kind}`.
 */
import type { Logger } from 'pino';
import { KV_PREFIX, kvKeys } from '../../contracts/kv-layout.ts';
import { readCircuitSpec, sameCircuitSpec } from '../../core/circuit-spec.ts';
import { isCircuitLive } from '../../core/state-machines.ts';
import type { KvStore } from '../../stores/types.ts';
import type { ManagerMetrics } from '../metrics.ts';
import { type CircuitRepo, circuitSpecOf } from '../repos/circuits.ts';
import type { SessionRepo } from '../repos/sessions.ts';
import type { Lifecycle } from '../services/lifecycle.ts';
import { EXTERNAL_AGENT } from '../services/sessions.ts';

export interface ReconcilerDeps {
  kv: KvStore;
  circuits: CircuitRepo;
  sessions: SessionRepo;
  lifecycle: Lifecycle;
  metrics: ManagerMetrics;
  logger: Logger;
  agentName: string;
  intervalMs: number;
  /** PENDING circuits older than this are stuck (default: route-ready timeout + 5 s). */
  pendingBoundMs: number;
  /** CLOSING circuits older than this are stuck (default: circuit-close timeout + 5 s). */
  closingBoundMs: number;
  /** TERMINATING sessions older than this are stuck. */
  terminatingBoundMs: number;
}

export type RepairKind =
  | 'route-missing'
  | 'route-stale'
  | 'route-orphan'
  | 'session-final'
  | 'closing-stuck'
  | 'pending-stuck'
  | 'terminating-stuck';

export interface Repair {
  kind: RepairKind;
  subject: string;
}

const ROUTE_KEY = /^workers\/([^/]+)\/circuits\/([^/]+)$/;

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<Repair[]> | null = null;
  private active = false;

  constructor(private readonly d: ReconcilerDeps) {}

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

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      void this.runOnce()
        .catch(() => {})
        .finally(() => {
          if (this.active) this.schedule(this.d.intervalMs);
        });
    }, ms);
    this.timer.unref();
  }

  /** One pass (joins the pass in progress); resolves with the repairs made. */
  runOnce(): Promise<Repair[]> {
    if (this.running) return this.running;
    const p = this.pass()
      .then(
        (r) => {
          this.d.metrics.reconcileRuns.inc({ outcome: 'ok' });
          return r;
        },
        (err: unknown) => {
          this.d.metrics.reconcileRuns.inc({ outcome: 'error' });
          this.d.logger.warn({ err }, 'reconcile pass failed');
          throw err;
        },
      )
      .finally(() => {
        this.running = null;
      });
    this.running = p;
    return p;
  }

  private async pass(): Promise<Repair[]> {
    const { kv, circuits, sessions, lifecycle, logger } = this.d;
    const repairs: Repair[] = [];
    const flows: Promise<unknown>[] = [];
    const repaired = (kind: RepairKind, subject: string, extra: Record<string, unknown> = {}) => {
      repairs.push({ kind, subject });
      this.d.metrics.reconcileRepairs.inc({ kind });
      logger.warn({ repair: kind, subject, ...extra }, 'reconciler repair');
    };

    // KV first, then SQL (see the module comment).
    const snap = await kv.getPrefix(`${KV_PREFIX}workers/`);
    const routes = new Map<string, { worker: string; id: string; value: string; modRevision: number }>();
    for (const e of snap.entries) {
      const m = ROUTE_KEY.exec(e.key.slice(KV_PREFIX.length));
      if (m) routes.set(e.key, { worker: m[1]!, id: m[2]!, value: e.value, modRevision: e.modRevision });
    }
    const rows = await circuits.notClosedWithSession();
    const now = Date.now();
    const liveKeys = new Set<string>();
    const closingKeys = new Set<string>();

    for (const row of rows) {
      const key = kvKeys.circuit(row.worker, row.id);
      const subject = `circuit/${row.id}`;
      // Routes of circuits being closed (by their flow, or by a repair below) are the close's to delete.
      closingKeys.add(key);
      if (row.state === 'CLOSING') {
        if (now - row.updated_at.getTime() > this.d.closingBoundMs) {
          repaired('closing-stuck', subject);
          flows.push(lifecycle.closeCircuit(row.id));
        }
        continue;
      }
      if (!isCircuitLive(row.state)) continue;
      if (row.session_state === null || row.session_state === 'TERMINATED' || row.session_state === 'ERROR') {
        repaired('session-final', subject, { session: row.session_id, sessionState: row.session_state });
        flows.push(lifecycle.closeCircuit(row.id, 'session ended'));
        continue;
      }
      if (row.state === 'PENDING' && now - row.created_at.getTime() > this.d.pendingBoundMs) {
        repaired('pending-stuck', subject);
        flows.push(lifecycle.closeCircuit(row.id, 'allocation was interrupted'));
        continue;
      }
      closingKeys.delete(key);
      liveKeys.add(key);
      const want = circuitSpecOf(row);
      const have = routes.get(key);
      const spec = have ? readCircuitSpec(have.value) : null;
      if (have && spec && sameCircuitSpec(want, spec)) continue;
      if (!(await this.stillLive(row.id))) continue;
      const value = JSON.stringify(want);
      await kv.put(key, value);
      if (!(await this.stillLive(row.id))) {
        // Closed meanwhile: its close may have deleted the key before our put; take it back out.
        await kv.txn([{ key, target: 'value', op: '=', value }], [{ type: 'delete', key }]);
        continue;
      }
      repaired(have ? 'route-stale' : 'route-missing', subject, { worker: row.worker });
    }

    for (const [key, r] of routes) {
      if (liveKeys.has(key) || closingKeys.has(key)) continue;
      const res = await kv.txn(
        [{ key, target: 'modRevision', op: '=', value: r.modRevision }],
        [{ type: 'delete', key }],
      );
      if (res.succeeded) repaired('route-orphan', `route/${r.worker}/${r.id}`);
    }

    const stuckSessions = await sessions.terminatingOlderThan(this.d.terminatingBoundMs);
    for (const s of stuckSessions) {
      if (s.agent !== this.d.agentName && s.agent !== EXTERNAL_AGENT) continue;
      repaired('terminating-stuck', `session/${s.id}`);
      flows.push(lifecycle.terminateSession(s.id, undefined).done);
    }

    const results = await Promise.allSettled(flows);
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0)
      logger.warn(
        { failed: failed.length, err: (failed[0] as PromiseRejectedResult).reason },
        'some repairs failed; the next pass retries',
      );
    if (repairs.length > 0)
      logger.info({ repairs: repairs.length }, 'reconcile pass repaired the projection');
    return repairs;
  }

  private async stillLive(id: string): Promise<boolean> {
    const row = await this.d.circuits.get(id);
    return row !== undefined && isCircuitLive(row.state);
  }
}
