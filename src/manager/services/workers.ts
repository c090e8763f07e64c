/**
 * Which workers are alive: the registrations prefix followed with `PrefixSync` (snapshot, then a
 * watch that resumes from its last revision). A registration is accepted only after its worker row
 * is upserted in SQL (circuits reference it), so the allocator never picks a worker SQL does not
 * know. Snapshots and events are applied one batch at a time, in order.
 */
import type { Logger } from 'pino';
import { AppProxyError } from '../../contracts/errors.ts';
import { kvKeys, type WorkerRegistration } from '../../contracts/kv-layout.ts';
import type { WorkerInfo } from '../../contracts/records.ts';
import { PrefixSync } from '../../stores/kv-sync.ts';
import type { KvEntry, KvEvent, KvStore } from '../../stores/types.ts';
import type { WorkerRepo } from '../repos/workers.ts';
import { type Principal, requireAdmin } from './auth.ts';

export class WorkerService {
  private readonly live = new Map<string, WorkerRegistration>();
  /** Last registration seen of workers that are gone, and since when they are gone. */
  private readonly gone = new Map<string, { registration: WorkerRegistration; since: number }>();
  private readonly sync: PrefixSync;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly listeners = new Set<(authority: string, live: boolean) => void>();

  constructor(
    kv: KvStore,
    private readonly repo: WorkerRepo,
    private readonly logger: Logger,
  ) {
    this.sync = new PrefixSync(
      kv,
      kvKeys.registrations(),
      {
        onSnapshot: (entries) => this.enqueue(() => this.applySnapshot(entries)),
        onEvents: (events) => void this.enqueue(() => this.apply(events)),
      },
      logger,
    );
  }

  /**
   * Takes the first snapshot (so allocation works as soon as `start` resolves) and starts watching;
   * with the store away it keeps trying in the background (no worker is allocatable meanwhile).
   */
  async start(): Promise<void> {
    try {
      await this.sync.start();
    } catch (err) {
      this.logger.warn({ err }, 'worker registrations not readable yet; retrying');
      this.sync.startInBackground();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.sync.close();
    await this.chain.catch(() => {});
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch((err: unknown) =>
      this.logger.error({ err }, 'could not apply a worker registration change'),
    );
    return run;
  }

  registrations(): WorkerRegistration[] {
    return [...this.live.values()];
  }

  get(authority: string): WorkerRegistration | undefined {
    return this.live.get(authority);
  }

  isLive(authority: string): boolean {
    return this.live.has(authority);
  }

  onChange(fn: (authority: string, live: boolean) => void): void {
    this.listeners.add(fn);
  }

  /** When this process saw the worker's registration vanish (undefined: live, or never seen go). */
  goneSince(authority: string): { registration: WorkerRegistration; since: number } | undefined {
    return this.live.has(authority) ? undefined : this.gone.get(authority);
  }

  /** Registered workers that accept new circuits (not draining). */
  async allocatable(): Promise<WorkerRegistration[]> {
    const regs = this.registrations();
    if (regs.length === 0) return regs;
    const draining = new Set(await this.repo.drainingAmong(regs.map((r) => r.authority)));
    return regs.filter((r) => !draining.has(r.authority));
  }

  /** Sets or clears the draining flag (admins); AP_ERR_NOT_FOUND when SQL knows no such worker. */
  async setDraining(p: Principal, authority: string, draining: boolean): Promise<WorkerInfo> {
    requireAdmin(p);
    const w = (await this.repo.setDraining(authority, draining))
      ? (await this.infos()).find((i) => i.authority === authority)
      : undefined;
    if (!w) throw new AppProxyError('AP_ERR_NOT_FOUND', `No worker "${authority}" is known.`);
    this.logger.info(
      { worker: authority, draining, by: p.userId },
      draining ? 'worker draining' : 'worker undrained',
    );
    return w;
  }

  /** Every worker SQL knows (admins); `healthy` = its registration is present now. */
  async list(p: Principal): Promise<WorkerInfo[]> {
    requireAdmin(p);
    return this.infos();
  }

  private async infos(): Promise<WorkerInfo[]> {
    const rows = await this.repo.list();
    return rows.map((r) => {
      const reg = this.live.get(r.authority);
      return {
        authority: r.authority,
        frontendMode: r.frontend_mode,
        protocols: r.protocols,
        portRange: r.port_min !== null && r.port_max !== null ? [r.port_min, r.port_max] : null,
        wildcardDomain: r.wildcard_domain,
        publicScheme: r.public_scheme,
        publicHost: r.public_host,
        publicPort: r.public_port,
        healthy: reg !== undefined,
        draining: r.draining,
        circuits: r.live_circuits,
        lastSeenAt: reg ? new Date().toISOString() : r.last_seen_at.toISOString(),
      };
    });
  }

  private async applySnapshot(entries: KvEntry[]): Promise<void> {
    const seen = new Set<string>();
    for (const e of entries) {
      const reg = this.parse(e.key, e.value);
      if (reg) {
        await this.accept(reg);
        seen.add(reg.authority);
      }
    }
    for (const a of [...this.live.keys()]) if (!seen.has(a)) await this.drop(a);
  }

  private async apply(events: KvEvent[]): Promise<void> {
    for (const e of events) {
      if (this.closed) return;
      if (e.type === 'put') {
        const reg = this.parse(e.key, e.value);
        if (reg) await this.accept(reg);
      } else {
        const authority = e.key.slice(kvKeys.registrations().length);
        if (this.live.has(authority)) await this.drop(authority);
      }
    }
  }

  private async accept(reg: WorkerRegistration): Promise<void> {
    await this.repo.upsert(reg);
    const isNew = !this.live.has(reg.authority);
    this.live.set(reg.authority, reg);
    this.gone.delete(reg.authority);
    if (isNew) {
      this.logger.info({ worker: reg.authority, mode: reg.frontendMode }, 'worker registered');
      for (const l of this.listeners) l(reg.authority, true);
    }
  }

  private async drop(authority: string): Promise<void> {
    const reg = this.live.get(authority);
    this.live.delete(authority);
    if (reg) this.gone.set(authority, { registration: reg, since: Date.now() });
    this.logger.warn({ worker: authority }, 'worker registration vanished');
    for (const l of this.listeners) l(authority, false);
    await this.repo
      .touch(authority)
      .catch((err) => this.logger.warn({ err }, 'could not record worker last seen'));
  }

  private parse(key: string, value: string | null): WorkerRegistration | undefined {
    try {
      const reg = JSON.parse(value ?? '') as WorkerRegistration;
      const authority = key.slice(kvKeys.registrations().length);
      if (
        reg.authority !== authority ||
        !['port', 'wildcard'].includes(reg.frontendMode) ||
        !Array.isArray(reg.protocols)
      ) {
        throw new Error('registration does not match its key or misses fields');
      }
      return reg;
    } catch (err) {
      this.logger.warn({ err, key }, 'ignoring malformed worker registration');
      return undefined;
    }
  }
}
