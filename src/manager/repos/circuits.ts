/** SQL access for circuits. Only the circuits and lifecycle services call it. */
import type { RouteSpec } from '../../contracts/kv-layout.ts';
import type { Circuit, CircuitState, FrontendMode, Protocol, SessionState } from '../../contracts/records.ts';
import { circuitSourcesOf } from '../../core/session-state.ts';
import type { SqlDatabase } from '../../stores/types.ts';

export interface CircuitRow {
  id: string;
  session_id: string;
  service: string;
  protocol: Protocol;
  owner_id: string;
  worker: string;
  frontend_mode: FrontendMode;
  port: number | null;
  subdomain: string | null;
  app_url: string;
  backends: { host: string; port: number }[];
  state: CircuitState;
  state_reason: string | null;
  created_at: Date;
  updated_at: Date;
  closed_at: Date | null;
}

export function toCircuit(r: CircuitRow): Circuit {
  return {
    id: r.id,
    sessionId: r.session_id,
    service: r.service,
    protocol: r.protocol,
    ownerId: r.owner_id,
    worker: r.worker,
    frontendMode: r.frontend_mode,
    slot: r.frontend_mode === 'port' ? { port: r.port! } : { subdomain: r.subdomain! },
    appUrl: r.app_url,
    backends: r.backends,
    state: r.state,
    stateReason: r.state_reason,
    createdAt: r.created_at.toISOString(),
    closedAt: r.closed_at ? r.closed_at.toISOString() : null,
  };
}

/** What the circuit's worker must serve: the value of `kvKeys.circuit(worker, id)`. */
export function routeSpecOf(row: CircuitRow): RouteSpec {
  return {
    id: row.id,
    sessionId: row.session_id,
    ownerId: row.owner_id,
    service: row.service,
    protocol: row.protocol,
    frontendMode: row.frontend_mode,
    port: row.port,
    subdomain: row.subdomain,
    backends: row.backends,
  };
}

/** A circuit row with the state of its session (null when the session row is missing). */
export type CircuitWithSession = CircuitRow & {
  session_state: SessionState | null;
  session_agent: string | null;
};

export interface NewCircuit {
  id: string;
  sessionId: string;
  service: string;
  protocol: Protocol;
  ownerId: string;
  worker: string;
  frontendMode: FrontendMode;
  port: number | null;
  subdomain: string | null;
  appUrl: string;
  backends: { host: string; port: number }[];
}

export class CircuitRepo {
  constructor(private readonly sql: SqlDatabase) {}

  /**
   * Inserts a PENDING circuit if its session is still RUNNING. The session row is locked for the
   * transaction, so a concurrent termination (which moves the session out of RUNNING, then lists
   * its circuits) either sees this circuit or makes this insert fail: no circuit outlives its
   * session unseen. Returns undefined when the session is not RUNNING any more; throws
   * `UniqueViolation` when the slot is taken.
   */
  async insertForRunningSession(c: NewCircuit): Promise<CircuitRow | undefined> {
    return this.sql.transaction(async (tx) => {
      const s = await tx.query<{ state: string }>('SELECT state FROM sessions WHERE id = $1 FOR UPDATE', [
        c.sessionId,
      ]);
      if (s.rows[0]?.state !== 'RUNNING') return undefined;
      const { rows } = await tx.query<CircuitRow>(
        `INSERT INTO circuits (id, session_id, service, protocol, owner_id, worker, frontend_mode, port, subdomain,
                               app_url, backends, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, 'PENDING') RETURNING *`,
        [
          c.id,
          c.sessionId,
          c.service,
          c.protocol,
          c.ownerId,
          c.worker,
          c.frontendMode,
          c.port,
          c.subdomain,
          c.appUrl,
          JSON.stringify(c.backends),
        ],
      );
      return rows[0];
    });
  }

  async get(id: string): Promise<CircuitRow | undefined> {
    const { rows } = await this.sql.query<CircuitRow>('SELECT * FROM circuits WHERE id = $1', [id]);
    return rows[0];
  }

  async list(filter: { ownerId?: string; sessionId?: string; state?: CircuitState }): Promise<CircuitRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [col, v] of [
      ['owner_id', filter.ownerId],
      ['session_id', filter.sessionId],
      ['state', filter.state],
    ] as const) {
      if (v === undefined) continue;
      params.push(v);
      where.push(`${col} = $${params.length}`);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const { rows } = await this.sql.query<CircuitRow>(
      `SELECT * FROM circuits ${clause} ORDER BY created_at DESC, id`,
      params,
    );
    return rows;
  }

  /** The newest live (PENDING/ACTIVE) circuit of a session's service, in `mode` when given. */
  async findLive(sessionId: string, service: string, mode?: FrontendMode): Promise<CircuitRow | undefined> {
    const params: unknown[] = [sessionId, service];
    let extra = '';
    if (mode) {
      params.push(mode);
      extra = ' AND frontend_mode = $3';
    }
    const { rows } = await this.sql.query<CircuitRow>(
      `SELECT * FROM circuits WHERE session_id = $1 AND service = $2 AND state IN ('PENDING', 'ACTIVE')${extra}
       ORDER BY (state = 'ACTIVE') DESC, created_at DESC LIMIT 1`,
      params,
    );
    return rows[0];
  }

  /** Guarded state change (see `CIRCUIT_TRANSITIONS`); `reason` undefined keeps the stored one. */
  async transition(id: string, to: CircuitState, reason?: string | null): Promise<CircuitRow | undefined> {
    const { rows } = await this.sql.query<CircuitRow>(
      `UPDATE circuits SET state = $2,
         state_reason = CASE WHEN $4::boolean THEN $3 ELSE state_reason END,
         updated_at = now(),
         closed_at = CASE WHEN $2 = 'CLOSED' THEN now() ELSE closed_at END
       WHERE id = $1 AND state = ANY($5) RETURNING *`,
      [id, to, reason ?? null, reason !== undefined, circuitSourcesOf(to)],
    );
    return rows[0];
  }

  /** Slots held by live circuits on the given workers, and their counts. */
  async liveSlots(
    workers: string[],
  ): Promise<{ worker: string; port: number | null; subdomain: string | null }[]> {
    const { rows } = await this.sql.query<{ worker: string; port: number | null; subdomain: string | null }>(
      `SELECT worker, port, subdomain FROM circuits WHERE state <> 'CLOSED' AND worker = ANY($1)`,
      [workers],
    );
    return rows;
  }

  async idsNotClosedOfSession(sessionId: string): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(
      `SELECT id FROM circuits WHERE session_id = $1 AND state <> 'CLOSED'`,
      [sessionId],
    );
    return rows.map((r) => r.id);
  }

  /** Circuits needing attention after a restart: CLOSING ones, live ones of ended sessions, stale PENDING ones. */
  async idsToRecover(pendingOlderThanMs: number): Promise<{ id: string; why: string }[]> {
    const { rows } = await this.sql.query<{ id: string; why: string }>(
      `SELECT c.id, CASE
           WHEN c.state = 'CLOSING' THEN 'closing'
           WHEN s.state IN ('TERMINATED', 'ERROR') THEN 'session ended'
           ELSE 'stale pending' END AS why
         FROM circuits c JOIN sessions s ON s.id = c.session_id
        WHERE c.state = 'CLOSING'
           OR (c.state <> 'CLOSED' AND s.state IN ('TERMINATED', 'ERROR'))
           OR (c.state = 'PENDING' AND c.created_at < now() - make_interval(secs => $1::double precision / 1000))`,
      [pendingOlderThanMs],
    );
    return rows;
  }

  /** Every circuit that is not CLOSED, with its session's state (reconciler, doctor). */
  async notClosedWithSession(): Promise<CircuitWithSession[]> {
    const { rows } = await this.sql.query<CircuitWithSession>(
      `SELECT c.*, s.state AS session_state, s.agent AS session_agent
         FROM circuits c LEFT JOIN sessions s ON s.id = c.session_id
        WHERE c.state <> 'CLOSED' ORDER BY c.created_at, c.id`,
    );
    return rows;
  }

  /** ACTIVE and UNAVAILABLE circuits (the worker-health loop's view). */
  async servedStates(): Promise<{ id: string; worker: string; state: 'ACTIVE' | 'UNAVAILABLE' }[]> {
    const { rows } = await this.sql.query<{ id: string; worker: string; state: 'ACTIVE' | 'UNAVAILABLE' }>(
      `SELECT id, worker, state FROM circuits WHERE state IN ('ACTIVE', 'UNAVAILABLE')`,
    );
    return rows;
  }

  /** ACTIVE → UNAVAILABLE for every ACTIVE circuit of a worker; returns the ids moved. */
  async markWorkerUnavailable(worker: string, reason: string): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(
      `UPDATE circuits SET state = 'UNAVAILABLE', state_reason = $2, updated_at = now()
        WHERE worker = $1 AND state = 'ACTIVE' RETURNING id`,
      [worker, reason],
    );
    return rows.map((r) => r.id);
  }

  /** UNAVAILABLE → ACTIVE (the worker is back and confirmed the routes); returns the ids moved. */
  async reactivate(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.sql.query<{ id: string }>(
      `UPDATE circuits SET state = 'ACTIVE', state_reason = NULL, updated_at = now()
        WHERE id = ANY($1) AND state = 'UNAVAILABLE' RETURNING id`,
      [ids],
    );
    return rows.map((r) => r.id);
  }

  async countByState(): Promise<{ state: CircuitState; n: number }[]> {
    const { rows } = await this.sql.query<{ state: CircuitState; n: number }>(
      'SELECT state, count(*)::int AS n FROM circuits GROUP BY state',
    );
    return rows;
  }
}
