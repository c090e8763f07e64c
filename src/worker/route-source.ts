/**
 * The worker's view of the KV store (etcd role):
 * - registration under a lease, renewed by re-granting and re-registering when the lease is lost
 *   (readiness marks are re-put under the new lease);
 * - its circuits: a prefix snapshot applied to the routing table, then a watch from the snapshot
 *   revision; when the watch ends because the store is unreachable it watches again from the last
 *   revision it received (capped backoff, for as long as it takes); only a compacted revision
 *   makes it re-snapshot and diff against the table — so nothing is lost and nothing is re-done;
 * - readiness marks, written by a latest-wins publisher so a slow store never blocks routing and
 *   a put can never land after the delete that followed it;
 * - the setup-token public keys, fed to the verifier.
 * Changes reach the table one at a time, in revision order. If the store vanishes the table keeps
 * serving what it last knew.
 */
import { importJWK, type JWK } from 'jose';
import type { Logger } from 'pino';
import { AppProxyError } from '../contracts/errors.ts';
import {
  kvKeys,
  type RouteReadiness,
  type SetupTokenKeySet,
  type WorkerRegistration,
} from '../contracts/kv-layout.ts';
import { BACKOFF_MIN_MS, nextBackoff, sleep } from '../core/backoff.ts';
import type { SetupTokenVerifier } from '../core/setup-token.ts';
import type { KvEntry, KvEvent, KvLease, KvStore, KvWatchError, KvWatcher } from '../stores/types.ts';
import type { RoutingTable } from './routing-table.ts';

/**
 * Snapshot + watch of one prefix that survives the end of its watch. It keeps the last revision it
 * received (snapshot revision, then each event's); when the watch ends because the store went away
 * (`closed`, `unavailable`, or the watch call itself fails) it watches again *from that revision*,
 * retrying with capped backoff for as long as it takes, so the changes made during an outage arrive
 * as ordinary events and nothing already applied is re-done. Only when that revision has been
 * compacted does it take a fresh snapshot, which is diffed against the routing table. Meanwhile the
 * table is never cleared: the worker keeps serving what it last knew.
 */
class PrefixSync {
  /** Identifies the current watch; events and errors of an older one are ignored. */
  private generation = 0;
  private watcher: KvWatcher | null = null;
  private closed = false;
  /** The last revision whose changes under the prefix have been received. */
  private revision = 0;
  private recovering = false;
  private rerun = false;
  private rerunCompacted = false;

  constructor(
    private readonly kv: KvStore,
    private readonly prefix: string,
    private readonly onSnapshot: (entries: KvEntry[]) => Promise<void>,
    private readonly onEvents: (events: KvEvent[]) => void,
    private readonly logger: Logger,
  ) {}

  /** First sync; throws if the store does not answer (the worker then fails to start). */
  async start(): Promise<void> {
    await this.snapshot();
    await this.watchFromRevision();
  }

  /** The revision this prefix is known up to. */
  get lastRevision(): number {
    return this.revision;
  }

  /** True while a watch is established. */
  get watching(): boolean {
    return this.watcher !== null;
  }

  /** Attempts to watch again that failed (the store did not answer). */
  failures = 0;

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
    await this.onSnapshot(entries);
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
        this.onEvents(events);
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

  private async recover(compacted: boolean): Promise<void> {
    if (this.recovering) {
      // The watch just opened by the running recovery ended already: it goes round once more.
      this.rerun = true;
      this.rerunCompacted ||= compacted;
      return;
    }
    this.recovering = true;
    let resnapshot = compacted;
    let delay = BACKOFF_MIN_MS;
    try {
      while (!this.closed) {
        try {
          if (resnapshot) await this.snapshot();
          resnapshot = false;
          await this.watchFromRevision();
          if (!this.rerun) return;
          this.rerun = false;
          resnapshot = this.rerunCompacted;
          this.rerunCompacted = false;
        } catch (err) {
          this.failures++;
          if ((err as KvWatchError)?.reason === 'compacted') resnapshot = true;
          this.logger.warn(
            { prefix: this.prefix, err, retryInMs: Math.round(delay), revision: this.revision },
            'store unreachable; serving what is known and retrying',
          );
          await sleep(delay);
          delay = nextBackoff(delay);
        }
      }
    } finally {
      this.recovering = false;
    }
  }
}

export interface RouteSourceOptions {
  kv: KvStore;
  authority: string;
  leaseTtlMs: number;
  registration: () => WorkerRegistration;
  table: RoutingTable;
  verifier: SetupTokenVerifier;
  logger: Logger;
}

export class RouteSource {
  private lease: KvLease | null = null;
  private closed = false;
  private readonly circuitsPrefix: string;
  private readonly circuits: PrefixSync;
  private readonly keys: PrefixSync;
  /** Serializes table changes in revision order. */
  private chain: Promise<void> = Promise.resolve();
  /** Readiness marks that should exist in KV, and those not written yet. */
  private readonly marks = new Map<string, RouteReadiness>();
  private readonly dirty = new Set<string>();
  private publishing: Promise<void> | null = null;
  private keysSeq = 0;

  constructor(private readonly opts: RouteSourceOptions) {
    const { kv, authority, logger } = opts;
    this.circuitsPrefix = kvKeys.circuits(authority);
    this.circuits = new PrefixSync(
      kv,
      this.circuitsPrefix,
      (entries) => this.enqueue(() => this.applySnapshot(entries)),
      (events) => void this.enqueue(() => this.applyEvents(events)),
      logger,
    );
    const keysKey = kvKeys.setupTokenKeys();
    this.keys = new PrefixSync(
      kv,
      keysKey,
      async (entries) => this.applyKeys(entries.find((e) => e.key === keysKey)?.value ?? null),
      (events) => {
        for (const e of events) if (e.key === keysKey) void this.applyKeys(e.value);
      },
      logger,
    );
  }

  async start(): Promise<void> {
    await this.register();
    await this.keys.start();
    await this.circuits.start();
  }

  /** How far the circuits watch is: its revision, whether it is established, failed attempts. */
  syncStatus(): { revision: number; watching: boolean; failures: number } {
    const c = this.circuits;
    return { revision: c.lastRevision, watching: c.watching, failures: c.failures };
  }

  /** Stops watching and revokes the lease (which drops the registration and readiness marks). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.circuits.close(), this.keys.close()]);
    await this.chain.catch(() => {});
    const lease = this.lease;
    this.lease = null;
    await lease?.revoke().catch((err: unknown) => this.opts.logger.warn({ err }, 'lease revoke failed'));
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch((err: unknown) => this.opts.logger.error({ err }, 'route change failed'));
    return run;
  }

  // ------------------------------------------------------------------ registration and lease

  private async register(): Promise<void> {
    const { kv, leaseTtlMs, authority } = this.opts;
    const lease = await kv.grantLease(leaseTtlMs);
    try {
      const registration: WorkerRegistration = { ...this.opts.registration(), leaseTtlMs: lease.ttlMs };
      await kv.put(kvKeys.registration(authority), JSON.stringify(registration), { lease: lease.id });
    } catch (err) {
      await lease.revoke().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await lease.revoke().catch(() => {});
      return;
    }
    this.lease = lease;
    lease.lost.then(() => this.onLeaseLost(lease));
    for (const id of this.marks.keys()) this.dirty.add(id);
    this.publish();
  }

  private async onLeaseLost(lease: KvLease): Promise<void> {
    if (this.closed || this.lease !== lease) return;
    this.lease = null;
    this.opts.logger.warn({ authority: this.opts.authority }, 'lease lost; registering again');
    let delay = BACKOFF_MIN_MS;
    while (!this.closed) {
      try {
        await this.register();
        this.opts.logger.info({ authority: this.opts.authority }, 'registered again');
        return;
      } catch (err) {
        this.opts.logger.warn({ err, retryInMs: Math.round(delay) }, 're-registration failed');
        await sleep(delay);
        delay = nextBackoff(delay);
      }
    }
  }

  // ------------------------------------------------------------------ circuits

  private idOf(key: string): string {
    return key.slice(this.circuitsPrefix.length);
  }

  private async applySnapshot(entries: KvEntry[]): Promise<void> {
    const seen = new Set<string>();
    for (const e of entries) {
      const id = this.idOf(e.key);
      if (id === '' || id.includes('/')) continue;
      seen.add(id);
      await this.put(id, e.value);
    }
    for (const id of [...this.opts.table.ids()]) if (!seen.has(id)) this.remove(id);
    // Error marks of circuits that left while the watch was down.
    for (const id of [...this.marks.keys()]) if (!seen.has(id)) this.remove(id);
  }

  private async applyEvents(events: KvEvent[]): Promise<void> {
    for (const e of events) {
      const id = this.idOf(e.key);
      if (id === '' || id.includes('/')) continue;
      if (e.type === 'put') await this.put(id, e.value ?? '');
      else this.remove(id);
    }
  }

  private async put(id: string, raw: string): Promise<void> {
    try {
      const changed = await this.opts.table.apply(id, raw);
      if (changed || this.marks.get(id)?.state !== 'ready')
        this.mark(id, { state: 'ready', at: new Date().toISOString() });
    } catch (err) {
      const e =
        err instanceof AppProxyError
          ? err
          : new AppProxyError('AP_ERR_ROUTE_INVALID', undefined, undefined, { cause: err });
      this.opts.logger.warn({ circuitId: id, code: e.code, err: e }, 'circuit cannot be served');
      this.mark(id, { state: 'error', code: e.code, message: e.message, at: new Date().toISOString() });
    }
  }

  private remove(id: string): void {
    this.opts.table.remove(id);
    if (this.marks.has(id)) this.mark(id, null);
  }

  // ------------------------------------------------------------------ readiness

  private mark(id: string, r: RouteReadiness | null): void {
    if (r) this.marks.set(id, r);
    else this.marks.delete(id);
    this.dirty.add(id);
    this.publish();
  }

  /** Writes the current desired mark of every dirty id; one writer at a time, retried with backoff. */
  private publish(): void {
    if (this.publishing || this.closed) return;
    this.publishing = this.publishLoop().finally(() => {
      this.publishing = null;
      if (this.dirty.size > 0 && this.lease && !this.closed) this.publish();
    });
  }

  private async publishLoop(): Promise<void> {
    let delay = BACKOFF_MIN_MS;
    while (this.dirty.size > 0 && !this.closed) {
      const lease = this.lease;
      if (!lease) return; // register() marks everything dirty again and restarts publishing.
      const id = this.dirty.values().next().value!;
      this.dirty.delete(id);
      const mark = this.marks.get(id);
      const key = kvKeys.ready(this.opts.authority, id);
      try {
        if (mark) await this.opts.kv.put(key, JSON.stringify(mark), { lease: lease.id });
        else await this.opts.kv.delete(key);
        delay = BACKOFF_MIN_MS;
      } catch (err) {
        this.dirty.add(id); // rewrites whatever the mark is by then
        this.opts.logger.warn({ circuitId: id, err, retryInMs: Math.round(delay) }, 'readiness write failed');
        await sleep(delay);
        delay = nextBackoff(delay);
      }
    }
  }

  // ------------------------------------------------------------------ setup-token keys

  /**
   * Checks every key imports before handing the set to the verifier (which would otherwise hold a
   * rejected import until the next verify). Updates apply in order; a stale one is dropped.
   */
  private async applyKeys(raw: string | null): Promise<void> {
    const seq = ++this.keysSeq;
    if (raw === null) {
      this.opts.verifier.update({ keys: [] });
      return;
    }
    try {
      const set = JSON.parse(raw) as SetupTokenKeySet;
      if (!Array.isArray(set.keys)) throw new Error('keys is not an array');
      for (const k of set.keys) {
        if (typeof k?.kid !== 'string') throw new Error('a key has no kid');
        await importJWK(k as JWK, 'EdDSA');
      }
      if (seq === this.keysSeq) this.opts.verifier.update(set);
    } catch (err) {
      this.opts.logger.error({ err }, 'setup-token key set is malformed; keeping the previous keys');
    }
  }
}
