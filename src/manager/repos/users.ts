/** SQL access for users and API tokens (only SHA-256 digests of tokens are stored). */
import type { SqlDatabase } from '../../stores/types.ts';

export type Role = 'admin' | 'user';

export interface TokenOwner {
  userId: string;
  role: Role;
  tokenHash: string;
}

export const ADMIN_USER_ID = 'admin';
/** Name of the API token that mirrors the configured admin token. */
export const BOOTSTRAP_TOKEN_NAME = 'bootstrap (admin token from configuration)';

export class UserRepo {
  constructor(private readonly sql: SqlDatabase) {}

  /**
   * Ensures user `admin` and the configured admin token. A bootstrap token that no longer matches
   * the configuration is revoked, so changing APPPROXY_ADMIN_TOKEN retires the old one.
   */
  async ensureAdmin(tokenId: string, tokenHash: string): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO users (id, name, role) VALUES ($1, $1, 'admin') ON CONFLICT (id) DO UPDATE SET role = 'admin'`,
        [ADMIN_USER_ID],
      );
      await tx.query(
        `UPDATE api_tokens SET revoked_at = now()
          WHERE user_id = $1 AND name = $2 AND token_hash <> $3 AND revoked_at IS NULL`,
        [ADMIN_USER_ID, BOOTSTRAP_TOKEN_NAME, tokenHash],
      );
      await tx.query(
        `INSERT INTO api_tokens (id, user_id, token_hash, name) VALUES ($1, $2, $3, $4)
         ON CONFLICT (token_hash) DO UPDATE SET revoked_at = NULL, user_id = EXCLUDED.user_id`,
        [tokenId, ADMIN_USER_ID, tokenHash, BOOTSTRAP_TOKEN_NAME],
      );
    });
  }

  async findByTokenHash(tokenHash: string): Promise<TokenOwner | undefined> {
    const { rows } = await this.sql.query<{ user_id: string; role: Role; token_hash: string }>(
      `SELECT t.user_id, u.role, t.token_hash FROM api_tokens t JOIN users u ON u.id = t.user_id
        WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`,
      [tokenHash],
    );
    const r = rows[0];
    return r ? { userId: r.user_id, role: r.role, tokenHash: r.token_hash } : undefined;
  }
}
