/** SQL of the Backend.AI-compatible surface: `/v2/conf` tokens (digests only). */
import type { SqlDatabase } from '../../stores/types.ts';

export interface ConfTokenRow {
  user_id: string;
  session_id: string;
  login_session: string | null;
  kernel_host: string;
  kernel_port: number;
}

export class LegacyRepo {
  constructor(private readonly sql: SqlDatabase) {}

  /** Stores a token's digest (expired ones are dropped on the way: the table stays small). */
  async issueConfToken(t: ConfTokenRow & { tokenHash: string; expiresAt: Date }): Promise<void> {
    await this.sql.query('DELETE FROM legacy_conf_tokens WHERE expires_at < now()');
    await this.sql.query(
      `INSERT INTO legacy_conf_tokens (token_hash, user_id, session_id, login_session, kernel_host, kernel_port, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [t.tokenHash, t.user_id, t.session_id, t.login_session, t.kernel_host, t.kernel_port, t.expiresAt],
    );
  }

  /** A token that has not expired, by digest. */
  async confToken(tokenHash: string): Promise<ConfTokenRow | undefined> {
    const { rows } = await this.sql.query<ConfTokenRow>(
      `SELECT user_id, session_id, login_session, kernel_host, kernel_port FROM legacy_conf_tokens
       WHERE token_hash = $1 AND expires_at > now()`,
      [tokenHash],
    );
    return rows[0];
  }

  /** The newest live login session of `userId` that `createdBy` made (one per Backend.AI login token). */
  async liveLoginSessionCreatedBy(userId: string, createdBy: string): Promise<string | undefined> {
    const { rows } = await this.sql.query<{ id: string }>(
      `SELECT id FROM login_sessions
       WHERE user_id = $1 AND created_by = $2 AND ended_at IS NULL AND expires_at > now()
       ORDER BY created_at DESC LIMIT 1`,
      [userId, createdBy],
    );
    return rows[0]?.id;
  }
}
