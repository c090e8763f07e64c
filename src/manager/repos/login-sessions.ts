/**
 * SQL access for login sessions: a user's sign-ins (browser, CLI, or created by a platform web
 * server). Only a SHA-256 digest of each one's secret is stored.
 */
import type { SqlDatabase } from '../../stores/types.ts';
import type { Role } from './users.ts';

export type LoginSessionKind = 'password' | 'oidc' | 'platform' | 'cli';

export interface LoginSessionRow {
  id: string;
  user_id: string;
  kind: LoginSessionKind;
  csrf_token: string;
  parent_id: string | null;
  created_by: string | null;
  client_address: string | null;
  user_agent: string | null;
  oidc_issuer: string | null;
  oidc_subject: string | null;
  oidc_sid: string | null;
  created_at: Date;
  expires_at: Date;
  last_seen_at: Date;
  ended_at: Date | null;
  end_reason: string | null;
}

/** A live login session found by its secret, with its user. */
export type LiveLoginSession = LoginSessionRow & { role: Role };

export interface NewLoginSession {
  id: string;
  userId: string;
  kind: LoginSessionKind;
  secretHash: string;
  csrfToken: string;
  expiresAt: Date;
  parentId?: string | null;
  createdBy?: string | null;
  clientAddress?: string | null;
  userAgent?: string | null;
  oidc?: { issuer: string; subject: string; sid: string | null };
}

const COLUMNS = `id, user_id, kind, csrf_token, parent_id, created_by, client_address, user_agent,
  oidc_issuer, oidc_subject, oidc_sid, created_at, expires_at, last_seen_at, ended_at, end_reason`;

export class LoginSessionRepo {
  constructor(private readonly sql: SqlDatabase) {}

  async create(s: NewLoginSession): Promise<LoginSessionRow> {
    const { rows } = await this.sql.query<LoginSessionRow>(
      `INSERT INTO login_sessions (id, user_id, kind, secret_hash, csrf_token, expires_at, parent_id, created_by,
                                   client_address, user_agent, oidc_issuer, oidc_subject, oidc_sid)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${COLUMNS}`,
      [
        s.id,
        s.userId,
        s.kind,
        s.secretHash,
        s.csrfToken,
        s.expiresAt,
        s.parentId ?? null,
        s.createdBy ?? null,
        s.clientAddress ?? null,
        s.userAgent ?? null,
        s.oidc?.issuer ?? null,
        s.oidc?.subject ?? null,
        s.oidc?.sid ?? null,
      ],
    );
    return rows[0]!;
  }

  async get(id: string): Promise<LoginSessionRow | undefined> {
    const { rows } = await this.sql.query<LoginSessionRow>(
      `SELECT ${COLUMNS} FROM login_sessions WHERE id = $1`,
      [id],
    );
    return rows[0];
  }

  /** The live login session whose secret has this digest, if its user may still act. */
  async findLiveBySecretHash(secretHash: string): Promise<LiveLoginSession | undefined> {
    const { rows } = await this.sql.query<LiveLoginSession>(
      `SELECT ${COLUMNS.split(',')
        .map((c) => `s.${c.trim()}`)
        .join(', ')}, u.role
         FROM login_sessions s JOIN users u ON u.id = s.user_id
        WHERE s.secret_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()
          AND u.disabled_at IS NULL AND u.deleted_at IS NULL`,
      [secretHash],
    );
    return rows[0];
  }

  /** Newest first; of one user, or of everyone (admins). `live`: only those not ended or expired. */
  async list(f: { userId?: string; live?: boolean; limit?: number }): Promise<LoginSessionRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.userId !== undefined) {
      params.push(f.userId);
      where.push(`user_id = $${params.length}`);
    }
    if (f.live) where.push('ended_at IS NULL AND expires_at > now()');
    params.push(f.limit ?? 500);
    const { rows } = await this.sql.query<LoginSessionRow>(
      `SELECT ${COLUMNS} FROM login_sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, id LIMIT $${params.length}`,
      params,
    );
    return rows;
  }

  /**
   * Ends login sessions (and the CLI sign-ins approved from them) with `reason`; returns every row
   * this call ended. A session already ended stays as it was.
   */
  async end(ids: string[], reason: string): Promise<LoginSessionRow[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.sql.query<LoginSessionRow>(
      `WITH RECURSIVE tree(id) AS (
         SELECT id FROM login_sessions WHERE id = ANY($1)
         UNION SELECT s.id FROM login_sessions s JOIN tree t ON s.parent_id = t.id WHERE s.ended_at IS NULL
       )
       UPDATE login_sessions SET ended_at = now(), end_reason = $2
        WHERE id IN (SELECT id FROM tree) AND ended_at IS NULL RETURNING ${COLUMNS}`,
      [ids, reason],
    );
    return rows;
  }

  /** Ids of a user's live login sessions. */
  async liveIdsOfUser(userId: string): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(
      `SELECT id FROM login_sessions WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now()`,
      [userId],
    );
    return rows.map((r) => r.id);
  }

  /** Live login sessions that came from an identity provider's sign-in (back-channel logout). */
  async liveIdsOfOidc(issuer: string, subject: string | null, sid: string | null): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(
      `SELECT id FROM login_sessions
        WHERE ended_at IS NULL AND oidc_issuer = $1
          AND ($2::text IS NULL OR oidc_subject = $2) AND ($3::text IS NULL OR oidc_sid = $3)`,
      [issuer, subject, sid],
    );
    return rows.map((r) => r.id);
  }

  /** Records that a login session was used (at most once a minute). */
  async touch(id: string): Promise<void> {
    await this.sql.query(
      `UPDATE login_sessions SET last_seen_at = now()
        WHERE id = $1 AND last_seen_at < now() - interval '60 seconds'`,
      [id],
    );
  }
}
