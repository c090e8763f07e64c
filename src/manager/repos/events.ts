/**
 * SQL access for lifecycle events: what the lifecycle and the idle policies did to a session or a
 * circuit, in order. Recording is best effort (`EventLog.record` never throws): an event is a
 * record of a flow, and must never fail or slow the flow it records.
 */
import type { Logger } from 'pino';
import type { LifecycleEvent } from '../../contracts/records.ts';
import type { SqlDatabase } from '../../stores/types.ts';

/** Kinds recorded today (the field is free text so that new kinds need no migration). */
export type LifecycleEventKind =
  | 'session-created'
  | 'session-running'
  | 'session-terminated'
  | 'session-error'
  | 'session-idle-terminated'
  | 'circuit-opened'
  | 'circuit-access-changed'
  | 'circuit-closed'
  | 'circuit-idle-closed'
  | 'endpoint-created'
  | 'endpoint-routes-changed'
  | 'endpoint-deleted';

interface EventRow {
  id: number | string;
  at: Date;
  session_id: string | null;
  endpoint_id: string | null;
  circuit_id: string | null;
  kind: string;
  detail: string;
}

/** At most this many events are answered per call (the newest ones, oldest first). */
export const EVENTS_LIMIT = 1000;

function toEvent(r: EventRow): LifecycleEvent {
  return {
    id: Number(r.id),
    at: r.at.toISOString(),
    sessionId: r.session_id,
    endpointId: r.endpoint_id,
    circuitId: r.circuit_id,
    kind: r.kind,
    detail: r.detail,
  };
}

export class EventLog {
  constructor(
    private readonly sql: SqlDatabase,
    private readonly logger: Logger,
  ) {}

  /** An event of a session or an endpoint (exactly one of them), and maybe one of its circuits. */
  async record(e: {
    sessionId?: string | null;
    endpointId?: string | null;
    circuitId?: string | null;
    kind: LifecycleEventKind;
    detail: string;
  }): Promise<void> {
    try {
      await this.sql.query(
        'INSERT INTO lifecycle_events (session_id, endpoint_id, circuit_id, kind, detail) VALUES ($1, $2, $3, $4, $5)',
        [e.sessionId ?? null, e.endpointId ?? null, e.circuitId ?? null, e.kind, e.detail],
      );
    } catch (err) {
      this.logger.warn(
        { err, event: e.kind, session: e.sessionId, endpoint: e.endpointId },
        'could not record a lifecycle event',
      );
    }
  }

  /** Events of a session (its circuits' included), oldest first. */
  async ofSession(sessionId: string): Promise<LifecycleEvent[]> {
    return this.list('session_id', sessionId);
  }

  /** Events of an endpoint (its circuit's included), oldest first. */
  async ofEndpoint(endpointId: string): Promise<LifecycleEvent[]> {
    return this.list('endpoint_id', endpointId);
  }

  /** Events of one circuit, oldest first. */
  async ofCircuit(circuitId: string): Promise<LifecycleEvent[]> {
    return this.list('circuit_id', circuitId);
  }

  /**
   * Events after `afterId` (oldest first, at most `limit`), each with the owner of its session or
   * endpoint (what decides who may see it).
   */
  async since(afterId: number, limit: number): Promise<(LifecycleEvent & { ownerId: string | null })[]> {
    const { rows } = await this.sql.query<EventRow & { owner_id: string | null }>(
      `SELECT e.*, COALESCE(s.owner_id, en.owner_id) AS owner_id
         FROM lifecycle_events e
         LEFT JOIN sessions s ON s.id = e.session_id
         LEFT JOIN endpoints en ON en.id = e.endpoint_id
        WHERE e.id > $1 ORDER BY e.id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map((r) => ({ ...toEvent(r), ownerId: r.owner_id }));
  }

  /** The newest event's id (0 when there is none). */
  async lastId(): Promise<number> {
    const { rows } = await this.sql.query<{ id: string | number | null }>(
      'SELECT max(id) AS id FROM lifecycle_events',
    );
    return Number(rows[0]?.id ?? 0);
  }

  private async list(
    column: 'session_id' | 'endpoint_id' | 'circuit_id',
    id: string,
  ): Promise<LifecycleEvent[]> {
    const { rows } = await this.sql.query<EventRow>(
      `SELECT * FROM (SELECT * FROM lifecycle_events WHERE ${column} = $1 ORDER BY id DESC LIMIT ${EVENTS_LIMIT}) e
        ORDER BY id`,
      [id],
    );
    return rows.map(toEvent);
  }
}
