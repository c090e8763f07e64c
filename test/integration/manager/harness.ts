/**
 * A manager on real embedded stores (PGlite, in-process KV and counters) with fake workers that
 * follow the KV protocol and a fake agent, driven through `app.inject`.
 */
import assert from 'node:assert/strict';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import type { WorkerRegistration } from '../../../src/contracts/kv-layout.ts';
import type { Session } from '../../../src/contracts/records.ts';
import { SetupTokenIssuer } from '../../../src/core/setup-token.ts';
import { createManager, type Manager, type ManagerOptions } from '../../../src/manager/index.ts';
import { hashToken } from '../../../src/manager/services/auth.ts';
import { EmbeddedCounterStore } from '../../../src/stores/embedded/counters.ts';
import { EmbeddedKvStore } from '../../../src/stores/embedded/kv.ts';
import type { SqlDatabase } from '../../../src/stores/types.ts';
import { FakeAgent } from '../../support/fake-agent.ts';
import { until } from '../../support/poll.ts';
import { freshSql } from '../../support/sql.ts';
import { FakeWorker } from './fake-worker.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface ManagerHarnessOptions {
  workers?: (Partial<WorkerRegistration> & { authority: string })[];
  agent?: FakeAgent;
  sql?: SqlDatabase;
  kv?: EmbeddedKvStore;
  counters?: EmbeddedCounterStore;
  issuer?: SetupTokenIssuer;
  manager?: Partial<
    Pick<
      ManagerOptions,
      | 'routeReadyTimeoutMs'
      | 'circuitCloseTimeoutMs'
      | 'setupTokenTtlMs'
      | 'reconcileIntervalMs'
      | 'workerGraceMs'
      | 'healthIntervalMs'
      | 'leaderTtlMs'
      | 'tcp'
      | 'idlePolicy'
      | 'auth'
      | 'endpoints'
      | 'consoleDir'
    >
  >;
  /** Default: silent (or TEST_LOG_LEVEL). */
  logger?: Logger;
  /** Do not call `manager.start()`. */
  noStart?: boolean;
}

export interface InjectResult {
  status: number;
  headers: Record<string, unknown>;
  body: any;
  text: string;
}

export class ManagerHarness {
  private constructor(
    readonly sql: SqlDatabase,
    readonly kv: EmbeddedKvStore,
    readonly counters: EmbeddedCounterStore,
    readonly agent: FakeAgent,
    readonly workers: FakeWorker[],
    readonly issuer: SetupTokenIssuer,
    readonly registry: Registry,
    readonly manager: Manager,
  ) {}

  static async create(opts: ManagerHarnessOptions = {}): Promise<ManagerHarness> {
    const sql = opts.sql ?? (await freshSql());
    const kv = opts.kv ?? new EmbeddedKvStore();
    const counters = opts.counters ?? new EmbeddedCounterStore();
    const agent = opts.agent ?? new FakeAgent();
    const issuer = opts.issuer ?? (await SetupTokenIssuer.generate()).issuer;
    const workers = (opts.workers ?? [{ authority: 'w1' }]).map((w) => new FakeWorker(kv, w));
    for (const w of workers) await w.start();
    const registry = new Registry();
    const manager = await createManager({
      stores: { sql, kv, counters },
      agent,
      setupTokenIssuer: issuer,
      adminToken: ADMIN_TOKEN,
      logger: opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      metrics: registry,
      routeReadyTimeoutMs: 2000,
      circuitCloseTimeoutMs: 1000,
      // `/` is the plain page whether or not this checkout has built the console (tests that
      // serve the console pass a folder of their own).
      consoleDir: null,
      ...opts.manager,
    });
    if (!opts.noStart) await manager.start();
    return new ManagerHarness(sql, kv, counters, agent, workers, issuer, registry, manager);
  }

  async api(
    method: string,
    url: string,
    body?: unknown,
    token: string | null = ADMIN_TOKEN,
    extraHeaders: Record<string, string> = {},
  ): Promise<InjectResult> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const res = await this.manager.app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, headers: res.headers, body: parsed, text: res.body };
  }

  /** Creates a session and waits until the fake agent's RUNNING report has been applied. */
  async runningSession(template = 'web'): Promise<Session> {
    const res = await this.api('POST', '/v1/sessions', { template });
    assert.equal(res.status, 201, res.text);
    return this.sessionIn(res.body.id as string, 'RUNNING');
  }

  /** Waits until the session is in `state` (as the API answers it) and resolves with it. */
  async sessionIn(id: string, state: Session['state'], timeoutMs = 5000): Promise<Session> {
    return until(
      async () => {
        const s = await this.api('GET', `/v1/sessions/${id}`);
        return s.body.state === state ? (s.body as Session) : undefined;
      },
      `session ${id} to be ${state}`,
      { timeoutMs },
    );
  }

  /** Adds a user (role `user`) with an API token; returns the token. */
  async addUser(name: string): Promise<string> {
    const token = `token-of-${name}-0123456789`;
    await this.sql.query(`INSERT INTO users (id, name, role) VALUES ($1, $1, 'user')`, [name]);
    await this.sql.query(`INSERT INTO api_tokens (id, user_id, token_hash, name) VALUES ($1, $2, $3, $2)`, [
      `t-${name}`,
      name,
      hashToken(token),
    ]);
    return token;
  }

  async circuitState(id: string): Promise<string | undefined> {
    const { rows } = await this.sql.query<{ state: string }>('SELECT state FROM circuits WHERE id = $1', [
      id,
    ]);
    return rows[0]?.state;
  }

  /** Stops the manager only (stores and workers stay, as for a manager restart). */
  async stopManager(): Promise<void> {
    await this.manager.close();
  }

  async close(opts: { keepStores?: boolean } = {}): Promise<void> {
    await this.manager.close();
    for (const w of this.workers) await w.stop().catch(() => {});
    if (!opts.keepStores) {
      await this.kv.close();
      await this.counters.close();
      await this.sql.close();
    }
  }
}

/** Every error answer must be the envelope with the request id of the response header. */
export function assertEnvelope(res: InjectResult, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.code, code, res.text);
  assert.equal(typeof res.body.message, 'string');
  assert.ok(res.body.message.length > 0);
  assert.equal(typeof res.body.requestId, 'string');
  assert.equal(res.headers['x-request-id'], res.body.requestId);
  const allowed = new Set(['code', 'message', 'detail', 'requestId']);
  for (const k of Object.keys(res.body)) assert.ok(allowed.has(k), `unexpected envelope field ${k}`);
}
