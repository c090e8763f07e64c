/**
 * SQL access for what a logout visits: the logout URIs admins add, and the cookie grants — which
 * grant (login session, API token) was handed a setup link for which circuit, until when the
 * cookie it buys may live.
 */
import type { SqlDatabase } from '../../stores/types.ts';

export interface LogoutUriRow {
  id: string;
  uri: string;
  next_param: string | null;
  description: string;
  created_by: string | null;
  created_at: Date;
}

/** A live circuit whose origin a grant may hold a cookie on. */
export interface GrantedOrigin {
  circuit_id: string;
  app_url: string;
  frontend_mode: 'port' | 'wildcard';
  worker: string;
}

export class LogoutRepo {
  constructor(private readonly sql: SqlDatabase) {}

  async listUris(): Promise<LogoutUriRow[]> {
    const { rows } = await this.sql.query<LogoutUriRow>('SELECT * FROM logout_uris ORDER BY created_at, id');
    return rows;
  }

  async addUri(u: {
    id: string;
    uri: string;
    nextParam: string | null;
    description: string;
    createdBy: string;
  }): Promise<LogoutUriRow> {
    const { rows } = await this.sql.query<LogoutUriRow>(
      `INSERT INTO logout_uris (id, uri, next_param, description, created_by) VALUES ($1, $2, $3, $4, $5)
       RETURNING *`,
      [u.id, u.uri, u.nextParam, u.description, u.createdBy],
    );
    return rows[0]!;
  }

  async deleteUri(id: string): Promise<LogoutUriRow | undefined> {
    const { rows } = await this.sql.query<LogoutUriRow>('DELETE FROM logout_uris WHERE id = $1 RETURNING *', [
      id,
    ]);
    return rows[0];
  }

  /** Records that `grantKey` was handed a setup link for a circuit, whose cookie may live until `expiresAt`. */
  async recordGrant(g: {
    grantKey: string;
    circuitId: string;
    userId: string;
    loginSessionId: string | null;
    tokenId: string | null;
    expiresAt: Date;
  }): Promise<void> {
    await this.sql.query(
      `INSERT INTO cookie_grants (grant_key, circuit_id, user_id, login_session_id, token_id, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (grant_key, circuit_id) DO UPDATE SET expires_at = GREATEST(cookie_grants.expires_at, EXCLUDED.expires_at)`,
      [g.grantKey, g.circuitId, g.userId, g.loginSessionId, g.tokenId, g.expiresAt],
    );
  }

  /**
   * The live circuits the given login sessions (or, with `userId`, any grant of that user) may
   * hold app cookies for. Closed circuits are left out: their address answers nothing, and their
   * cookies open nothing any more.
   */
  async grantedOrigins(f: { loginSessionIds?: string[]; userId?: string }): Promise<GrantedOrigin[]> {
    const { rows } = await this.sql.query<GrantedOrigin>(
      `SELECT DISTINCT c.id AS circuit_id, c.app_url, c.frontend_mode, c.worker
         FROM cookie_grants g JOIN circuits c ON c.id = g.circuit_id
        WHERE g.expires_at > now() AND c.state IN ('ACTIVE', 'PENDING') AND c.protocol = 'http'
          AND (($1::text[] IS NOT NULL AND g.login_session_id = ANY($1)) OR ($2::text IS NOT NULL AND g.user_id = $2))
        ORDER BY c.id`,
      [f.loginSessionIds ?? null, f.userId ?? null],
    );
    return rows;
  }

  async deleteExpiredGrants(): Promise<number> {
    const { rows } = await this.sql.query<{ n: number }>(
      `WITH d AS (DELETE FROM cookie_grants WHERE expires_at <= now() RETURNING 1) SELECT count(*)::int AS n FROM d`,
    );
    return rows[0]?.n ?? 0;
  }
}
