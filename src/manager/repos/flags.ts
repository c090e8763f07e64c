/** SQL access for feature-flag overrides and their history (contracts/flags.ts). */
import type { SqlDatabase } from '../../stores/types.ts';

export interface FlagOverrideRow {
  name: string;
  scope: string;
  value: boolean;
  updated_by: string | null;
  updated_at: Date;
}

export interface FlagChangeRow {
  id: number | string;
  at: Date;
  name: string;
  scope: string;
  value: boolean | null;
  previous: boolean | null;
  changed_by: string | null;
  changed_by_name: string | null;
}

export class FlagRepo {
  constructor(private readonly sql: SqlDatabase) {}

  async overrides(name?: string): Promise<FlagOverrideRow[]> {
    const { rows } = await this.sql.query<FlagOverrideRow>(
      name === undefined
        ? 'SELECT * FROM flag_overrides ORDER BY name, scope'
        : 'SELECT * FROM flag_overrides WHERE name = $1 ORDER BY scope',
      name === undefined ? [] : [name],
    );
    return rows;
  }

  /**
   * Sets (`value`) or removes (null) one override and records the change, in one transaction;
   * answers the previous value (null: there was none) — a change that changes nothing is not
   * recorded.
   */
  async change(name: string, scope: string, value: boolean | null, by: string): Promise<boolean | null> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ value: boolean }>(
        'SELECT value FROM flag_overrides WHERE name = $1 AND scope = $2 FOR UPDATE',
        [name, scope],
      );
      const previous = rows[0]?.value ?? null;
      if (previous === value) return previous;
      if (value === null)
        await tx.query('DELETE FROM flag_overrides WHERE name = $1 AND scope = $2', [name, scope]);
      else
        await tx.query(
          `INSERT INTO flag_overrides (name, scope, value, updated_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (name, scope) DO UPDATE SET value = $3, updated_by = $4, updated_at = now()`,
          [name, scope, value, by],
        );
      await tx.query(
        'INSERT INTO flag_changes (name, scope, value, previous, changed_by) VALUES ($1, $2, $3, $4, $5)',
        [name, scope, value, previous, by],
      );
      return previous;
    });
  }

  /** The newest `limit` changes (of one flag, or all), oldest first, with the changer's name. */
  async changes(name: string | undefined, limit: number): Promise<FlagChangeRow[]> {
    const { rows } = await this.sql.query<FlagChangeRow>(
      `SELECT * FROM (
         SELECT c.*, u.name AS changed_by_name FROM flag_changes c LEFT JOIN users u ON u.id = c.changed_by
         ${name === undefined ? '' : 'WHERE c.name = $2'}
         ORDER BY c.id DESC LIMIT $1
       ) newest ORDER BY id`,
      name === undefined ? [limit] : [limit, name],
    );
    return rows;
  }
}
