/**
 * Worker health (a leader loop). Liveness is the worker's KV registration (under its lease), which
 * the registrations watch of `WorkerService` follows on every manager; allocation skips a worker
 * the moment its registration is gone. This loop turns absence into circuit states:
 *
 * - a worker unregistered for longer than the grace (none unless configured: its registration
 *   already outlived its last keep-alive by up to one lease TTL, so a worker that stops answering
 *   shows UNAVAILABLE within one TTL) gets its ACTIVE circuits marked UNAVAILABLE with the reason
 *   `worker <authority> stopped answering at <time>`; they keep their slot and their KV route;
 * - a registered worker's UNAVAILABLE circuits return to ACTIVE once it has confirmed them again
 *   (its readiness mark says `ready`): a worker that restarts with the same authority resumes its
 *   circuits from KV by itself, and this loop only records that it did. A circuit the worker now
 *   refuses (readiness `error`) is closed.
 *
 * It runs every `intervalMs` and at once when a registration comes or goes. Every step is a guarded
 * UPDATE, so a deposed leader that runs one last tick cannot move a circuit backwards.
 */
import type { Logger } from 'pino';
import type { CircuitReadiness } from '../../contracts/circuit-spec.ts';
import { kvKeys } from '../../contracts/kv-layout.ts';
import type { KvStore } from '../../stores/types.ts';
import type { ManagerMetrics } from '../metrics.ts';
import type { CircuitRepo } from '../repos/circuits.ts';
import type { WorkerRepo } from '../repos/workers.ts';
import type { Lifecycle } from '../services/lifecycle.ts';
import type { WorkerService } from '../services/workers.ts';

export interface WorkerHealthDeps {
  kv: KvStore;
  workers: WorkerService;
  workerRepo: WorkerRepo;
  circuits: CircuitRepo;
  lifecycle: Lifecycle;
  metrics: ManagerMetrics;
  logger: Logger;
  /** Extra time after a registration vanished before its circuits are marked; default 0. */
  graceMs?: number;
  intervalMs: number;
}

export class WorkerHealth {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private active = false;

  constructor(private readonly d: WorkerHealthDeps) {
    d.workers.onChange(() => {
      if (this.active) this.kick();
    });
  }

  /** The grace of one worker (ms). */
  graceOf(_authority: string): number {
    return this.d.graceMs ?? 0;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.kick();
  }

  async stop(): Promise<void> {
    this.active = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  /** Runs a tick now (or right after the one in progress). */
  kick(): void {
    if (!this.active) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.tick()
      .catch((err: unknown) => this.d.logger.warn({ err }, 'worker health tick failed'))
      .finally(() => {
        this.running = null;
        if (!this.active) return;
        if (this.again) {
          this.again = false;
          this.kick();
        } else {
          this.timer = setTimeout(() => this.kick(), this.d.intervalMs);
          this.timer.unref();
        }
      });
  }

  /** One pass; `force` runs it even when the loop is stopped (tests, `Manager.checkWorkers`). */
  async tick(force = false): Promise<void> {
    const { circuits, workers, logger } = this.d;
    const on = () => force || this.active;
    const served = await circuits.servedStates();
    const activeOn = new Set(served.activeWorkers);
    const unavailable = new Map<string, string[]>();
    for (const r of served.unavailable) {
      const ids = unavailable.get(r.worker);
      if (ids) ids.push(r.id);
      else unavailable.set(r.worker, [r.id]);
    }
    let lastSeen: Map<string, Date> | undefined;
    for (const worker of activeOn) {
      if (!on()) return;
      if (workers.isLive(worker)) continue;
      let since = workers.goneSince(worker)?.since;
      if (since === undefined) {
        lastSeen ??= await this.d.workerRepo.lastSeen();
        since = lastSeen.get(worker)?.getTime() ?? 0;
      }
      const grace = this.graceOf(worker);
      if (Date.now() - since < grace) continue;
      const reason = `worker ${worker} stopped answering at ${new Date(since).toISOString()}`;
      const moved = await circuits.markWorkerUnavailable(worker, reason);
      if (moved.length > 0) {
        this.d.metrics.circuitsUnavailable.inc(moved.length);
        logger.warn(
          { worker, circuits: moved.length, since: new Date(since).toISOString() },
          'circuits UNAVAILABLE: worker stopped answering',
        );
      }
    }
    for (const [worker, ids] of unavailable) {
      if (!on()) return;
      if (!workers.isLive(worker)) continue;
      const { entries } = await this.d.kv.getPrefix(kvKeys.readiness(worker));
      const marks = new Map(entries.map((e) => [e.key.slice(kvKeys.readiness(worker).length), e.value]));
      const ready: string[] = [];
      for (const id of ids) {
        const raw = marks.get(id);
        if (raw === undefined) continue;
        let mark: CircuitReadiness | undefined;
        try {
          mark = JSON.parse(raw) as CircuitReadiness;
        } catch {
          continue;
        }
        if (mark.state === 'ready') ready.push(id);
        else if (mark.state === 'error') {
          void this.d.lifecycle
            .closeCircuit(id, `the worker refused the route when it came back: ${mark.code}: ${mark.message}`)
            .catch((err: unknown) => logger.warn({ err, circuit: id }, 'could not close a refused circuit'));
        }
      }
      const back = await circuits.reactivate(ready);
      if (back.length > 0)
        logger.info({ worker, circuits: back.length }, 'circuits ACTIVE again: worker is back');
    }
  }
}
