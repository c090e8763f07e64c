/**
 * The production KV adapter: etcd v3 through the `etcd3` client (gRPC). Revisions are etcd's own.
 *
 * Watches use one raw gRPC watch stream each (not etcd3's `Watcher`, whose resume point jumps to
 * the create response's header revision before the backlog has arrived). The adapter remembers the
 * next revision it wants (the last delivered event's revision + 1),
 * re-creates the stream from there after any disconnect (with backoff, for as long as it takes),
 * and drops anything at or below what it already delivered — so events are neither lost nor
 * repeated across reconnects. A start revision that etcd has compacted ends the watch with
 * `KvWatchError('compacted', compactRevision)`; closing the store ends it with 'closed'.
 *
 * Leases: etcd TTLs are whole seconds, so `grantLease(ttlMs)` asks for ceil(ttlMs / 1000) s (at
 * least 1) and etcd may raise it further to its minimum (1.5 × election timeout, rounded up: 2 s
 * with default settings); `lease.ttlMs` is the TTL etcd granted. Keep-alives go out every ttl/3
 * on a keep-alive stream of the lease. `lost` resolves when etcd answers a keep-alive with TTL 0
 * (expired or revoked elsewhere), on `revoke()`, on `close()`, or when no keep-alive has been
 * answered for a whole TTL (counted from when the last answered one was sent: by then etcd has
 * expired the lease, or is about to). `close()` stops keep-alives without revoking: the keys of
 * the store's leases disappear when their TTL runs out.
 */
import type { IPolicy } from 'cockatiel';
import {
  type CircuitBreakerPolicy,
  ConsecutiveBreaker,
  ConstantBackoff,
  circuitBreaker,
  handleWhen,
  isBrokenCircuitError,
  retry,
} from 'cockatiel';
import type { Etcd3 as Etcd3Client, ICompare, IKeyValue, IOptions, IRequestOp } from 'etcd3';
import etcd3 from 'etcd3';
import {
  type KvCompare,
  type KvEntry,
  type KvLease,
  type KvOp,
  type KvStore,
  KvWatchError,
  type KvWatcher,
  type KvWatchHandlers,
} from '../types.ts';
import { EtcdLease } from './lease.ts';
import { type EtcdHandle, prefixRange } from './streams.ts';
import { EtcdWatch } from './watch.ts';

const { Etcd3, CompareResult, CompareTarget, isRecoverableError, GRPCUnavailableError } = etcd3;

export interface EtcdConfig {
  /** Client URLs, e.g. `["https://etcd-1:2379", "https://etcd-2:2379"]` (all http or all https). */
  endpoints: string[];
  /** TLS: PEM contents (not paths) of the CA and, for client certificates, key and chain. */
  tls?: { ca: string | Buffer; key?: string | Buffer; cert?: string | Buffer };
  /** etcd authentication (RBAC). The password is never logged. */
  username?: string;
  password?: string;
  /** Deadline of a unary call (default 5 000 ms). */
  requestTimeoutMs?: number;
  /**
   * How long a failing endpoint is skipped before it is tried again (default 250 ms). Short: with
   * one endpoint this is how long every call fails fast after etcd came back.
   */
  endpointCooldownMs?: number;
  /**
   * Watch / keep-alive reconnect backoff: from 50 ms doubling up to this (default 250 ms), so that a
   * returning etcd is watched again within a fraction of a second (the "terminate → dark" bound).
   */
  maxReconnectDelayMs?: number;
}

function entry(kv: IKeyValue): KvEntry {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: kv.lease && kv.lease !== '0' ? String(kv.lease) : null,
  };
}

const RESULT = {
  '=': CompareResult.Equal,
  '!=': CompareResult.NotEqual,
  '<': CompareResult.Less,
  '>': CompareResult.Greater,
} as const;

function compare(c: KvCompare): ICompare {
  const key = Buffer.from(c.key);
  const result = RESULT[c.op];
  switch (c.target) {
    case 'value':
      // etcd itself fails a value compare on a key that does not exist (the contract's rule).
      return { key, result, target: CompareTarget.Value, value: Buffer.from(c.value) };
    case 'version':
      return { key, result, target: CompareTarget.Version, version: c.value };
    case 'createRevision':
      return { key, result, target: CompareTarget.Create, create_revision: c.value };
    case 'modRevision':
      return { key, result, target: CompareTarget.Mod, mod_revision: c.value };
  }
}

function op(o: KvOp): IRequestOp {
  switch (o.type) {
    case 'put':
      return {
        request_put: {
          key: Buffer.from(o.key),
          value: Buffer.from(o.value),
          ...(o.lease ? { lease: o.lease } : {}),
        },
      };
    case 'delete':
      return { request_delete_range: { key: Buffer.from(o.key) } };
    case 'deletePrefix':
      return { request_delete_range: prefixRange(o.prefix) };
  }
}

/** Retries only failures where the request never left this process (safe for writes too). */
function notSent(err: unknown): boolean {
  if (isBrokenCircuitError(err)) return true;
  if (!(err instanceof GRPCUnavailableError)) return false;
  return /No connection established|ECONNREFUSED|connect ECONN|Name resolution|failed to connect/i.test(
    (err as Error).message,
  );
}

export class EtcdKvStore implements KvStore, EtcdHandle {
  /** The underlying etcd3 client (tests use it for compaction; do not close it directly). */
  readonly client: Etcd3Client;
  private closed = false;
  private readonly watches = new Set<EtcdWatch>();
  private readonly leases = new Map<string, EtcdLease>();
  readonly maxReconnectDelayMs: number;

  constructor(config: EtcdConfig) {
    if (config.endpoints.length === 0) throw new Error('etcd: no endpoints configured');
    const timeout = config.requestTimeoutMs ?? 5_000;
    this.maxReconnectDelayMs = config.maxReconnectDelayMs ?? 250;
    const cooldown = config.endpointCooldownMs ?? 250;
    const options: IOptions = {
      hosts: config.endpoints,
      dialTimeout: timeout,
      // Unary calls get a deadline; watch and keep-alive streams live as long as they need.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
      grpcOptions: {
        // Notice a silently dead connection (etcd's default min ping interval is 5 s).
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
      },
      faultHandling: {
        host: (): CircuitBreakerPolicy =>
          circuitBreaker(handleWhen(isRecoverableError), {
            halfOpenAfter: cooldown,
            breaker: new ConsecutiveBreaker(3),
          }),
        // Tries the next endpoint only when nothing was sent (a retried CAS could report a false
        // "failed" for a write that did apply).
        global: retry(handleWhen(notSent), {
          maxAttempts: Math.max(1, config.endpoints.length),
          backoff: new ConstantBackoff(50),
        }) as unknown as IPolicy,
      },
    };
    if (config.tls) {
      options.credentials = {
        rootCertificate: Buffer.from(config.tls.ca),
        ...(config.tls.key ? { privateKey: Buffer.from(config.tls.key) } : {}),
        ...(config.tls.cert ? { certChain: Buffer.from(config.tls.cert) } : {}),
      };
    }
    if (config.username !== undefined)
      options.auth = { username: config.username, password: config.password ?? '' };
    this.client = new Etcd3(options);
  }

  /** @internal */
  assertOpen(): void {
    if (this.closed) throw new Error('kv store is closed');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async get(key: string): Promise<KvEntry | undefined> {
    this.assertOpen();
    const res = await this.client.kv.range({ key: Buffer.from(key) });
    const kv = res.kvs[0];
    return kv ? entry(kv) : undefined;
  }

  async getPrefix(prefix: string): Promise<{ entries: KvEntry[]; revision: number }> {
    this.assertOpen();
    const { key, range_end } = prefixRange(prefix);
    const entries: KvEntry[] = [];
    let revision = 0;
    let from = key;
    // Pages of 1000 at one pinned revision, so a large prefix never exceeds gRPC message limits.
    for (;;) {
      const res = await this.client.kv.range({
        key: from,
        range_end,
        limit: 1000,
        ...(revision ? { revision } : {}),
      });
      if (!revision) revision = Number(res.header.revision);
      for (const kv of res.kvs) entries.push(entry(kv));
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || !last) break;
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return { entries, revision };
  }

  async put(key: string, value: string, opts?: { lease?: string | null }): Promise<number> {
    this.assertOpen();
    const res = await this.client.kv.put({
      key: Buffer.from(key),
      value: Buffer.from(value),
      ...(opts?.lease ? { lease: opts.lease } : {}),
    });
    return Number(res.header.revision);
  }

  async delete(key: string): Promise<number> {
    this.assertOpen();
    const res = await this.client.kv.deleteRange({ key: Buffer.from(key) });
    return Number(res.header.revision);
  }

  async txn(
    compares: KvCompare[],
    success: KvOp[],
    failure: KvOp[] = [],
  ): Promise<{ succeeded: boolean; revision: number }> {
    this.assertOpen();
    const res = await this.client.kv.txn({
      compare: compares.map(compare),
      success: success.map(op),
      failure: failure.map(op),
    });
    return { succeeded: res.succeeded, revision: Number(res.header.revision) };
  }

  async watch(prefix: string, afterRevision: number, handlers: KvWatchHandlers): Promise<KvWatcher> {
    this.assertOpen();
    const w = new EtcdWatch(this, prefix, afterRevision, handlers);
    this.watches.add(w);
    try {
      await w.connect(true);
    } catch (err) {
      this.watches.delete(w);
      await w.close();
      throw err;
    }
    return {
      close: async () => {
        this.watches.delete(w);
        await w.close();
      },
    };
  }

  async grantLease(ttlMs: number): Promise<KvLease> {
    this.assertOpen();
    const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
    const res = await this.client.leaseClient.leaseGrant({ TTL: seconds });
    if (res.error) throw new Error(`etcd lease grant failed: ${res.error}`);
    const lease = new EtcdLease(this, String(res.ID), Number(res.TTL) * 1000);
    this.leases.set(lease.id, lease);
    void lease.lost.then(() => this.leases.delete(lease.id));
    lease.start();
    return lease;
  }

  /**
   * Sends a keep-alive for the lease now instead of at the next tick; when etcd has dropped the
   * lease (expired or revoked elsewhere), `lost` resolves as soon as the answer arrives.
   */
  keepAliveNow(leaseId: string): void {
    this.leases.get(leaseId)?.fire();
  }

  /** Test hook: stops sending keep-alives for a lease, as if its holder hung. */
  suspendKeepAlive(leaseId: string): void {
    this.leases.get(leaseId)?.suspend();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const watches = [...this.watches];
    this.watches.clear();
    for (const w of watches) w.fail(new KvWatchError('closed'));
    for (const l of [...this.leases.values()]) l.release();
    this.leases.clear();
    this.client.close();
  }
}
