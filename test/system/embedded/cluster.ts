/**
 * Several managers and real workers in one process over shared stores, each component with its own
 * view of the KV store that a test can "kill -9": `KillableKv` wraps the shared store; `kill()`
 * makes every call fail, silences its watches and stops "keep-alives" — its leases expire one TTL
 * later, exactly as etcd expires the leases of a dead client. The stores themselves stay up.
 *
 * By default the stores are embedded (PGlite, in-process KV and counters); `openRealStores()` gives
 * real PostgreSQL + etcd + Redis when `test/support/infra/servers.ts` and the adapters exist.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { SetupTokenIssuer } from '../../../src/core/setup-token.ts';
import { createManager, type Manager, type ManagerOptions } from '../../../src/manager/index.ts';
import { EmbeddedCounterStore } from '../../../src/stores/embedded/counters.ts';
import { EmbeddedKvStore } from '../../../src/stores/embedded/kv.ts';
import { EtcdKvStore } from '../../../src/stores/etcd/kv.ts';
import { openPostgres } from '../../../src/stores/postgres/sql.ts';
import { openRedis } from '../../../src/stores/redis/counters.ts';
import type {
  CounterStore,
  KvCompare,
  KvLease,
  KvOp,
  KvStore,
  KvWatcher,
  KvWatchHandlers,
  SqlDatabase,
} from '../../../src/stores/types.ts';
import { createWorker, type Worker } from '../../../src/worker/index.ts';
import { FakeAgent } from '../../support/fake-agent.ts';
import type { AllServers } from '../../support/infra/servers.ts';
import { freshSql } from '../../support/sql.ts';

export const ADMIN_TOKEN = 'test-admin-token-distributed-0123456789';
export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A component's connection to the shared KV store, which the test can kill like its process. */
export class KillableKv implements KvStore {
  private dead = false;
  private readonly leases = new Set<KvLease>();
  private readonly watchers = new Set<KvWatcher>();

  constructor(
    private readonly inner: KvStore,
    /** Expires a lease of the inner store (the embedded test hook, or etcd's suspended keep-alive). */
    private readonly expire: (lease: KvLease) => void,
  ) {}

  private check(): void {
    if (this.dead) throw new Error('connection lost (process killed)');
  }

  get killed(): boolean {
    return this.dead;
  }

  /** The process died: nothing more goes out or comes in; leases expire one TTL later. */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    for (const w of this.watchers) void w.close().catch(() => {});
    this.watchers.clear();
    for (const l of this.leases) this.expire(l);
  }

  async get(key: string) {
    this.check();
    return this.inner.get(key);
  }
  async getPrefix(prefix: string) {
    this.check();
    return this.inner.getPrefix(prefix);
  }
  async put(key: string, value: string, opts?: { lease?: string | null }) {
    this.check();
    return this.inner.put(key, value, opts);
  }
  async delete(key: string) {
    this.check();
    return this.inner.delete(key);
  }
  async txn(c: KvCompare[], s: KvOp[], f?: KvOp[]) {
    this.check();
    return this.inner.txn(c, s, f);
  }
  async watch(prefix: string, after: number, h: KvWatchHandlers): Promise<KvWatcher> {
    this.check();
    const w = await this.inner.watch(prefix, after, {
      onEvents: (e) => {
        if (!this.dead) h.onEvents(e);
      },
      onError: (e) => {
        if (!this.dead) h.onError(e);
      },
    });
    this.watchers.add(w);
    return {
      close: async () => {
        this.watchers.delete(w);
        await w.close();
      },
    };
  }
  async grantLease(ttlMs: number): Promise<KvLease> {
    this.check();
    const l = await this.inner.grantLease(ttlMs);
    this.leases.add(l);
    void l.lost.then(() => this.leases.delete(l));
    return {
      id: l.id,
      ttlMs: l.ttlMs,
      lost: l.lost,
      revoke: async () => {
        this.check();
        await l.revoke();
      },
    };
  }
  async close(): Promise<void> {
    // The shared store outlives its clients.
  }
}

export interface Stores {
  sql: SqlDatabase;
  kv: KvStore;
  counters: CounterStore;
  /** A new killable connection to the KV store. */
  connect(): KillableKv;
  /** Simulates a KV outage (embedded only). */
  embeddedKv?: EmbeddedKvStore;
  close(): Promise<void>;
}

export async function embeddedStores(): Promise<Stores> {
  const sql = await freshSql();
  const kv = new EmbeddedKvStore();
  const counters = new EmbeddedCounterStore();
  return {
    sql,
    kv,
    counters,
    embeddedKv: kv,
    connect: () =>
      new KillableKv(kv, (l) => {
        setTimeout(() => kv.expireLease(l.id), l.ttlMs).unref();
      }),
    async close() {
      await kv.close();
      await counters.close();
      await sql.close();
    },
  };
}

/**
 * Real PostgreSQL (a fresh database), etcd and Redis. Each `connect()` is its own etcd client, so
 * its leases are its own; killing it suspends their keep-alives and etcd expires them after the TTL.
 */
export async function realStores(servers: AllServers): Promise<Stores> {
  const sql = await openPostgres({ url: await servers.postgres.createDatabase('dist') });
  await sql.migrate();
  const kv = new EtcdKvStore({ endpoints: servers.etcd.endpoints });
  // Start from an empty namespace: scenarios of earlier suites must not leak in.
  await kv.txn([], [{ type: 'deletePrefix', prefix: '/appproxy/' }]);
  const counters = await openRedis({ url: servers.redis.url });
  const clients: EtcdKvStore[] = [];
  return {
    sql,
    kv,
    counters,
    connect: () => {
      const client = new EtcdKvStore({ endpoints: servers.etcd.endpoints });
      clients.push(client);
      return new KillableKv(client, (l) => client.suspendKeepAlive(l.id));
    },
    async close() {
      for (const c of clients) await c.close().catch(() => {});
      await kv.close();
      await counters.close();
      await sql.close();
    },
  };
}

export interface InProcessClusterOptions {
  managers?: number;
  leaderTtlMs?: number;
  workerGraceMs?: number;
  manager?: Partial<ManagerOptions>;
}

export interface ManagerNode {
  manager: Manager;
  kv: KillableKv;
  registry: Registry;
}

/** N managers over the same stores, each with its own KV connection, and one shared fake agent. */
export class InProcessCluster {
  readonly nodes: ManagerNode[] = [];
  readonly workers = new Map<string, { worker: Worker; kv: KillableKv }>();
  readonly agent = new FakeAgent();
  issuer!: SetupTokenIssuer;
  readonly cookieSecret = randomBytes(32);
  private n = 0;

  constructor(
    readonly stores: Stores,
    readonly opts: InProcessClusterOptions = {},
  ) {}

  static async create(stores: Stores, opts: InProcessClusterOptions = {}): Promise<InProcessCluster> {
    const c = new InProcessCluster(stores, opts);
    c.issuer = (await SetupTokenIssuer.generate()).issuer;
    for (let i = 0; i < (opts.managers ?? 2); i++) await c.addManager();
    return c;
  }

  async addManager(): Promise<ManagerNode> {
    const kv = this.stores.connect();
    const registry = new Registry();
    const manager = await createManager({
      stores: { sql: this.stores.sql, kv, counters: this.stores.counters },
      agent: this.agent,
      setupTokenIssuer: this.issuer,
      adminToken: ADMIN_TOKEN,
      logger,
      metrics: registry,
      routeReadyTimeoutMs: 5000,
      circuitCloseTimeoutMs: 2000,
      managerId: `m${++this.n}`,
      leaderTtlMs: this.opts.leaderTtlMs ?? 2000,
      ...(this.opts.workerGraceMs !== undefined ? { workerGraceMs: this.opts.workerGraceMs } : {}),
      healthIntervalMs: 200,
      reconcileIntervalMs: 60_000,
      ...this.opts.manager,
    });
    await manager.start();
    const node = { manager, kv, registry };
    this.nodes.push(node);
    return node;
  }

  leaders(): ManagerNode[] {
    return this.nodes.filter((n) => !n.kv.killed && n.manager.isLeader());
  }

  /** kill -9 of a manager: its KV connection dies (leases expire after the TTL), then its process stops. */
  async killManager(node: ManagerNode): Promise<void> {
    node.kv.kill();
    await node.manager.close().catch(() => {});
  }

  async startWorker(authority: string, portRange: [number, number], leaseTtlMs = 2000): Promise<Worker> {
    const kv = this.stores.connect();
    const worker = createWorker({
      authority,
      frontendMode: 'port',
      protocols: ['http'],
      bindHost: '127.0.0.1',
      portRange,
      publicScheme: 'http',
      publicHost: '127.0.0.1',
      kv,
      counters: this.stores.counters,
      cookieSecret: this.cookieSecret,
      leaseTtlMs,
      activityFlushMs: 200,
      logger,
      metrics: new Registry(),
    });
    await worker.start();
    this.workers.set(authority, { worker, kv });
    return worker;
  }

  /** kill -9 of a worker: its KV connection dies first (so it cannot revoke its lease), then its listeners go. */
  async killWorker(authority: string): Promise<void> {
    const w = this.workers.get(authority);
    if (!w) return;
    w.kv.kill();
    await w.worker.close().catch(() => {});
    this.workers.delete(authority);
  }

  /** Requests alternate between the live managers (like a load balancer in front of them). */
  private turn = 0;
  async api(
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; body: any; text: string }> {
    const live = this.nodes.filter((n) => !n.kv.killed);
    const node = live[this.turn++ % live.length]!;
    return inject(node.manager, method, url, body);
  }

  async close(): Promise<void> {
    for (const n of this.nodes) if (!n.kv.killed) await n.manager.close().catch(() => {});
    for (const { worker } of this.workers.values()) await worker.close().catch(() => {});
    await this.stores.close();
  }
}

export async function inject(
  manager: Manager,
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; body: any; text: string }> {
  const res = await manager.app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    ...(body !== undefined ? { payload: body as object } : {}),
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, body: parsed, text: res.body };
}

/** A random 20-port window below Linux's ephemeral range. */
export function portWindow(size = 20): [number, number] {
  const base = 21000 + Math.floor(Math.random() * (32000 - 21000 - size));
  return [base, base + size - 1];
}
