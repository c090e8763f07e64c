/** SQL access for sessions and their services. Only the session, circuit and lifecycle services call it. */
import type { Protocol, ServiceInfo, Session, SessionState } from '../../contracts/records.ts';
import { sessionSourcesOf } from '../../core/state-machines.ts';
import type { SqlDatabase, SqlExecutor } from '../../stores/types.ts';
import type { IdleSource, SessionIdleSettings } from '../services/idle-settings.ts';

export interface SessionRow {
  id: string;
  name: string;
  template: string;
  owner_id: string;
  agent: string;
  state: SessionState;
  state_reason: string | null;
  created_at: Date;
  updated_at: Date;
  terminated_at: Date | null;
  /** bigint columns: numbers from PGlite, strings from node-postgres; read them with `Number`. */
  idle_timeout_ms: number | string | null;
  idle_source: IdleSource;
  circuit_idle_timeout_ms: number | string | null;
  circuit_idle_source: IdleSource;
  connection_idle_timeout_ms: number | string;
  connection_idle_source: IdleSource;
}

const nullableMs = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** The idle settings a session row holds (its own policy, and what its circuits inherit). */
export function sessionIdleOf(row: SessionRow): SessionIdleSettings {
  return {
    session: { value: nullableMs(row.idle_timeout_ms), source: row.idle_source },
    circuit: { value: nullableMs(row.circuit_idle_timeout_ms), source: row.circuit_idle_source },
    connection: { value: Number(row.connection_idle_timeout_ms), source: row.connection_idle_source },
  };
}

interface ServiceRow {
  session_id: string;
  name: string;
  protocol: Protocol;
  backend_host: string | null;
  backend_port: number | null;
}

export function toSession(row: SessionRow, services: ServiceInfo[]): Session {
  return {
    id: row.id,
    name: row.name,
    template: row.template,
    ownerId: row.owner_id,
    state: row.state,
    stateReason: row.state_reason,
    services,
    idleTimeoutMs: nullableMs(row.idle_timeout_ms),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function toService(r: ServiceRow): ServiceInfo {
  return {
    name: r.name,
    protocol: r.protocol,
    backend:
      r.backend_host !== null && r.backend_port !== null
        ? { host: r.backend_host, port: r.backend_port }
        : null,
  };
}

type ServiceBackend = { name: string; protocol: Protocol; host: string; port: number };

/** Adds services with their backends, or re-points existing ones (by name). */
async function putServices(tx: SqlExecutor, id: string, services: ServiceBackend[]): Promise<void> {
  for (const s of services) {
    await tx.query(
      `INSERT INTO session_services (session_id, name, protocol, backend_host, backend_port)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (session_id, name) DO UPDATE
         SET protocol = EXCLUDED.protocol, backend_host = EXCLUDED.backend_host, backend_port = EXCLUDED.backend_port`,
      [id, s.name, s.protocol, s.host, s.port],
    );
  }
}

export class SessionRepo {
  constructor(private readonly sql: SqlDatabase) {}

  async insert(
    s: {
      id: string;
      name: string;
      template: string;
      ownerId: string;
      agent: string;
      idle: SessionIdleSettings;
    },
    services: { name: string; protocol: Protocol }[],
  ): Promise<Session> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<SessionRow>(
        `INSERT INTO sessions (id, name, template, owner_id, agent, state, idle_timeout_ms, idle_source,
                               circuit_idle_timeout_ms, circuit_idle_source,
                               connection_idle_timeout_ms, connection_idle_source)
         VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7, $8, $9, $10, $11) RETURNING *`,
        [
          s.id,
          s.name,
          s.template,
          s.ownerId,
          s.agent,
          s.idle.session.value,
          s.idle.session.source,
          s.idle.circuit.value,
          s.idle.circuit.source,
          s.idle.connection.value,
          s.idle.connection.source,
        ],
      );
      for (const svc of services) {
        await tx.query('INSERT INTO session_services (session_id, name, protocol) VALUES ($1, $2, $3)', [
          s.id,
          svc.name,
          svc.protocol,
        ]);
      }
      return toSession(
        rows[0]!,
        services.map((x) => ({ name: x.name, protocol: x.protocol, backend: null })),
      );
    });
  }

  async getRow(id: string, q: SqlExecutor = this.sql): Promise<SessionRow | undefined> {
    const { rows } = await q.query<SessionRow>('SELECT * FROM sessions WHERE id = $1', [id]);
    return rows[0];
  }

  async get(id: string): Promise<Session | undefined> {
    const row = await this.getRow(id);
    if (!row) return undefined;
    return toSession(row, await this.services(id));
  }

  async services(id: string): Promise<ServiceInfo[]> {
    const { rows } = await this.sql.query<ServiceRow>(
      'SELECT * FROM session_services WHERE session_id = $1 ORDER BY name',
      [id],
    );
    return rows.map(toService);
  }

  async list(filter: { ownerId?: string; state?: SessionState }): Promise<Session[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.ownerId !== undefined) {
      params.push(filter.ownerId);
      where.push(`owner_id = $${params.length}`);
    }
    if (filter.state !== undefined) {
      params.push(filter.state);
      where.push(`state = $${params.length}`);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const { rows } = await this.sql.query<SessionRow>(
      `SELECT * FROM sessions ${clause} ORDER BY created_at DESC, id`,
      params,
    );
    if (rows.length === 0) return [];
    const svc = await this.sql.query<ServiceRow>(
      'SELECT * FROM session_services WHERE session_id = ANY($1) ORDER BY name',
      [rows.map((r) => r.id)],
    );
    const by = new Map<string, ServiceInfo[]>();
    for (const r of svc.rows) {
      const list = by.get(r.session_id) ?? [];
      list.push(toService(r));
      by.set(r.session_id, list);
    }
    return rows.map((r) => toSession(r, by.get(r.id) ?? []));
  }

  /**
   * Moves a session to `to` if its current state allows it (see `SESSION_TRANSITIONS`).
   * `reason` undefined keeps the stored reason. Returns the updated row, or undefined when the
   * session was not in a source state (someone else moved it first).
   */
  async transition(
    id: string,
    to: SessionState,
    reason?: string | null,
    q: SqlExecutor = this.sql,
  ): Promise<SessionRow | undefined> {
    const final = to === 'TERMINATED' || to === 'ERROR';
    const { rows } = await q.query<SessionRow>(
      `UPDATE sessions SET state = $2,
         state_reason = CASE WHEN $4::boolean THEN $3 ELSE state_reason END,
         updated_at = now(),
         terminated_at = CASE WHEN $5::boolean THEN now() ELSE terminated_at END
       WHERE id = $1 AND state = ANY($6) RETURNING *`,
      [id, to, reason ?? null, reason !== undefined, final, sessionSourcesOf(to)],
    );
    return rows[0];
  }

  /** PENDING → RUNNING and the backends of its services, in one transaction. */
  async markRunning(id: string, services: ServiceBackend[]): Promise<SessionRow | undefined> {
    return this.sql.transaction(async (tx) => {
      const row = await this.transition(id, 'RUNNING', null, tx);
      if (!row) return undefined;
      await putServices(tx, id, services);
      return row;
    });
  }

  /** Adds or re-points services of a RUNNING session (a legacy session learns its apps one by one). */
  async upsertServices(id: string, services: ServiceBackend[]): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ state: string }>(
        'SELECT state FROM sessions WHERE id = $1 FOR UPDATE',
        [id],
      );
      if (rows[0]?.state !== 'RUNNING') return false;
      await putServices(tx, id, services);
      return true;
    });
  }

  async idsInStates(
    states: readonly SessionState[],
    agent?: string,
  ): Promise<{ id: string; state: SessionState }[]> {
    const params: unknown[] = [states];
    let extra = '';
    if (agent !== undefined) {
      params.push(agent);
      extra = ' AND agent = $2';
    }
    const { rows } = await this.sql.query<{ id: string; state: SessionState }>(
      `SELECT id, state FROM sessions WHERE state = ANY($1)${extra}`,
      params,
    );
    return rows;
  }

  /**
   * Sessions in `state` whose last change is older than `ms`: TERMINATING ones whose termination
   * flow died, PENDING ones whose launch may never have reached their agent.
   */
  async inStateOlderThan(
    state: SessionState,
    ms: number,
  ): Promise<{ id: string; agent: string; template: string }[]> {
    const { rows } = await this.sql.query<{ id: string; agent: string; template: string }>(
      `SELECT id, agent, template FROM sessions WHERE state = $1
          AND updated_at < now() - make_interval(secs => $2::double precision / 1000)`,
      [state, ms],
    );
    return rows;
  }

  /** Ids of a user's sessions that are not over (PENDING, RUNNING, TERMINATING). */
  async liveIdsOfOwner(ownerId: string): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(
      `SELECT id FROM sessions WHERE owner_id = $1 AND state IN ('PENDING', 'RUNNING', 'TERMINATING')`,
      [ownerId],
    );
    return rows.map((r) => r.id);
  }

  async countByState(): Promise<{ state: SessionState; n: number }[]> {
    const { rows } = await this.sql.query<{ state: SessionState; n: number }>(
      'SELECT state, count(*)::int AS n FROM sessions GROUP BY state',
    );
    return rows;
  }
}
