/**
 * How processes stay in step with the KV store (the etcd role): the one kit every KV consumer
 * uses — the worker (its circuits, the setup-token keys, its registration and readiness marks),
 * the agent process (desired sessions, its registration and reports) and the manager (worker
 * registrations, agents' reports, its outbox of KV writes).
 *
 * - `PrefixSync`: a snapshot of one prefix, then a watch from the snapshot's revision, that
 *   survives the end of its watch: it resumes *from the last revision it received*, so changes made
 *   while the store was away arrive as ordinary events and nothing applied is re-done; only a
 *   compacted revision makes it take a fresh snapshot, which the consumer diffs against its state.
 * - `LeasedRegistration`: a key kept under a lease; a lost lease is re-granted and the key re-put,
 *   and `onRegistered` tells the publishers that write under the lease to write again.
 * - `LatestWinsPublisher`: the values some keys should have (or their absence), written by one
 *   writer at a time, latest value wins, retried until the store takes them: a slow store never
 *   blocks the caller, and a put can never land after the delete that followed it.
 *
 * Retries are paced by `core/backoff.ts`, whose cap is short on purpose: a store that comes back
 * is noticed within a fraction of a second, which is what bounds "terminate → dark" after an etcd
 * outage. Failures are logged once, then at most every `LOG_EVERY_MS`, so an outage does not flood
 * the log.
 */
import type { Logger } from 'pino';
import { BACKOFF_MIN_MS, nextBackoff, sleep } from '../core/backoff.ts';
import type { KvEntry, KvEvent, KvLease, KvStore, KvWatchError, KvWatcher } from './types.ts';

/** While a store stays away, one warning per this many ms (with the count of failures since). */
const LOG_EVERY_MS = 30_000;

/** A warning that says "still failing" at most every `LOG_EVERY_MS`. */
class FailureLog {
  private failures = 0;
  private loggedAt = 0;

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  fail(fields: Record<string, unknown>): void {
    this.failures++;
    const now = Date.now();
    if (this.failures === 1 || now - this.loggedAt >= LOG_EVERY_MS) {
      this.loggedAt = now;
      this.logger.warn({ ...fields, failures: this.failures }, this.what);
    }
  }

  ok(message: string): void {
    if (this.failures > 0) this.logger.info({ failures: this.failures }, message);
    this.failures = 0;
  }
}

export interface PrefixSyncHandlers {
  /** The whole prefix (first sync, and after a compaction): diff it against what you hold. */
  onSnapshot(entries: KvEntry[]): void | Promise<void>;
  /** Changes in revision order, never duplicated. */
  onEvents(events: KvEvent[]): void;
}

export class PrefixSync {
  /** Identifies the current watch; events and errors of an older one are ignored. */
  private generation = 0;
  private watcher: KvWatcher | null = null;
  private closed = false;
  /** The last revision whose changes under the prefix have been received. */
  private revision = 0;
  private recovering = false;
  private rerun = false;
  private rerunCompacted = false;
  private synced = false;
  private readonly log: FailureLog;
  /** Attempts to (re)sync that failed because the store did not answer. */
  failures = 0;

  constructor(
    private readonly kv: KvStore,
    readonly prefix: string,
    private readonly handlers: PrefixSyncHandlers,
    private readonly logger: Logger,
  ) {
    this.log = new FailureLog(logger, 'store unreachable; serving what is known and retrying');
  }

  /** First sync; throws when the store does not answer (the caller decides whether to start). */
  async start(): Promise<void> {
    await this.snapshot();
    await this.watchFromRevision();
  }

  /** Like `start`, but keeps retrying in the background while the store does not answer. */
  startInBackground(): void {
    void this.recover(true);
  }

  /** The revision this prefix is known up to (0 before the first snapshot). */
  get lastRevision(): number {
    return this.revision;
  }

  /** True while a watch is established. */
  get watching(): boolean {
    return this.watcher !== null;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    await this.watcher?.close().catch(() => {});
    this.watcher = null;
  }

  private async snapshot(): Promise<void> {
    const { entries, revision } = await this.kv.getPrefix(this.prefix);
    if (this.closed) return;
    this.revision = revision;
    this.synced = true;
    await this.handlers.onSnapshot(entries);
  }

  private async watchFromRevision(): Promise<void> {
    if (this.closed) return;
    const gen = ++this.generation;
    const previous = this.watcher;
    this.watcher = null;
    await previous?.close().catch(() => {});
    const w = await this.kv.watch(this.prefix, this.revision, {
      onEvents: (events) => {
        if (this.closed || gen !== this.generation) return;
        const last = events[events.length - 1];
        if (last && last.revision > this.revision) this.revision = last.revision;
        this.handlers.onEvents(events);
      },
      onError: (err: KvWatchError) => {
        if (this.closed || gen !== this.generation) return;
        this.generation++;
        this.watcher = null;
        this.logger.warn(
          { prefix: this.prefix, reason: err.reason, revision: this.revision },
          err.reason === 'compacted' ? 'watch start compacted; re-snapshotting' : 'watch ended; resuming',
        );
        void this.recover(err.reason === 'compacted');
      },
    });
    if (this.closed || gen !== this.generation) await w.close();
    else this.watcher = w;
  }

  private async recover(resnapshotFirst: boolean): Promise<void> {
    if (this.recovering) {
      // The watch just opened by the running recovery ended already: it goes round once more.
      this.rerun = true;
      this.rerunCompacted ||= resnapshotFirst;
      return;
    }
    this.recovering = true;
    let resnapshot = resnapshotFirst || !this.synced;
    let delay = BACKOFF_MIN_MS;
    try {
      while (!this.closed) {
        try {
          if (resnapshot) await this.snapshot();
          resnapshot = false;
          await this.watchFromRevision();
          this.log.ok('store answers again; watching');
          if (!this.rerun) return;
          this.rerun = false;
          resnapshot = this.rerunCompacted;
          this.rerunCompacted = false;
        } catch (err) {
          this.failures++;
          if ((err as KvWatchError)?.reason === 'compacted' || !this.synced) resnapshot = true;
          this.log.fail({ prefix: this.prefix, err, revision: this.revision });
          await sleep(delay);
          delay = nextBackoff(delay);
        }
      }
    } finally {
      this.recovering = false;
    }
  }
}

export interface LeasedRegistrationOptions {
  kv: KvStore;
  key: string;
  /** The value to put, read at every (re-)registration; it is told the lease's actual TTL. */
  value: (leaseTtlMs: number) => string;
  ttlMs: number;
  logger: Logger;
  /** After every successful registration (the first and each re-registration under a new lease). */
  onRegistered?: (lease: KvLease) => void;
}

/**
 * A key that lives under this process's lease (a worker's or an agent's registration). When the
 * lease is lost (the store was away longer than its TTL) a new one is granted and the key put
 * again, retrying with backoff for as long as it takes.
 */
export class LeasedRegistration {
  private current: KvLease | null = null;
  private closed = false;

  constructor(private readonly opts: LeasedRegistrationOptions) {}

  /** The lease the key lives under now; null while (re-)registering. */
  get lease(): KvLease | null {
    return this.current;
  }

  /** Registers once; throws when the store does not answer. */
  async start(): Promise<void> {
    await this.register();
  }

  /** Revokes the lease, which drops the key and everything else written under it. */
  async close(): Promise<void> {
    this.closed = true;
    const lease = this.current;
    this.current = null;
    await lease?.revoke().catch((err: unknown) => this.opts.logger.warn({ err }, 'lease revoke failed'));
  }

  private async register(): Promise<void> {
    const { kv, key, ttlMs } = this.opts;
    const lease = await kv.grantLease(ttlMs);
    try {
      await kv.put(key, this.opts.value(lease.ttlMs), { lease: lease.id });
    } catch (err) {
      await lease.revoke().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await lease.revoke().catch(() => {});
      return;
    }
    this.current = lease;
    lease.lost.then(() => this.onLost(lease));
    this.opts.onRegistered?.(lease);
  }

  private async onLost(lease: KvLease): Promise<void> {
    if (this.closed || this.current !== lease) return;
    this.current = null;
    const log = new FailureLog(this.opts.logger, 're-registration failed; retrying');
    this.opts.logger.warn({ key: this.opts.key }, 'lease lost; registering again');
    let delay = BACKOFF_MIN_MS;
    while (!this.closed) {
      try {
        await this.register();
        this.opts.logger.info({ key: this.opts.key }, 'registered again');
        return;
      } catch (err) {
        log.fail({ err, key: this.opts.key });
        await sleep(delay);
        delay = nextBackoff(delay);
      }
    }
  }
}

export interface LatestWinsPublisherOptions {
  kv: KvStore;
  logger: Logger;
  /** What the keys are, for log lines (e.g. 'readiness mark'). */
  what: string;
  /**
   * The lease writes go under; writing waits while it returns null (the registration is being
   * renewed, and `republishAll` follows). Absent: plain keys.
   */
  lease?: () => KvLease | null;
  /**
   * Told, for every delete written, whether it removed a key (false: it was absent already);
   * deletes are then written as a transaction guarded by the key's existence.
   */
  onDeleted?: (key: string, removed: boolean) => void;
}

/** Someone waiting for a key's desired state to be written (`settled`). */
interface SettledWaiter {
  resolve: (written: boolean) => void;
  /** `failFast` waiters: told of the first failed attempt instead. */
  reject?: (err: unknown) => void;
}

/**
 * The desired state of some keys (a value, or absent), written to the store one key at a time by
 * a single writer. `set` never waits: the latest desired state of a key is what gets written,
 * retried with backoff until the store takes it, so a put superseded by a delete is never written
 * after it. `settled` resolves once a key's desired state is in the store.
 */
export class LatestWinsPublisher {
  /** Desired state per key: a value, or null for "absent" (dropped once the delete is written). */
  private readonly desired = new Map<string, string | null>();
  private readonly dirty = new Set<string>();
  private readonly waiters = new Map<string, SettledWaiter[]>();
  private running: Promise<void> | null = null;
  /** The key being written now (no longer dirty, not settled yet). */
  private writing: string | null = null;
  private closed = false;
  private readonly log: FailureLog;

  constructor(private readonly opts: LatestWinsPublisherOptions) {
    this.log = new FailureLog(opts.logger, `${opts.what} write failed; retrying`);
  }

  /**
   * The key should hold `value` (null: the key should be absent). A value already written is not
   * written again unless `force` says the store may have changed since (keys others write too).
   */
  set(key: string, value: string | null, opts: { force?: boolean } = {}): void {
    if (this.desired.get(key) === value && !this.dirty.has(key) && value !== null && !opts.force) return;
    this.desired.set(key, value);
    this.dirty.add(key);
    this.kick();
  }

  /** The desired value of a key (undefined: nothing desired, or absence already written). */
  get(key: string): string | null | undefined {
    return this.desired.get(key);
  }

  /** Stops caring about a key without writing anything (its store value stays as it is). */
  forget(key: string): void {
    this.desired.delete(key);
    this.dirty.delete(key);
    this.release(key, true);
  }

  /** Keys with a desired value (not those waiting to be deleted). */
  keys(): string[] {
    const out: string[] = [];
    for (const [k, v] of this.desired) if (v !== null) out.push(k);
    return out;
  }

  /** Writes every desired value again (a new lease: what was under the old one is gone). */
  republishAll(): void {
    for (const [k, v] of this.desired) if (v !== null) this.dirty.add(k);
    this.kick();
  }

  /** Keys whose desired state is not in the store yet. */
  get pending(): number {
    return this.dirty.size + (this.writing !== null && !this.dirty.has(this.writing) ? 1 : 0);
  }

  /**
   * Resolves once `key`'s desired state (as of any later moment) has been written (true), or when
   * the publisher closes first (false: it stays unwritten). With `failFast`, rejects with the
   * store's error at the first failed attempt instead — for a caller that answers a request and
   * should say "the store is unavailable" rather than wait for it; the write is retried all the same.
   */
  settled(key: string, opts: { failFast?: boolean } = {}): Promise<boolean> {
    if (!this.dirty.has(key) && this.writing !== key) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      const w: SettledWaiter = opts.failFast ? { resolve, reject } : { resolve };
      const list = this.waiters.get(key);
      if (list) list.push(w);
      else this.waiters.set(key, [w]);
    });
  }

  /** Stops writing; what is still pending stays unwritten (its waiters are told so). */
  close(): void {
    this.closed = true;
    for (const key of [...this.waiters.keys()]) this.release(key, false);
  }

  private release(key: string, written: boolean): void {
    const list = this.waiters.get(key);
    if (!list) return;
    this.waiters.delete(key);
    for (const w of list) w.resolve(written);
  }

  /** A write of `key` failed: `failFast` waiters hear of it now, the others keep waiting. */
  private failed(key: string, err: unknown): void {
    const list = this.waiters.get(key);
    if (!list) return;
    const patient = list.filter((w) => !w.reject);
    for (const w of list) w.reject?.(err);
    if (patient.length > 0) this.waiters.set(key, patient);
    else this.waiters.delete(key);
  }

  private kick(): void {
    if (this.running || this.closed) return;
    this.running = this.loop().finally(() => {
      this.running = null;
      // Something became dirty while the loop was returning (or a lease came back). Without a
      // lease the loop returned at once: kicking it again would spin (`republishAll` restarts it).
      const leased = this.opts.lease ? this.opts.lease() !== null : true;
      if (this.dirty.size > 0 && !this.closed && leased) this.kick();
    });
  }

  private async remove(key: string): Promise<void> {
    const { kv, onDeleted } = this.opts;
    if (!onDeleted) {
      await kv.delete(key);
      return;
    }
    const { succeeded } = await kv.txn(
      [{ key, target: 'version', op: '>', value: 0 }],
      [{ type: 'delete', key }],
    );
    onDeleted(key, succeeded);
  }

  private async loop(): Promise<void> {
    let delay = BACKOFF_MIN_MS;
    while (this.dirty.size > 0 && !this.closed) {
      let lease: KvLease | null = null;
      if (this.opts.lease) {
        lease = this.opts.lease();
        if (!lease) return; // the registration's renewal calls republishAll(), which restarts us
      }
      const key = this.dirty.values().next().value!;
      this.dirty.delete(key);
      const value = this.desired.get(key);
      if (value === undefined) continue; // forgotten meanwhile
      this.writing = key;
      try {
        if (value === null) await this.remove(key);
        else await this.opts.kv.put(key, value, lease ? { lease: lease.id } : undefined);
        delay = BACKOFF_MIN_MS;
        this.log.ok(`${this.opts.what} writes recovered`);
        if (this.dirty.has(key)) continue; // changed while being written: goes round again
        if (value === null && this.desired.get(key) === null) this.desired.delete(key);
        this.release(key, true);
      } catch (err) {
        if (this.desired.has(key)) this.dirty.add(key); // rewrites whatever it is by then
        this.log.fail({ key, err, retryInMs: Math.round(delay) });
        this.failed(key, err);
        await sleep(delay);
        delay = nextBackoff(delay);
      } finally {
        this.writing = null;
      }
    }
  }
}
