/**
 * Leader election among managers, through the KV store (etcd role).
 *
 * Each manager holds one lease (TTL `ttlMs`, kept alive by the adapter) and campaigns with a
 * create-if-absent transaction on `kvKeys.leader()` whose value is `{id, since}` under that lease.
 * The winner is leader for as long as its lease lives and the key is its own; it watches the key
 * and steps down at once when the key is deleted or overwritten, or when its lease is lost. The
 * others watch the key and campaign again as soon as it is deleted (which etcd does when the
 * leader's lease expires: a dead leader is replaced within one TTL plus a campaign).
 *
 * A manager that finds its *own* id in the key (its previous lease was lost, e.g. during a store
 * outage, while etcd kept the key) takes the key over under its new lease (guarded by the key's
 * mod revision), instead of waiting for the stale lease to expire.
 *
 * `leader`/`follower` events fire on every change; background loops start and stop on them.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { kvKeys, type LeaderRecord } from '../../contracts/kv-layout.ts';
import type { KvLease, KvStore, KvWatcher } from '../../stores/types.ts';

export interface LeaderElectorOptions {
  kv: KvStore;
  /** This manager's id (unique per process). */
  id: string;
  /** Lease TTL; default 10 s. A dead leader is replaced within about one TTL (at most two). */
  ttlMs?: number;
  logger: Logger;
  /** Delay before campaigning again after a store error; default min(1 s, ttl / 4). */
  retryMs?: number;
}

export interface LeaderElectorEvents {
  leader: [];
  follower: [];
}

export class LeaderElector extends EventEmitter<LeaderElectorEvents> {
  readonly id: string;
  readonly ttlMs: number;
  private lease: KvLease | null = null;
  private leading = false;
  private known: LeaderRecord | null = null;
  private closed = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private watcher: KvWatcher | null = null;
  private readonly retryMs: number;
  private roundDone!: () => void;
  private readonly firstRound = new Promise<void>((r) => {
    this.roundDone = r;
  });
  private readonly kv: KvStore;
  private readonly logger: Logger;

  constructor(opts: LeaderElectorOptions) {
    super();
    this.kv = opts.kv;
    this.id = opts.id;
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.retryMs = opts.retryMs ?? Math.min(1000, Math.max(50, this.ttlMs / 4));
    this.logger = opts.logger.child({ component: 'leader', manager: opts.id });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The leader as last seen by this manager (itself when leading); null when unknown or none. */
  get leader(): LeaderRecord | null {
    return this.known;
  }

  /** Starts campaigning; resolves after the first round (won, lost, or failed on a store error). */
  start(): Promise<void> {
    if (this.loop || this.closed) return this.firstRound;
    this.loop = this.run();
    return this.firstRound;
  }

  /** Stops campaigning; a leader steps down and revokes its lease so another takes over at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.roundDone();
    this.wake?.();
    await this.watcher?.close().catch(() => {});
    await this.loop?.catch(() => {});
    this.step('follower');
    const lease = this.lease;
    this.lease = null;
    if (lease) await withTimeout(lease.revoke(), 2000).catch(() => {});
  }

  private step(to: 'leader' | 'follower'): void {
    const leading = to === 'leader';
    if (this.leading === leading) return;
    this.leading = leading;
    this.logger.info({ leader: leading }, leading ? 'became leader' : 'no longer leader');
    this.emit(to);
  }

  private async ensureLease(): Promise<KvLease> {
    if (this.lease) return this.lease;
    const lease = await this.kv.grantLease(this.ttlMs);
    this.lease = lease;
    void lease.lost.then(() => {
      if (this.lease === lease) this.lease = null;
      if (this.leading) this.logger.warn('leader lease lost');
      this.step('follower');
      this.wake?.();
    });
    return lease;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        await this.campaignOnce();
      } catch (err) {
        this.step('follower');
        this.roundDone();
        if (this.closed) return;
        this.logger.warn({ err }, 'leader election: store error; retrying');
        await this.sleep(this.retryMs);
      }
    }
  }

  /** One round: try to take the key, then wait until something about it changes. */
  private async campaignOnce(): Promise<void> {
    const key = kvKeys.leader();
    const lease = await this.ensureLease();
    const mine: LeaderRecord = { id: this.id, since: new Date().toISOString() };
    const put = { type: 'put' as const, key, value: JSON.stringify(mine), lease: lease.id };
    let res = await this.kv.txn([{ key, target: 'createRevision', op: '=', value: 0 }], [put]);
    let current = res.succeeded ? mine : undefined;
    if (!res.succeeded) {
      const entry = await this.kv.get(key);
      const rec = entry ? parseRecord(entry.value) : null;
      if (entry && rec?.id === this.id && entry.lease !== lease.id) {
        // Our own key under a lease we lost: take it over rather than wait for it to expire.
        const takeover = { ...put, value: JSON.stringify({ id: this.id, since: rec.since }) };
        res = await this.kv.txn(
          [{ key, target: 'modRevision', op: '=', value: entry.modRevision }],
          [takeover],
        );
        if (res.succeeded) current = { id: this.id, since: rec.since };
      } else if (entry && rec?.id === this.id) {
        current = rec;
        res = { succeeded: true, revision: entry.modRevision };
      } else if (entry) {
        current = rec ?? undefined;
        res = { succeeded: false, revision: entry.modRevision };
      } else {
        return; // deleted in between: campaign again at once
      }
    }
    if (this.closed) return;
    this.known = current ?? null;
    if (current?.id === this.id && this.lease === lease) this.step('leader');
    else this.step('follower');
    this.roundDone();
    await this.waitForChange(key, res.revision, lease);
  }

  /**
   * Resolves when the key is deleted or gets another value (or this leader's lease is lost, or
   * the watch ends). The watch starts at the revision the key was read at, so nothing is missed.
   */
  private waitForChange(key: string, revision: number, lease: KvLease): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.wake = null;
        const w = this.watcher;
        this.watcher = null;
        void w?.close().catch(() => {});
        resolve();
      };
      this.wake = finish;
      if (this.closed) return finish();
      if (this.leading) void lease.lost.then(finish);
      this.kv
        .watch(key, revision, {
          onEvents: (events) => {
            for (const e of events) {
              if (e.key !== key) continue;
              if (e.type === 'delete') {
                this.known = null;
                if (this.leading) this.logger.warn('leader key deleted; stepping down');
                this.step('follower');
                finish();
                return;
              }
              const rec = parseRecord(e.value ?? '');
              this.known = rec;
              if (rec?.id !== this.id) {
                this.step('follower');
                finish();
                return;
              }
            }
          },
          onError: () => {
            // Without a watch a leader cannot know it was deposed: step down and campaign again.
            this.step('follower');
            setTimeout(finish, this.retryMs).unref();
          },
        })
        .then(
          (w) => {
            if (done) void w.close().catch(() => {});
            else this.watcher = w;
          },
          () => {
            this.step('follower');
            setTimeout(finish, this.retryMs).unref();
          },
        );
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.wake = null;
        r();
      }, ms);
      t.unref();
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        r();
      };
    });
  }
}

function parseRecord(raw: string): LeaderRecord | null {
  try {
    const r = JSON.parse(raw) as LeaderRecord;
    return typeof r.id === 'string' && typeof r.since === 'string' ? r : null;
  } catch {
    return null;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<undefined>((r) => {
      t = setTimeout(() => r(undefined), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
