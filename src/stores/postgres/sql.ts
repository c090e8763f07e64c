/**
 * The production SQL adapter: PostgreSQL through a `pg.Pool`. Same dialect and migrations as the
 * embedded PGlite adapter.
 *
 * Errors: SQLSTATE 23505 becomes `UniqueViolation` (with the constraint name); other database
 * errors keep their SQLSTATE in `code`. Connection-level failures (refused, reset, terminated,
 * pool connect timeout) are thrown as `SqlConnectionError` whose `code` is never a SQLSTATE of a
 * "your query is wrong" class: a Node code such as `ECONNREFUSED`, or `08006`
 * (connection_failure) when the failure had no code or a 5-letter Node code (`EPIPE`) that could
 * be mistaken for one. Server-side shutdowns arrive with their own class-57 SQLSTATE (`57P01`
 * admin_shutdown, `57P03` cannot_connect_now). The manager's store guard maps all of these to 503.
 */
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { AppProxyError } from '../../contracts/errors.ts';
import { applyMigrations, LATEST_SCHEMA_VERSION } from '../sql/migrate.ts';
import { type SqlDatabase, type SqlExecutor, type SqlResult, UniqueViolation } from '../types.ts';

export interface PostgresConfig {
  /** `postgres://user:password@host:port/db?...`; the password may also come from PGPASSWORD. */
  url: string;
  /** Pool size (default 10). */
  poolSize?: number;
  /** Server-side `statement_timeout` in ms (default 30 000; 0 = none). */
  statementTimeoutMs?: number;
  /** How long a connection attempt may take (default 5 000 ms). */
  connectTimeoutMs?: number;
  /** Idle pooled connections are closed after this long (default 30 000 ms). */
  idleTimeoutMs?: number;
  /** TLS: `true` (verify against the system CAs), or node TLS options (ca, cert, key, rejectUnauthorized, servername). */
  ssl?: boolean | ConnectionOptions;
  /** `application_name` shown in pg_stat_activity (default "appproxy"). */
  applicationName?: string;
  /** Called with errors of idle pooled connections (server restarts); they never crash the process. */
  onIdleError?: (err: Error) => void;
}

/** Key of the session-level advisory lock held while migrating (a fixed, AppProxy-specific number). */
export const MIGRATION_LOCK_KEY = '5787213827756889';

/** The database could not be reached or the connection broke; retrying later may work. */
export class SqlConnectionError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SqlConnectionError';
    this.code = code;
  }
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
const CONNECTION_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|not queryable|Cannot use a pool after calling end|terminating connection|server closed the connection|ECONNRESET|ECONNREFUSED/i;

/** Errors with a SQLSTATE that the server sends itself (not network errors). */
function isServerError(err: unknown): err is pg.DatabaseError {
  return err instanceof pg.DatabaseError;
}

export function translatePgError(err: unknown): unknown {
  if (err instanceof UniqueViolation || err instanceof SqlConnectionError || err instanceof AppProxyError)
    return err;
  if (isServerError(err)) {
    if (err.code === '23505') return new UniqueViolation(err.constraint, { cause: err });
    return err;
  }
  const e = err as { code?: unknown; errno?: unknown; syscall?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return err;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const systemError = e.syscall !== undefined || (code !== undefined && /^E[A-Z]+$/.test(code));
  if (systemError || CONNECTION_MESSAGES.test(message)) {
    const safe = code && !SQLSTATE.test(code) ? code : '08006';
    return new SqlConnectionError(safe, `PostgreSQL connection failed: ${message}`, { cause: err });
  }
  return err;
}

function toResult<R>(res: pg.QueryResult | pg.QueryResult[]): SqlResult<R> {
  // Multi-statement text (migrations) gives one result per statement: report the last.
  const last = Array.isArray(res) ? res[res.length - 1] : res;
  const rows = (last?.rows ?? []) as R[];
  return { rows, rowCount: last?.rowCount ?? rows.length };
}

class ClientExecutor implements SqlExecutor {
  constructor(private readonly client: pg.PoolClient) {}
  async query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<SqlResult<R>> {
    try {
      return toResult<R>(await this.client.query(text, params));
    } catch (err) {
      throw translatePgError(err);
    }
  }
}

export class PostgresDatabase implements SqlDatabase {
  readonly pool: pg.Pool;
  private closed = false;

  constructor(config: PostgresConfig) {
    const ssl = config.ssl === true ? {} : config.ssl === false ? undefined : config.ssl;
    this.pool = new pg.Pool({
      connectionString: config.url,
      max: config.poolSize ?? 10,
      connectionTimeoutMillis: config.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: config.idleTimeoutMs ?? 30_000,
      application_name: config.applicationName ?? 'appproxy',
      ...(config.statementTimeoutMs !== 0 ? { statement_timeout: config.statementTimeoutMs ?? 30_000 } : {}),
      ...(ssl ? { ssl } : {}),
      keepAlive: true,
    });
    // An idle client whose connection dies (server restart: 57P01) is emitted here; without a
    // listener that would crash the process. The pool drops the client and opens a new one later.
    this.pool.on('error', (err) => config.onIdleError?.(err));
  }

  async query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<SqlResult<R>> {
    try {
      return toResult<R>(await this.pool.query(text, params));
    } catch (err) {
      throw translatePgError(err);
    }
  }

  /** Runs `fn` with one pooled client; a broken connection is destroyed rather than reused. */
  private async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw translatePgError(err);
    }
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (err) {
      const t = translatePgError(err);
      if (t instanceof SqlConnectionError) broken ??= t;
      throw t;
    } finally {
      client.off('error', onError);
      client.release(broken ?? false);
    }
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      const tx = new ClientExecutor(client);
      await tx.query('BEGIN');
      let result: T;
      try {
        result = await fn(tx);
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          // The connection is gone; the server rolls back by itself.
        }
        throw err;
      }
      await tx.query('COMMIT');
      return result;
    });
  }

  /**
   * Applies pending migrations under a session-level advisory lock, so several processes
   * starting at once migrate once (the others wait, then find nothing to do).
   */
  async migrate(): Promise<number> {
    return this.withClient(async (client) => {
      const ex = new ClientExecutor(client);
      await ex.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
      try {
        return await applyMigrations(ex, async (fn) => {
          await ex.query('BEGIN');
          try {
            await fn(ex);
            await ex.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK').catch(() => {});
            throw err;
          }
        });
      } finally {
        await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`).catch(() => {});
      }
    });
  }

  /** The recorded schema version (0 when no migration ever ran). */
  async schemaVersion(): Promise<number> {
    const t = await this.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
    if (!t.rows[0]?.t) return 0;
    const { rows } = await this.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM schema_migrations',
    );
    return Number(rows[0]?.v ?? 0);
  }

  /**
   * For processes that must not migrate: fails unless the schema is exactly the one this build
   * knows (older: run the manager's migration first; newer: run a newer build).
   */
  async checkSchema(): Promise<number> {
    const v = await this.schemaVersion();
    if (v > LATEST_SCHEMA_VERSION)
      throw new AppProxyError(
        'AP_ERR_CONFIG_INVALID',
        `The database schema is at version ${v}, newer than this AppProxy build knows (${LATEST_SCHEMA_VERSION}); run a newer build.`,
      );
    if (v < LATEST_SCHEMA_VERSION)
      throw new AppProxyError(
        'AP_ERR_CONFIG_INVALID',
        `The database schema is at version ${v}, older than this AppProxy build needs (${LATEST_SCHEMA_VERSION}); start the manager (it migrates) first.`,
      );
    return v;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** Opens a pool and checks that the server answers (so a bad URL fails at start, not later). */
export async function openPostgres(config: PostgresConfig): Promise<PostgresDatabase> {
  const db = new PostgresDatabase(config);
  try {
    await db.query('SELECT 1');
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  return db;
}
