/** SQL access for circuits. Only the circuits, lifecycle and idle services call it. */
import type { Grant } from '../../contracts/auth.ts';
import { type CircuitSpec, DEFAULT_TCP_MAX_CONNECTIONS } from '../../contracts/circuit-spec.ts';
import type { EndpointSettings, SpecBackend } from '../../contracts/endpoint.ts';
import type {
  Circuit,
  CircuitFlow,
  CircuitState,
  FrontendMode,
  Protocol,
  SessionState,
  TcpAccessMode,
} from '../../contracts/records.ts';
import { CIRCUIT_LIVE, circuitSourcesOf } from '../../core/state-machines.ts';
import type { SqlDatabase } from '../../stores/types.ts';
import type { TcpAccess } from '../services/access.ts';
import type { CircuitIdleSettings, IdleSource } from '../services/idle-settings.ts';

export interface CircuitRow {
  id: string;
  /** The session it belongs to; null for an endpoint's circuit. */
  session_id: string | null;
  /** The endpoint it belongs to; null for a session's circuit. */
  endpoint_id: string | null;
  /** An endpoint circuit's copy of its endpoint's settings. */
  endpoint_settings: EndpointSettings | null;
  service: string;
  protocol: Protocol;
  owner_id: string;
  worker: string;
  frontend_mode: FrontendMode;
  port: number | null;
  subdomain: string | null;
  app_url: string;
  backends: SpecBackend[];
  state: CircuitState;
  state_reason: string | null;
  created_at: Date;
  updated_at: Date;
  closed_at: Date | null;
  /** TCP circuits only (null for http). */
  access_mode: TcpAccessMode | null;
  allow_from: string[];
  max_connections: number | null;
  /** When the access was last changed (null: never since creation); idle clocks restart there. */
  access_updated_at: Date | null;
  /** bigint columns: numbers from PGlite, strings from node-postgres; read them with `Number`. */
  connection_idle_timeout_ms: number | string;
  connection_idle_source: IdleSource;
  circuit_idle_timeout_ms: number | string | null;
  circuit_idle_source: IdleSource;
  /** The grant (login session, API token) the circuit's current access was given under, and when. */
  grant_login_session: string | null;
  grant_token: string | null;
  granted_at: Date | null;
  flow: CircuitFlow;
}

/** The grant of a circuit row (what its raw TCP connections are revoked by). */
export function grantOf(r: CircuitRow): Grant {
  const g: Grant = {};
  if (r.grant_login_session) g.l = r.grant_login_session;
  if (r.grant_token) g.t = r.grant_token;
  return g;
}

/** The access of a TCP circuit row (null for http). */
export function accessOf(r: CircuitRow): TcpAccess | null {
  return r.access_mode ? { mode: r.access_mode, allowFrom: [...(r.allow_from ?? [])] } : null;
}

/** The idle settings of a circuit row, with their sources. */
export function idleOf(r: CircuitRow): CircuitIdleSettings {
  return {
    connection: { value: Number(r.connection_idle_timeout_ms), source: r.connection_idle_source },
    circuit: {
      value: r.circuit_idle_timeout_ms === null ? null : Number(r.circuit_idle_timeout_ms),
      source: r.circuit_idle_source,
    },
  };
}

/** The earliest time the circuit idle policy could act on a fresh (or just changed) circuit; null without one. */
export function circuitIdleDeadline(r: CircuitRow): number | null {
  const t = idleOf(r).circuit.value;
  return t === null ? null : Math.max(r.created_at.getTime(), r.access_updated_at?.getTime() ?? 0) + t;
}

/**
 * What users connect to: the stored origin for http circuits and for TCP circuits in tunnel mode
 * (the port speaks HTTP and carries tunnels), `tcp://host:port` for raw TCP (allow-list, public).
 * Derived at read time so that an access change in place needs no URL rewrite.
 */
export function appUrlOf(r: CircuitRow): string {
  if (r.protocol !== 'tcp' || r.access_mode === 'tunnel') return r.app_url;
  return `tcp://${new URL(r.app_url).host}`;
}

/** `ws(s)://host:port/_appproxy/tunnel` of a circuit (its origin's scheme decides ws or wss). */
export function tunnelUrlOf(r: CircuitRow): string {
  const u = new URL(r.app_url);
  return `${u.protocol === 'https:' ? 'wss' : 'ws'}://${u.host}/_appproxy/tunnel`;
}

export function toCircuit(r: CircuitRow): Circuit {
  const idle = idleOf(r);
  return {
    id: r.id,
    sessionId: r.session_id,
    endpointId: r.endpoint_id,
    service: r.service,
    protocol: r.protocol,
    ownerId: r.owner_id,
    worker: r.worker,
    frontendMode: r.frontend_mode,
    slot: r.frontend_mode === 'port' ? { port: r.port! } : { subdomain: r.subdomain! },
    appUrl: appUrlOf(r),
    backends: r.backends,
    access: accessOf(r),
    idle: { connectionIdleTimeoutMs: idle.connection.value, circuitIdleTimeoutMs: idle.circuit.value },
    flow: r.flow,
    state: r.state,
    stateReason: r.state_reason,
    createdAt: r.created_at.toISOString(),
    closedAt: r.closed_at ? r.closed_at.toISOString() : null,
  };
}

/** What the circuit's worker must serve: the value of `kvKeys.circuit(worker, id)`. */
export function circuitSpecOf(row: CircuitRow): CircuitSpec {
  const spec: CircuitSpec = {
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
  if (row.endpoint_id) spec.endpointId = row.endpoint_id;
  if (row.endpoint_settings) spec.endpoint = row.endpoint_settings;
  if (row.access_mode) {
    spec.tcp = {
      access: row.access_mode,
      allowFrom: [...(row.allow_from ?? [])],
      maxConnections: row.max_connections ?? DEFAULT_TCP_MAX_CONNECTIONS,
    };
    // Raw TCP connections carry no credential of their own: the circuit's grant stands for them.
    if (row.access_mode !== 'tunnel' && row.granted_at) {
      spec.grant = grantOf(row);
      spec.grantedAt = row.granted_at.getTime();
    }
  }
  spec.idleTimeoutMs = Number(row.connection_idle_timeout_ms);
  if (row.flow === 'legacy') spec.flow = 'legacy';
  return spec;
}

/** A circuit row with the state of its session (null when the session row is missing). */
export type CircuitWithSession = CircuitRow & {
  session_state: SessionState | null;
  /** An endpoint's circuit: the endpoint's state (ACTIVE, DELETING, DELETED); null otherwise. */
  endpoint_state: string | null;
  session_agent: string | null;
};

export interface NewCircuit {
  id: string;
  /** Exactly one of the two: the session's circuit, or the endpoint's. */
  sessionId: string | null;
  endpointId: string | null;
  /** An endpoint's circuit: its endpoint's settings. */
  endpointSettings?: EndpointSettings | null;
  service: string;
  protocol: Protocol;
  ownerId: string;
  worker: string;
  frontendMode: FrontendMode;
  port: number | null;
  subdomain: string | null;
  appUrl: string;
  backends: SpecBackend[];
  /** TCP circuits: their access and connection limit. */
  tcp: (TcpAccess & { maxConnections: number }) | null;
  idle: CircuitIdleSettings;
  /** Who asked for it (what its raw TCP connections are revoked by). */
  grant: Grant;
  /** Default integrated. */
  flow?: CircuitFlow;
}

/** A live circuit as the idle loop sees it, with its session's policy. */
export interface IdleCandidateRow {
  id: string;
  session_id: string;
  state: CircuitState;
  created_at: Date;
  access_updated_at: Date | null;
  circuit_idle_timeout_ms: number | string | null;
  session_state: SessionState;
  session_idle_timeout_ms: number | string | null;
}

export class CircuitRepo {
  constructor(private readonly sql: SqlDatabase) {}

  /**
   * Inserts a PENDING circuit if its owner is still live: its session RUNNING, or its endpoint
   * ACTIVE. The owner's row is locked for the transaction, so a concurrent termination (which moves
   * the owner out of its live state, then lists its circuits) either sees this circuit or makes
   * this insert fail: no circuit outlives its owner unseen. Returns undefined when the owner is not
   * live any more; throws `UniqueViolation` when the slot is taken.
   */
  async insertForLiveOwner(c: NewCircuit): Promise<CircuitRow | undefined> {
    return this.sql.transaction(async (tx) => {
      const owner =
        c.endpointId !== null
          ? await tx.query<{ state: string }>('SELECT state FROM endpoints WHERE id = $1 FOR UPDATE', [
              c.endpointId,
            ])
          : await tx.query<{ state: string }>('SELECT state FROM sessions WHERE id = $1 FOR UPDATE', [
              c.sessionId,
            ]);
      if (owner.rows[0]?.state !== (c.endpointId !== null ? 'ACTIVE' : 'RUNNING')) return undefined;
      const { rows } = await tx.query<CircuitRow>(
        `INSERT INTO circuits (id, session_id, service, protocol, owner_id, worker, frontend_mode, port, subdomain,
                               app_url, backends, state, access_mode, allow_from, max_connections,
                               connection_idle_timeout_ms, connection_idle_source,
                               circuit_idle_timeout_ms, circuit_idle_source,
                               grant_login_session, grant_token, granted_at, endpoint_id, endpoint_settings, flow)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, 'PENDING', $12, $13::text[], $14,
                 $15, $16, $17, $18, $19, $20, now(), $21, $22::jsonb, $23) RETURNING *`,
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
          c.tcp?.mode ?? null,
          c.tcp?.allowFrom ?? [],
          c.tcp?.maxConnections ?? null,
          c.idle.connection.value,
          c.idle.connection.source,
          c.idle.circuit.value,
          c.idle.circuit.source,
          c.grant.l ?? null,
          c.grant.t ?? null,
          c.endpointId,
          c.endpointSettings ? JSON.stringify(c.endpointSettings) : null,
          c.flow ?? 'integrated',
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

  /**
   * Changes a live TCP circuit's access (PENDING/ACTIVE/UNAVAILABLE only); its idle clock restarts
   * (`access_updated_at`), so that a circuit just opened up to someone is not collected at once.
   * Returns the updated row, or undefined when the circuit is not live (closed meanwhile).
   */
  async updateAccess(id: string, access: TcpAccess, grant: Grant): Promise<CircuitRow | undefined> {
    const { rows } = await this.sql.query<CircuitRow>(
      `UPDATE circuits SET access_mode = $2, allow_from = $3::text[], access_updated_at = now(), updated_at = now(),
              grant_login_session = $5, grant_token = $6, granted_at = now()
        WHERE id = $1 AND protocol = 'tcp' AND state = ANY($4) RETURNING *`,
      [id, access.mode, access.allowFrom, CIRCUIT_LIVE, grant.l ?? null, grant.t ?? null],
    );
    return rows[0];
  }

  /** The live circuit of an endpoint (its URL), if any. */
  async liveOfEndpoint(endpointId: string): Promise<CircuitRow | undefined> {
    const { rows } = await this.sql.query<CircuitRow>(
      `SELECT * FROM circuits WHERE endpoint_id = $1 AND state = ANY($2) ORDER BY created_at DESC LIMIT 1`,
      [endpointId, CIRCUIT_LIVE],
    );
    return rows[0];
  }

  /** An endpoint circuit's backends and settings (its endpoint changed); the projection republishes the spec. */
  async setEndpoint(id: string, backends: SpecBackend[], settings: EndpointSettings): Promise<void> {
    await this.sql.query(
      `UPDATE circuits SET backends = $2::jsonb, endpoint_settings = $3::jsonb, updated_at = now()
        WHERE id = $1 AND state = ANY($4)`,
      [id, JSON.stringify(backends), JSON.stringify(settings), CIRCUIT_LIVE],
    );
  }

  /** A user's live circuits on any worker (a disabled or deleted user's, to close). */
  async liveOfOwner(ownerId: string): Promise<CircuitRow[]> {
    const { rows } = await this.sql.query<CircuitRow>(
      `SELECT * FROM circuits WHERE owner_id = $1 AND state = ANY($2)`,
      [ownerId, CIRCUIT_LIVE],
    );
    return rows;
  }

  /**
   * Live circuits that an idle policy may judge: ACTIVE ones with a circuit idle timeout, and every
   * live circuit of a RUNNING session with a session idle timeout (the session policy needs all of
   * them). One query for the whole installation.
   */
  async idleCandidates(): Promise<IdleCandidateRow[]> {
    const { rows } = await this.sql.query<IdleCandidateRow>(
      `SELECT c.id, c.session_id, c.state, c.created_at, c.access_updated_at, c.circuit_idle_timeout_ms,
              s.state AS session_state, s.idle_timeout_ms AS session_idle_timeout_ms
         FROM circuits c JOIN sessions s ON s.id = c.session_id
        WHERE c.state = ANY($1)
          AND ((c.state = 'ACTIVE' AND c.circuit_idle_timeout_ms IS NOT NULL)
            OR (s.state = 'RUNNING' AND s.idle_timeout_ms IS NOT NULL))`,
      [CIRCUIT_LIVE],
    );
    return rows;
  }

  /**
   * Endpoint circuits and the sessions they route to (live circuits, session routes only): an
   * endpoint's traffic is its replicas' activity, so a replica serving it is not idle.
   */
  async endpointCircuitsBySession(): Promise<{ session_id: string; circuit_id: string; created_at: Date }[]> {
    const { rows } = await this.sql.query<{ session_id: string; circuit_id: string; created_at: Date }>(
      `SELECT r.session_id, c.id AS circuit_id, c.created_at
         FROM endpoint_routes r JOIN circuits c ON c.endpoint_id = r.endpoint_id
        WHERE r.session_id IS NOT NULL AND c.state = ANY($1)`,
      [CIRCUIT_LIVE],
    );
    return rows;
  }

  /** The live circuits of one session (the activity endpoint's view of the session policy). */
  async liveOfSession(sessionId: string): Promise<CircuitRow[]> {
    const { rows } = await this.sql.query<CircuitRow>(
      `SELECT * FROM circuits WHERE session_id = $1 AND state = ANY($2)`,
      [sessionId, CIRCUIT_LIVE],
    );
    return rows;
  }

  /**
   * What allocation needs of the given workers: how many live circuits each holds, and the ports
   * taken on the port-mode ones (a port range is small and bounded). Subdomains are not read: a
   * random 24-bit label rarely collides and the unique index arbitrates, so allocation does not
   * ship every live circuit's row on every start-service (the cost that grew with circuit count).
   */
  async liveLoad(
    workers: string[],
    portWorkers: string[],
  ): Promise<{ counts: Map<string, number>; ports: { worker: string; port: number }[] }> {
    const counts =
      workers.length === 0
        ? { rows: [] }
        : await this.sql.query<{ worker: string; n: number }>(
            `SELECT worker, count(*)::int AS n FROM circuits WHERE state <> 'CLOSED' AND worker = ANY($1) GROUP BY worker`,
            [workers],
          );
    const ports =
      portWorkers.length === 0
        ? { rows: [] }
        : await this.sql.query<{ worker: string; port: number }>(
            `SELECT worker, port FROM circuits WHERE state <> 'CLOSED' AND port IS NOT NULL AND worker = ANY($1)`,
            [portWorkers],
          );
    return { counts: new Map(counts.rows.map((r) => [r.worker, r.n])), ports: ports.rows };
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

  /**
   * Every circuit that is not CLOSED, with its session's state (reconciler, doctor), in id order.
   * Read in pages (keyset on id) with a turn of the event loop between them: the embedded SQL
   * engine runs in this thread, and one 10k-row read would stall every API call for its duration.
   */
  async notClosedWithSession(pageSize = 1000): Promise<CircuitWithSession[]> {
    const out: CircuitWithSession[] = [];
    let after: string | null = null;
    for (;;) {
      const { rows }: { rows: CircuitWithSession[] } = await this.sql.query<CircuitWithSession>(
        `SELECT c.*, s.state AS session_state, s.agent AS session_agent, e.state AS endpoint_state
           FROM circuits c LEFT JOIN sessions s ON s.id = c.session_id LEFT JOIN endpoints e ON e.id = c.endpoint_id
          WHERE c.state <> 'CLOSED'${after === null ? '' : ' AND c.id > $2'}
          ORDER BY c.id LIMIT $1`,
        after === null ? [pageSize] : [pageSize, after],
      );
      out.push(...rows);
      if (rows.length < pageSize) return out;
      after = rows[rows.length - 1]!.id;
      await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * The worker-health loop's view: workers that carry ACTIVE circuits, and the UNAVAILABLE circuits.
   * The loop runs every second; with tens of thousands of ACTIVE circuits, shipping every row to it
   * cost more than the whole start-service path, so ACTIVE circuits are summed up by worker in SQL.
   */
  async servedStates(): Promise<{ activeWorkers: string[]; unavailable: { id: string; worker: string }[] }> {
    // Per worker, the first ACTIVE circuit is enough (an index probe, not a scan of every circuit).
    const active = await this.sql.query<{ worker: string }>(
      `SELECT w.authority AS worker FROM workers w
        WHERE EXISTS (SELECT 1 FROM circuits c WHERE c.worker = w.authority AND c.state = 'ACTIVE')`,
    );
    const unavailable = await this.sql.query<{ id: string; worker: string }>(
      `SELECT id, worker FROM circuits WHERE state = 'UNAVAILABLE'`,
    );
    return { activeWorkers: active.rows.map((r) => r.worker), unavailable: unavailable.rows };
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
