/** SQL access for inference endpoints and their routes. Only the endpoint service calls it. */
import type { EndpointSettings, EndpointState } from '../../contracts/endpoint.ts';
import type { SqlDatabase, SqlExecutor } from '../../stores/types.ts';

export interface EndpointRow {
  id: string;
  name: string;
  owner_id: string;
  state: EndpointState;
  settings: EndpointSettings;
  revision: number | string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/** A route with what its backend is now (a session route's backend comes from its session). */
export interface RouteRow {
  id: string;
  endpoint_id: string;
  session_id: string | null;
  service: string | null;
  host: string | null;
  port: number | null;
  weight: number;
  created_at: Date;
  /** Session routes: the service's backend and the session's state now. */
  backend_host: string | null;
  backend_port: number | null;
  session_state: string | null;
}

export interface KeyRow {
  id: string;
  endpoint_id: string;
  name: string;
  digest: string;
  models: string[];
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  rpm: number | null;
  tpm: number | null;
}

export interface NewRoute {
  id: string;
  sessionId: string | null;
  service: string | null;
  host: string | null;
  port: number | null;
  weight: number;
}

const ROUTES = `SELECT r.*, ss.backend_host, ss.backend_port, s.state AS session_state
  FROM endpoint_routes r
  LEFT JOIN sessions s ON s.id = r.session_id
  LEFT JOIN session_services ss ON ss.session_id = r.session_id AND ss.name = r.service`;

export class EndpointRepo {
  constructor(private readonly sql: SqlDatabase) {}

  async insert(e: {
    id: string;
    name: string;
    ownerId: string;
    settings: EndpointSettings;
  }): Promise<EndpointRow> {
    const { rows } = await this.sql.query<EndpointRow>(
      `INSERT INTO endpoints (id, name, owner_id, state, settings) VALUES ($1, $2, $3, 'ACTIVE', $4::jsonb) RETURNING *`,
      [e.id, e.name, e.ownerId, JSON.stringify(e.settings)],
    );
    return rows[0]!;
  }

  async get(id: string): Promise<EndpointRow | undefined> {
    const { rows } = await this.sql.query<EndpointRow>('SELECT * FROM endpoints WHERE id = $1', [id]);
    return rows[0];
  }

  async list(f: { ownerId?: string; live?: boolean }): Promise<EndpointRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.ownerId !== undefined) {
      params.push(f.ownerId);
      where.push(`owner_id = $${params.length}`);
    }
    if (f.live) where.push(`state <> 'DELETED'`);
    const { rows } = await this.sql.query<EndpointRow>(
      `SELECT * FROM endpoints ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id`,
      params,
    );
    return rows;
  }

  /** Changes settings and/or name of a live endpoint; bumps its revision. */
  async update(
    id: string,
    f: { name?: string; settings?: EndpointSettings },
  ): Promise<EndpointRow | undefined> {
    const { rows } = await this.sql.query<EndpointRow>(
      `UPDATE endpoints SET name = COALESCE($2, name), settings = COALESCE($3::jsonb, settings),
              revision = revision + 1, updated_at = now()
        WHERE id = $1 AND state = 'ACTIVE' RETURNING *`,
      [id, f.name ?? null, f.settings ? JSON.stringify(f.settings) : null],
    );
    return rows[0];
  }

  async setState(id: string, to: EndpointState, from: EndpointState[]): Promise<EndpointRow | undefined> {
    const { rows } = await this.sql.query<EndpointRow>(
      `UPDATE endpoints SET state = $2, updated_at = now(), revision = revision + 1,
              deleted_at = CASE WHEN $2 = 'DELETED' THEN now() ELSE deleted_at END
        WHERE id = $1 AND state = ANY($3) RETURNING *`,
      [id, to, from],
    );
    return rows[0];
  }

  async routes(endpointId: string): Promise<RouteRow[]> {
    const { rows } = await this.sql.query<RouteRow>(
      `${ROUTES} WHERE r.endpoint_id = $1 ORDER BY r.created_at, r.id`,
      [endpointId],
    );
    return rows;
  }

  /**
   * Changes the routes of a live endpoint in one transaction: `replace` sets the whole desired set,
   * else `add` and `remove` apply as deltas. With `ifRevision`, nothing changes unless the endpoint
   * is still at that revision. Returns the endpoint after the change, or `conflict`/`gone`.
   */
  async changeRoutes(
    endpointId: string,
    c: { replace?: NewRoute[]; add?: NewRoute[]; remove?: string[]; ifRevision?: number },
  ): Promise<EndpointRow | 'conflict' | 'gone'> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<EndpointRow>('SELECT * FROM endpoints WHERE id = $1 FOR UPDATE', [
        endpointId,
      ]);
      const e = rows[0];
      if (e?.state !== 'ACTIVE') return 'gone';
      if (c.ifRevision !== undefined && Number(e.revision) !== c.ifRevision) return 'conflict';
      if (c.replace) await tx.query('DELETE FROM endpoint_routes WHERE endpoint_id = $1', [endpointId]);
      if (c.remove?.length)
        await tx.query('DELETE FROM endpoint_routes WHERE endpoint_id = $1 AND id = ANY($2)', [
          endpointId,
          c.remove,
        ]);
      await insertRoutes(tx, endpointId, [...(c.replace ?? []), ...(c.add ?? [])]);
      const bumped = await tx.query<EndpointRow>(
        'UPDATE endpoints SET revision = revision + 1, updated_at = now() WHERE id = $1 RETURNING *',
        [endpointId],
      );
      return bumped.rows[0]!;
    });
  }

  /** The owner of a session that is not over, or undefined. */
  async sessionOwner(sessionId: string): Promise<string | undefined> {
    const { rows } = await this.sql.query<{ owner_id: string }>(
      `SELECT owner_id FROM sessions WHERE id = $1 AND state IN ('PENDING', 'RUNNING')`,
      [sessionId],
    );
    return rows[0]?.owner_id;
  }

  /** Endpoints that have a route on this session (its end removes them). */
  async endpointsRoutingTo(sessionId: string): Promise<string[]> {
    const { rows } = await this.sql.query<{ endpoint_id: string }>(
      'SELECT DISTINCT endpoint_id FROM endpoint_routes WHERE session_id = $1',
      [sessionId],
    );
    return rows.map((r) => r.endpoint_id);
  }

  /** Removes every route on a session; returns the endpoints whose routes changed. */
  async removeRoutesOf(sessionId: string): Promise<string[]> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ endpoint_id: string }>(
        'DELETE FROM endpoint_routes WHERE session_id = $1 RETURNING endpoint_id',
        [sessionId],
      );
      const ids = [...new Set(rows.map((r) => r.endpoint_id))];
      if (ids.length > 0)
        await tx.query(
          'UPDATE endpoints SET revision = revision + 1, updated_at = now() WHERE id = ANY($1)',
          [ids],
        );
      return ids;
    });
  }

  // ------------------------------------------------------------------ keys

  async insertKey(k: {
    id: string;
    endpointId: string;
    name: string;
    digest: string;
    models: string[];
    createdBy: string;
    expiresAt: Date | null;
    rpm: number | null;
    tpm: number | null;
  }): Promise<KeyRow> {
    const { rows } = await this.sql.query<KeyRow>(
      `INSERT INTO endpoint_keys (id, endpoint_id, name, digest, models, created_by, expires_at, rpm, tpm)
       VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $9) RETURNING *`,
      [k.id, k.endpointId, k.name, k.digest, k.models, k.createdBy, k.expiresAt, k.rpm, k.tpm],
    );
    return rows[0]!;
  }

  async keys(endpointId: string): Promise<KeyRow[]> {
    const { rows } = await this.sql.query<KeyRow>(
      'SELECT * FROM endpoint_keys WHERE endpoint_id = $1 ORDER BY created_at DESC, id',
      [endpointId],
    );
    return rows;
  }

  /** Revokes live keys of an endpoint (one, or all); returns those this call revoked. */
  async revokeKeys(endpointId: string, keyId?: string): Promise<KeyRow[]> {
    const { rows } = await this.sql.query<KeyRow>(
      `UPDATE endpoint_keys SET revoked_at = now()
        WHERE endpoint_id = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR id = $2) RETURNING *`,
      [endpointId, keyId ?? null],
    );
    return rows;
  }

  /** Keys that may still open something: not revoked, not expired, of a live endpoint. */
  async liveKeys(): Promise<KeyRow[]> {
    const { rows } = await this.sql.query<KeyRow>(
      `SELECT k.* FROM endpoint_keys k JOIN endpoints e ON e.id = k.endpoint_id
        WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()) AND e.state = 'ACTIVE'`,
    );
    return rows;
  }
}

/** Inserts routes in one statement (a route change is one round trip however many routes it sets). */
async function insertRoutes(tx: SqlExecutor, endpointId: string, routes: readonly NewRoute[]): Promise<void> {
  if (routes.length === 0) return;
  const params: unknown[] = [endpointId];
  const rows = routes.map((r) => {
    const at = params.length;
    params.push(r.id, r.sessionId, r.service, r.host, r.port, r.weight);
    return `($${at + 1}, $1, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}, $${at + 6})`;
  });
  await tx.query(
    `INSERT INTO endpoint_routes (id, endpoint_id, session_id, service, host, port, weight)
     VALUES ${rows.join(', ')}`,
    params,
  );
}
