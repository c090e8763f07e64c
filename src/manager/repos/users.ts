/** SQL access for users and API tokens (only SHA-256 digests of tokens are stored). */
import type { SqlDatabase } from '../../stores/types.ts';

export type Role = 'admin' | 'user';

export interface UserRow {
  id: string;
  name: string;
  display_name: string | null;
  role: Role;
  created_at: Date;
  disabled_at: Date | null;
  deleted_at: Date | null;
  password_hash: string | null;
  oidc_issuer: string | null;
  oidc_subject: string | null;
}

export interface TokenRow {
  id: string;
  user_id: string;
  name: string;
  scopes: string[];
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

/** A live API token and the user it acts for. */
export interface TokenOwner {
  tokenId: string;
  userId: string;
  role: Role;
  tokenHash: string;
  scopes: string[];
  expiresAt: Date | null;
}

export const ADMIN_USER_ID = 'admin';
/** Name of the API token that mirrors the configured admin token. */
export const BOOTSTRAP_TOKEN_NAME = 'bootstrap (admin token from configuration)';

/** Users that may act: neither disabled nor deleted. */
const ACTIVE = 'u.disabled_at IS NULL AND u.deleted_at IS NULL';

export class UserRepo {
  constructor(private readonly sql: SqlDatabase) {}

  /**
   * Ensures user `admin` and the configured admin token. A bootstrap token that no longer matches
   * the configuration is revoked, so changing APPPROXY_ADMIN_TOKEN retires the old one.
   */
  async ensureAdmin(tokenId: string, tokenHash: string): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO users (id, name, role) VALUES ($1, $1, 'admin')
         ON CONFLICT (id) DO UPDATE SET role = 'admin', disabled_at = NULL, deleted_at = NULL, name = $1`,
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

  // ------------------------------------------------------------------ users

  async create(u: {
    id: string;
    name: string;
    displayName: string | null;
    role: Role;
    passwordHash: string | null;
    oidc?: { issuer: string; subject: string };
  }): Promise<UserRow> {
    const { rows } = await this.sql.query<UserRow>(
      `INSERT INTO users (id, name, display_name, role, password_hash, oidc_issuer, oidc_subject)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [u.id, u.name, u.displayName, u.role, u.passwordHash, u.oidc?.issuer ?? null, u.oidc?.subject ?? null],
    );
    return rows[0]!;
  }

  async get(id: string): Promise<UserRow | undefined> {
    const { rows } = await this.sql.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
    return rows[0];
  }

  /** A user that is not deleted, by name. */
  async byName(name: string): Promise<UserRow | undefined> {
    const { rows } = await this.sql.query<UserRow>(
      'SELECT * FROM users WHERE name = $1 AND deleted_at IS NULL',
      [name],
    );
    return rows[0];
  }

  async byOidc(issuer: string, subject: string): Promise<UserRow | undefined> {
    const { rows } = await this.sql.query<UserRow>(
      'SELECT * FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2 AND deleted_at IS NULL',
      [issuer, subject],
    );
    return rows[0];
  }

  async list(): Promise<UserRow[]> {
    const { rows } = await this.sql.query<UserRow>(
      'SELECT * FROM users WHERE deleted_at IS NULL ORDER BY created_at, id',
    );
    return rows;
  }

  async update(
    id: string,
    f: {
      displayName?: string | null;
      role?: Role;
      disabled?: boolean;
      oidc?: { issuer: string; subject: string };
    },
  ): Promise<UserRow | undefined> {
    const { rows } = await this.sql.query<UserRow>(
      `UPDATE users SET
         display_name = CASE WHEN $2::boolean THEN $3 ELSE display_name END,
         role = COALESCE($4, role),
         disabled_at = CASE WHEN $5::boolean IS NULL THEN disabled_at
                            WHEN $5::boolean THEN COALESCE(disabled_at, now()) ELSE NULL END,
         oidc_issuer = COALESCE($6, oidc_issuer),
         oidc_subject = COALESCE($7, oidc_subject)
       WHERE id = $1 AND deleted_at IS NULL RETURNING *`,
      [
        id,
        f.displayName !== undefined,
        f.displayName ?? null,
        f.role ?? null,
        f.disabled ?? null,
        f.oidc?.issuer ?? null,
        f.oidc?.subject ?? null,
      ],
    );
    return rows[0];
  }

  async setPasswordHash(id: string, hash: string | null): Promise<boolean> {
    const { rows } = await this.sql.query<{ id: string }>(
      'UPDATE users SET password_hash = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING id',
      [id, hash],
    );
    return rows.length > 0;
  }

  /**
   * Deletes a user: the row stays (sessions and circuits refer to it), its name is freed, its
   * password and identity-provider link are dropped and its API tokens revoked.
   */
  async markDeleted(id: string): Promise<UserRow | undefined> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<UserRow>(
        `UPDATE users SET deleted_at = now(), disabled_at = COALESCE(disabled_at, now()),
                name = 'deleted:' || id, password_hash = NULL, oidc_issuer = NULL, oidc_subject = NULL
          WHERE id = $1 AND deleted_at IS NULL RETURNING *`,
        [id],
      );
      if (rows[0])
        await tx.query('UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [
          id,
        ]);
      return rows[0];
    });
  }

  // ------------------------------------------------------------------ API tokens

  async createToken(t: {
    id: string;
    userId: string;
    tokenHash: string;
    name: string;
    scopes: string[];
    expiresAt: Date | null;
  }): Promise<TokenRow> {
    const { rows } = await this.sql.query<TokenRow>(
      `INSERT INTO api_tokens (id, user_id, token_hash, name, scopes, expires_at)
       VALUES ($1, $2, $3, $4, $5::text[], $6)
       RETURNING id, user_id, name, scopes, created_at, expires_at, revoked_at, last_used_at`,
      [t.id, t.userId, t.tokenHash, t.name, t.scopes, t.expiresAt],
    );
    return rows[0]!;
  }

  async getToken(id: string): Promise<TokenRow | undefined> {
    const { rows } = await this.sql.query<TokenRow>(
      `SELECT id, user_id, name, scopes, created_at, expires_at, revoked_at, last_used_at
         FROM api_tokens WHERE id = $1`,
      [id],
    );
    return rows[0];
  }

  /** Tokens of one user, or of everyone (admins); revoked and expired ones included, newest first. */
  async listTokens(userId?: string): Promise<TokenRow[]> {
    const { rows } = await this.sql.query<TokenRow>(
      `SELECT id, user_id, name, scopes, created_at, expires_at, revoked_at, last_used_at
         FROM api_tokens ${userId === undefined ? '' : 'WHERE user_id = $1'} ORDER BY created_at DESC, id`,
      userId === undefined ? [] : [userId],
    );
    return rows;
  }

  /** Revokes a live token; the row when this call revoked it. */
  async revokeToken(id: string): Promise<TokenRow | undefined> {
    const { rows } = await this.sql.query<TokenRow>(
      `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
       RETURNING id, user_id, name, scopes, created_at, expires_at, revoked_at, last_used_at`,
      [id],
    );
    return rows[0];
  }

  /** Live tokens of a user (to revoke them with the user). */
  async liveTokensOf(userId: string): Promise<TokenRow[]> {
    const { rows } = await this.sql.query<TokenRow>(
      `SELECT id, user_id, name, scopes, created_at, expires_at, revoked_at, last_used_at FROM api_tokens
        WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [userId],
    );
    return rows;
  }

  async findByTokenHash(tokenHash: string): Promise<TokenOwner | undefined> {
    const { rows } = await this.sql.query<{
      id: string;
      user_id: string;
      role: Role;
      token_hash: string;
      scopes: string[];
      expires_at: Date | null;
    }>(
      `SELECT t.id, t.user_id, u.role, t.token_hash, t.scopes, t.expires_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
        WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
          AND ${ACTIVE}`,
      [tokenHash],
    );
    const r = rows[0];
    return r
      ? {
          tokenId: r.id,
          userId: r.user_id,
          role: r.role,
          tokenHash: r.token_hash,
          scopes: r.scopes ?? [],
          expiresAt: r.expires_at,
        }
      : undefined;
  }

  /** Records that a token was used (at most once a minute per token: a write per request is waste). */
  async touchToken(id: string): Promise<void> {
    await this.sql.query(
      `UPDATE api_tokens SET last_used_at = now()
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')`,
      [id],
    );
  }
}
