/**
 * Numbered migrations shared by every SQL adapter (PGlite and PostgreSQL speak one dialect).
 * Files are `NNN_name.sql` in `migrations/`; each runs in its own transaction and is recorded
 * in `schema_migrations`. A database whose recorded version is newer than what this build knows
 * is refused, so an old binary never runs against a schema it does not understand.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AppProxyError } from '../../contracts/errors.ts';
import type { SqlExecutor } from '../types.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({
      version: Number(f.slice(0, 3)),
      name: f.slice(4, -4),
      sql: readFileSync(`${dir}/${f}`, 'utf8'),
    }));
}

export const LATEST_SCHEMA_VERSION = Math.max(0, ...loadMigrations().map((m) => m.version));

/**
 * Applies pending migrations. `runInTransaction` wraps one migration (adapters pass their own
 * transaction helper; PostgreSQL also takes an advisory lock around the whole run).
 */
export async function applyMigrations(
  db: SqlExecutor,
  runInTransaction: (fn: (tx: SqlExecutor) => Promise<void>) => Promise<void>,
  migrations: Migration[] = loadMigrations(),
): Promise<number> {
  await db.query(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
  const { rows } = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  const current = rows[0]?.v ?? 0;
  const latest = Math.max(0, ...migrations.map((m) => m.version));
  if (current > latest) {
    throw new AppProxyError(
      'AP_ERR_CONFIG_INVALID',
      `The database schema is at version ${current}, newer than this AppProxy build knows (${latest}); run a newer build.`,
    );
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    await runInTransaction(async (tx) => {
      // A concurrent run may have applied it since the version was read above.
      const done = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (done.rows.length > 0) return;
      await tx.query(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    });
  }
  return latest;
}
