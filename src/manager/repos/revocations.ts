/** SQL access for revocation records (the truth behind their KV projection). */
import type { RevocationKind, RevocationRecord } from '../../contracts/auth.ts';
import type { SqlDatabase } from '../../stores/types.ts';

interface RevocationRow {
  id: string;
  kind: RevocationKind;
  subject: string;
  at: Date;
  expires_at: Date;
  reason: string;
  created_by: string | null;
}

function toRecord(r: RevocationRow): RevocationRecord {
  return {
    id: r.id,
    kind: r.kind,
    subject: r.subject,
    at: r.at.getTime(),
    expiresAt: r.expires_at.getTime(),
    reason: r.reason,
  };
}

export class RevocationRepo {
  constructor(private readonly sql: SqlDatabase) {}

  async insert(r: RevocationRecord, createdBy: string | null): Promise<void> {
    await this.sql.query(
      `INSERT INTO revocations (id, kind, subject, at, expires_at, reason, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [r.id, r.kind, r.subject, new Date(r.at), new Date(r.expiresAt), r.reason, createdBy],
    );
  }

  /** Records that may still refuse something. */
  async live(): Promise<RevocationRecord[]> {
    const { rows } = await this.sql.query<RevocationRow>(
      'SELECT * FROM revocations WHERE expires_at > now() ORDER BY at, id',
    );
    return rows.map(toRecord);
  }

  /** Deletes expired records; returns their ids (their KV projection goes too). */
  async deleteExpired(): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(
      'DELETE FROM revocations WHERE expires_at <= now() RETURNING id',
    );
    return rows.map((r) => r.id);
  }
}
