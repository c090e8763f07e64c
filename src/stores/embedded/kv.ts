/**
 * In-process KV store with etcd semantics (revisions, prefix snapshots, watch from a revision,
 * leases, transactions). It is the embedded default's stand-in for etcd in a single process;
 * production runs real etcd. History is kept in a bounded ring so that watches can resume from
 * a recent revision; older starts get `compacted`, exactly as etcd answers after compaction.
 */
import { randomUUID } from 'node:crypto';
import {
  type KvCompare,
  type KvEntry,
  type KvEvent,
  type KvLease,
  type KvOp,
  type KvStore,
  KvWatchError,
  type KvWatcher,
  type KvWatchHandlers,
} from '../types.ts';

interface LeaseState {
  id: string;
  ttlMs: number;
  keys: Set<string>;
  resolveLost: () => void;
}

interface WatchState {
  prefix: string;
  handlers: KvWatchHandlers;
  closed: boolean;
}

export interface EmbeddedKvOptions {
  /** How many past events are kept for watches that resume from an older revision. */
  historySize?: number;
}

export class EmbeddedKvStore implements KvStore {
  private readonly data = new Map<string, KvEntry>();
  /**
   * The keys in byte order, so a prefix read is a binary search plus the matching keys (etcd's
   * range read) rather than a scan of every key: start-service reads one readiness key by prefix
   * while tens of thousands of circuits and marks are stored.
   */
  private readonly sortedKeys: string[] = [];
  private revision = 0;
  private readonly history: KvEvent[] = [];
  private readonly historySize: number;
  private compactedRevision = 0;
  private readonly leases = new Map<string, LeaseState>();
  private readonly watches = new Set<WatchState>();
  private closed = false;
  private unavailable = false;

  constructor(opts: EmbeddedKvOptions = {}) {
    this.historySize = opts.historySize ?? 100_000;
  }

  async get(key: string): Promise<KvEntry | undefined> {
    this.assertOpen();
    const e = this.data.get(key);
    return e ? { ...e } : undefined;
  }

  async getPrefix(prefix: string): Promise<{ entries: KvEntry[]; revision: number }> {
    this.assertOpen();
    const entries: KvEntry[] = [];
    const keys = this.sortedKeys;
    for (let i = lowerBound(keys, prefix); i < keys.length && keys[i]!.startsWith(prefix); i++) {
      entries.push({ ...this.data.get(keys[i]!)! });
    }
    return { entries, revision: this.revision };
  }

  async put(key: string, value: string, opts?: { lease?: string | null }): Promise<number> {
    this.assertOpen();
    const res = await this.txn([], [{ type: 'put', key, value, lease: opts?.lease ?? null }]);
    return res.revision;
  }

  async delete(key: string): Promise<number> {
    this.assertOpen();
    const res = await this.txn([], [{ type: 'delete', key }]);
    return res.revision;
  }

  async txn(
    compares: KvCompare[],
    success: KvOp[],
    failure: KvOp[] = [],
  ): Promise<{ succeeded: boolean; revision: number }> {
    this.assertOpen();
    const succeeded = compares.every((c) => this.compare(c));
    const ops = succeeded ? success : failure;
    for (const op of ops)
      if (op.type === 'put' && op.lease && !this.leases.has(op.lease))
        throw new Error(`lease ${op.lease} not found`);
    this.apply(ops);
    return { succeeded, revision: this.revision };
  }

  async watch(prefix: string, afterRevision: number, handlers: KvWatchHandlers): Promise<KvWatcher> {
    this.assertOpen();
    const w: WatchState = { prefix, handlers, closed: false };
    if (afterRevision < this.compactedRevision) {
      const compacted = this.compactedRevision;
      queueMicrotask(() => handlers.onError(new KvWatchError('compacted', compacted)));
      return { close: async () => {} };
    }
    const backlog = this.history.filter((e) => e.revision > afterRevision && e.key.startsWith(prefix));
    this.watches.add(w);
    if (backlog.length > 0) {
      // Deliver the backlog asynchronously, before any later change (those are queued after it).
      queueMicrotask(() => {
        if (!w.closed) handlers.onEvents(backlog);
      });
    }
    return {
      close: async () => {
        w.closed = true;
        this.watches.delete(w);
      },
    };
  }

  async grantLease(ttlMs: number): Promise<KvLease> {
    this.assertOpen();
    const id = randomUUID();
    let resolveLost!: () => void;
    const lost = new Promise<void>((r) => {
      resolveLost = r;
    });
    // In-process the holder cannot stop answering without the whole process stopping, so the
    // lease lives until revoked (or expired by the test hook below).
    const state: LeaseState = { id, ttlMs, keys: new Set(), resolveLost };
    this.leases.set(id, state);
    return {
      id,
      ttlMs,
      lost,
      revoke: async () => {
        this.expireLease(id);
      },
    };
  }

  /** Test hook: behaves as if the holder stopped keeping the lease alive and its TTL ran out. */
  expireLease(id: string): void {
    const l = this.leases.get(id);
    if (!l) return;
    this.leases.delete(id);
    const ops: KvOp[] = [...l.keys].map((key) => ({ type: 'delete', key }));
    if (!this.closed) this.apply(ops);
    l.resolveLost();
  }

  /** Test hook: drops history at or below `revision`, as etcd compaction does. */
  compact(revision: number): void {
    this.compactedRevision = Math.max(this.compactedRevision, revision);
    while (this.history.length > 0 && this.history[0]!.revision <= revision) this.history.shift();
  }

  /**
   * Test hook: an outage (etcd stopped and restarted with its data). While on, every call rejects
   * and every open watch ends with `unavailable`; leases are kept (etcd restores them with a fresh
   * TTL when it comes back) and so is the data. Off: the store answers again.
   */
  setUnavailable(on: boolean): void {
    this.unavailable = on;
    if (!on) return;
    const watches = [...this.watches];
    this.watches.clear();
    for (const w of watches) {
      w.closed = true;
      queueMicrotask(() => w.handlers.onError(new KvWatchError('unavailable')));
    }
  }

  get currentRevision(): number {
    return this.revision;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.leases.values()) l.resolveLost();
    this.leases.clear();
    for (const w of this.watches) {
      w.closed = true;
      w.handlers.onError(new KvWatchError('closed'));
    }
    this.watches.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('kv store is closed');
    if (this.unavailable) throw new Error('kv store is unavailable (test outage)');
  }

  private compare(c: KvCompare): boolean {
    const e = this.data.get(c.key);
    if (c.target === 'value') {
      // etcd: a value compare on a key that does not exist is always false.
      if (!e) return false;
      return c.op === '=' ? e.value === c.value : e.value !== c.value;
    }
    const actual = e ? e[c.target] : 0;
    switch (c.op) {
      case '=':
        return actual === c.value;
      case '!=':
        return actual !== c.value;
      case '<':
        return actual < c.value;
      case '>':
        return actual > c.value;
    }
  }

  /** Applies ops as one revision (etcd gives a whole transaction one revision). */
  private apply(ops: KvOp[]): void {
    const events: KvEvent[] = [];
    const rev = this.revision + 1;
    const del = (key: string) => {
      const prev = this.data.get(key);
      if (!prev) return;
      this.data.delete(key);
      this.sortedKeys.splice(lowerBound(this.sortedKeys, key), 1);
      if (prev.lease) this.leases.get(prev.lease)?.keys.delete(key);
      events.push({ type: 'delete', key, value: null, revision: rev });
    };
    for (const op of ops) {
      if (op.type === 'put') {
        const prev = this.data.get(op.key);
        if (prev?.lease && prev.lease !== op.lease) this.leases.get(prev.lease)?.keys.delete(op.key);
        const lease = op.lease ?? null;
        if (!prev) this.sortedKeys.splice(lowerBound(this.sortedKeys, op.key), 0, op.key);
        this.data.set(op.key, {
          key: op.key,
          value: op.value,
          createRevision: prev ? prev.createRevision : rev,
          modRevision: rev,
          version: prev ? prev.version + 1 : 1,
          lease,
        });
        if (lease) this.leases.get(lease)?.keys.add(op.key);
        events.push({ type: 'put', key: op.key, value: op.value, revision: rev });
      } else if (op.type === 'delete') {
        del(op.key);
      } else {
        const keys = this.sortedKeys;
        const from = lowerBound(keys, op.prefix);
        let to = from;
        while (to < keys.length && keys[to]!.startsWith(op.prefix)) to++;
        for (const k of keys.slice(from, to)) del(k);
      }
    }
    if (events.length === 0) return;
    this.revision = rev;
    for (const e of events) this.history.push(e);
    if (this.history.length > this.historySize) {
      const drop = this.history.length - this.historySize;
      const dropped = this.history.splice(0, drop);
      this.compactedRevision = Math.max(this.compactedRevision, dropped[dropped.length - 1]!.revision);
    }
    for (const w of this.watches) {
      const mine = events.filter((e) => e.key.startsWith(w.prefix));
      if (mine.length === 0) continue;
      // Delivered asynchronously like a network watch, so callers never re-enter the store.
      queueMicrotask(() => {
        if (!w.closed) w.handlers.onEvents(mine);
      });
    }
  }
}

/** First index of `sorted` whose key is ≥ `key` (JavaScript string order, as etcd's byte order for ASCII keys). */
function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
