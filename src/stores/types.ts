/**
 * The three store roles. Each has an embedded in-process adapter (the default, so one command
 * runs everything) and a production adapter (PostgreSQL, etcd, Redis). Both pass the same
 * contract suite in `test/contract/suites/`.
 */

// ---------------------------------------------------------------- SQL role (PostgreSQL dialect)

export interface SqlResult<R> {
  rows: R[];
  rowCount: number;
}

export interface SqlExecutor {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<SqlResult<R>>;
}

export interface SqlDatabase extends SqlExecutor {
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Applies the numbered migrations that are not applied yet; returns the schema version. */
  migrate(): Promise<number>;
  close(): Promise<void>;
}

/** Thrown (or wrapped) by adapters when a unique constraint rejects a write (defined with the other errors). */
export { UniqueViolation } from '../contracts/errors.ts';

// ---------------------------------------------------------------- KV role (etcd semantics)

export interface KvEntry {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: string | null;
}

export interface KvEvent {
  type: 'put' | 'delete';
  key: string;
  /** The new value for `put`; null for `delete`. */
  value: string | null;
  /** Revision at which this change happened. */
  revision: number;
}

export type KvCompare =
  | {
      key: string;
      target: 'modRevision' | 'createRevision' | 'version';
      op: '=' | '<' | '>' | '!=';
      value: number;
    }
  | { key: string; target: 'value'; op: '=' | '!='; value: string };

export type KvOp =
  | { type: 'put'; key: string; value: string; lease?: string | null }
  | { type: 'delete'; key: string }
  | { type: 'deletePrefix'; prefix: string };

export interface KvWatcher {
  /** Stops the watch; no more events are delivered after it resolves. */
  close(): Promise<void>;
}

export interface KvWatchHandlers {
  /** Events of one revision or a batch of revisions, in revision order, never duplicated. */
  onEvents(events: KvEvent[]): void;
  /**
   * The watch cannot continue: `compacted` (the start revision is gone: take a new snapshot),
   * `closed` (the store was closed) or `unavailable` (the store went away or cancelled the watch:
   * watch again from the last revision received). The watcher is dead after this.
   */
  onError(err: KvWatchError): void;
}

export class KvWatchError extends Error {
  readonly reason: 'compacted' | 'closed' | 'unavailable';
  readonly compactRevision: number | undefined;
  constructor(reason: 'compacted' | 'closed' | 'unavailable', compactRevision?: number) {
    super(`watch ended: ${reason}`);
    this.name = 'KvWatchError';
    this.reason = reason;
    this.compactRevision = compactRevision;
  }
}

export interface KvLease {
  readonly id: string;
  readonly ttlMs: number;
  /** Resolves when the lease is lost (expired or revoked) — the holder must re-register. */
  readonly lost: Promise<void>;
  revoke(): Promise<void>;
}

export interface KvStore {
  get(key: string): Promise<KvEntry | undefined>;
  /** Every key under `prefix`, and the store revision the snapshot was read at. */
  getPrefix(prefix: string): Promise<{ entries: KvEntry[]; revision: number }>;
  put(key: string, value: string, opts?: { lease?: string | null }): Promise<number>;
  delete(key: string): Promise<number>;
  /** All compares true → `success` ops, else `failure` ops; atomically. */
  txn(
    compares: KvCompare[],
    success: KvOp[],
    failure?: KvOp[],
  ): Promise<{ succeeded: boolean; revision: number }>;
  /** Delivers every change under `prefix` with revision > `afterRevision`. */
  watch(prefix: string, afterRevision: number, handlers: KvWatchHandlers): Promise<KvWatcher>;
  /** Grants a lease kept alive by the adapter until revoked or until the store stops answering for ttlMs. */
  grantLease(ttlMs: number): Promise<KvLease>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- Counters role (Redis semantics)

export type CounterOp =
  | { type: 'incr'; key: string; by: number; ttlMs?: number }
  /** Keeps the larger of the stored and the given value (timestamps). */
  | { type: 'max'; key: string; value: number; ttlMs?: number }
  | { type: 'set'; key: string; value: string; ttlMs?: number };

export interface CounterStore {
  incr(key: string, by?: number, ttlMs?: number): Promise<number>;
  get(key: string): Promise<string | null>;
  mget(keys: string[]): Promise<(string | null)[]>;
  /** Keys matching `prefix` (for reading per-reporter keys); bounded use only. */
  keys(prefix: string): Promise<string[]>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets the key only if absent; true when this call set it (single-use marks). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Applies many ops in one round trip (pipelined in Redis). */
  batch(ops: CounterOp[]): Promise<void>;
  close(): Promise<void>;
}

export interface Stores {
  sql: SqlDatabase;
  kv: KvStore;
  counters: CounterStore;
}
