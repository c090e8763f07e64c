/**
 * The reconciler (a leader loop): SQL is the truth, KV its projection. Every `intervalMs` (and once
 * when this manager becomes leader) it reads KV *first*, then SQL — a route in the KV snapshot was
 * put after its circuit's INSERT committed, so the SQL read sees every circuit a route can belong
 * to — and repairs:
 *
 * - `route-missing` / `route-stale`: a live circuit (PENDING, ACTIVE, UNAVAILABLE) whose circuit spec
 *   is absent or differs: republished by the projection (re-read from SQL, put, re-checked, so a
 *   concurrent close never gets its spec resurrected);
 * - `route-orphan`: a spec with no live circuit of that id on that worker: retracted, unless a close
 *   is in progress (a CLOSING circuit younger than the bound);
 * - `session-final`: a live circuit whose session is TERMINATED/ERROR (or missing): closed through
 *   the lifecycle, like any orphan;
 * - `closing-stuck`: a CLOSING circuit older than the bound (its close flow died, or KV was down):
 *   the close is resumed;
 * - `pending-stuck`: a PENDING circuit older than the route-ready bound (its opener died): closed,
 *   which frees the leaked slot;
 * - `terminating-stuck`: a TERMINATING session of this manager's agent (or external) older than the
 *   bound: its termination is resumed;
 * - `revocation-missing`: a live revocation record (SQL) that KV lost: put again; expired and
 *   unknown records are deleted from KV, and expired rows from SQL;
 * - `session-launch-missing`: a PENDING session of this manager's agent, older than the PENDING
 *   bound, whose desired state the agent driver does not see in KV (agents over KV only): launched
 *   again. Its manager died between the INSERT and the put, or stopped with the put still queued
 *   while the store was away.
 *
 * Each repair is logged and counted in `appproxy_manager_reconcile_repairs_total{kind}`.
 */
import type { Logger } from 'pino';
import type { AgentDriver } from '../../contracts/agent.ts';
import { isCircuitLive } from '../../core/state-machines.ts';
import type { ManagerMetrics } from '../metrics.ts';
import type { CircuitRepo } from '../repos/circuits.ts';
import type { SessionRepo } from '../repos/sessions.ts';
import type { CircuitProjection, StoredSpec } from '../services/circuit-projection.ts';
import type { Lifecycle } from '../services/lifecycle.ts';
import type { RevocationService } from '../services/revocations.ts';
import { EXTERNAL_AGENT } from '../services/sessions.ts';

export interface ReconcilerDeps {
  projection: CircuitProjection;
  /** The revocation projection: records KV lost are put again, expired or unknown ones deleted. */
  revocations?: Pick<RevocationService, 'reconcile'>;
  /** Feature flags: override records rewritten from SQL where they differ (answers `<flag>/<scope>`). */
  flags?: { reconcile(): Promise<string[]> };
  circuits: CircuitRepo;
  sessions: SessionRepo;
  lifecycle: Lifecycle;
  metrics: ManagerMetrics;
  logger: Logger;
  agent: AgentDriver;
  /** Launches a PENDING session again (`SessionService.relaunch`). */
  relaunch: (sessionId: string, template: string) => void;
  intervalMs: number;
  /** PENDING circuits (and sessions not desired in KV) older than this are stuck (default: route-ready timeout + 5 s). */
  pendingBoundMs: number;
  /** CLOSING circuits older than this are stuck (default: circuit-close timeout + 5 s). */
  closingBoundMs: number;
  /** TERMINATING sessions older than this are stuck. */
  terminatingBoundMs: number;
}

/** How many circuits the pass compares between turns of the event loop. */
const YIELD_EVERY = 256;

export type RepairKind =
  | 'route-missing'
  | 'route-stale'
  | 'route-orphan'
  | 'session-final'
  | 'closing-stuck'
  | 'pending-stuck'
  | 'terminating-stuck'
  | 'session-launch-missing'
  | 'revocation-missing'
  | 'flag-stale';

export interface Repair {
  kind: RepairKind;
  subject: string;
}

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
    const { projection, circuits, sessions, lifecycle, logger } = this.d;
    const repairs: Repair[] = [];
    const flows: Promise<unknown>[] = [];
    const repaired = (kind: RepairKind, subject: string, extra: Record<string, unknown> = {}) => {
      repairs.push({ kind, subject });
      this.d.metrics.reconcileRepairs.inc({ kind });
      logger.warn({ repair: kind, subject, ...extra }, 'reconciler repair');
    };

    // KV first, then SQL (see the module comment).
    const specs = new Map<string, StoredSpec>();
    for (const s of await projection.stored()) specs.set(`${s.worker}/${s.id}`, s);
    const rows = await circuits.notClosedWithSession();
    const now = Date.now();
    const liveKeys = new Set<string>();
    const closingKeys = new Set<string>();

    let visited = 0;
    for (const row of rows) {
      // Comparing 10k specs is tens of milliseconds of parsing: the API (and, embedded, the data
      // plane) shares this thread, so the pass yields every few hundred circuits.
      if (++visited % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
      const key = `${row.worker}/${row.id}`;
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
      if (row.endpoint_id !== null) {
        if (row.endpoint_state !== 'ACTIVE') {
          repaired('session-final', subject, {
            endpoint: row.endpoint_id,
            endpointState: row.endpoint_state,
          });
          flows.push(lifecycle.closeCircuit(row.id, 'endpoint deleted'));
          continue;
        }
      } else if (
        row.session_state === null ||
        row.session_state === 'TERMINATED' ||
        row.session_state === 'ERROR'
      ) {
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
      const have = specs.get(key);
      if (projection.matches(row, have)) continue;
      // Closed meanwhile: nothing to repair (and the projection never resurrects its spec).
      if ((await projection.republish(row.id)) === 'closed') continue;
      repaired(have ? 'route-stale' : 'route-missing', subject, { worker: row.worker });
    }

    for (const [key, s] of specs) {
      if (liveKeys.has(key) || closingKeys.has(key)) continue;
      await projection.retractOrphan(s);
      repaired('route-orphan', `route/${s.worker}/${s.id}`);
    }

    const { agent } = this.d;
    for (const s of await sessions.inStateOlderThan('TERMINATING', this.d.terminatingBoundMs)) {
      if (s.agent !== agent.name && s.agent !== EXTERNAL_AGENT) continue;
      repaired('terminating-stuck', `session/${s.id}`);
      flows.push(lifecycle.terminateSession(s.id, undefined).done);
    }
    if (agent.isDesired) {
      for (const s of await sessions.inStateOlderThan('PENDING', this.d.pendingBoundMs)) {
        if (s.agent !== agent.name || agent.isDesired(s.id)) continue;
        repaired('session-launch-missing', `session/${s.id}`);
        this.d.relaunch(s.id, s.template);
      }
    }

    if (this.d.revocations) {
      const r = await this.d.revocations.reconcile();
      for (const id of r.missing) repaired('revocation-missing', `revocation/${id}`);
      // Expired records leave KV here as a matter of course; only unknown ones are repairs.
      if (r.orphan.length > 0)
        logger.info({ deleted: r.orphan.length, expiredRows: r.expired }, 'revocations pruned');
    }

    if (this.d.flags)
      for (const name of await this.d.flags.reconcile()) repaired('flag-stale', `flag/${name}`);

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
}
