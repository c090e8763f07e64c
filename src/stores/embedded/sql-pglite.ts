/**
 * The embedded SQL adapter: PGlite (PostgreSQL compiled to WebAssembly), file-backed in the data
 * folder, so that the embedded default and production PostgreSQL share one dialect and one set of
 * migrations. PGlite is a single connection; it serialises transactions itself.
 */
import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { applyMigrations } from '../sql/migrate.ts';
import { type SqlDatabase, type SqlExecutor, type SqlResult, UniqueViolation } from '../types.ts';

function translate(err: unknown): unknown {
  const e = err as { code?: string; constraint?: string };
  if (e && e.code === '23505') return new UniqueViolation(e.constraint, { cause: err });
  return err;
}

class PgliteExecutor implements SqlExecutor {
  constructor(protected readonly q: PGlite | Transaction) {}

  async query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<SqlResult<R>> {
    try {
      // Multi-statement text without parameters (migrations) goes through exec.
      if ((!params || params.length === 0) && text.includes(';')) {
        const results = await this.q.exec(text);
        const last = results[results.length - 1];
        const rows = (last?.rows ?? []) as R[];
        return { rows, rowCount: Math.max(last?.affectedRows ?? 0, rows.length) };
      }
      const r = await this.q.query<R>(text, params);
      // PGlite reports affectedRows 0 for SELECT; PostgreSQL's rowCount is the number of rows.
      return { rows: r.rows, rowCount: Math.max(r.affectedRows ?? 0, r.rows.length) };
    } catch (err) {
      throw translate(err);
    }
  }
}

export class PgliteDatabase extends PgliteExecutor implements SqlDatabase {
  private constructor(private readonly db: PGlite) {
    super(db);
  }

  /** Opens (creating if needed) a database in `dataDir`, or in memory when `dataDir` is null. */
  static async open(dataDir: string | null): Promise<PgliteDatabase> {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    const db = await PGlite.create(dataDir ?? undefined);
    return new PgliteDatabase(db);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction((tx) => fn(new PgliteExecutor(tx)));
    } catch (err) {
      throw translate(err);
    }
  }

  migrate(): Promise<number> {
    return applyMigrations(this, async (fn) => {
      await this.transaction(fn);
    });
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}
