/** SQL access for workers (the durable list; liveness comes from KV registrations). */
import type { WorkerRegistration } from '../../contracts/kv-layout.ts';
import type { FrontendMode, Protocol } from '../../contracts/records.ts';
import type { SqlDatabase } from '../../stores/types.ts';

export interface WorkerRow {
  authority: string;
  frontend_mode: FrontendMode;
  protocols: Protocol[];
  port_min: number | null;
  port_max: number | null;
  wildcard_domain: string | null;
  public_scheme: 'http' | 'https';
  public_host: string;
  public_port: number | null;
  first_seen_at: Date;
  last_seen_at: Date;
  draining: boolean;
  live_circuits: number;
}

export class WorkerRepo {
  constructor(private readonly sql: SqlDatabase) {}

  async upsert(r: WorkerRegistration): Promise<void> {
    await this.sql.query(
      `INSERT INTO workers (authority, frontend_mode, protocols, port_min, port_max, wildcard_domain,
                            public_scheme, public_host, public_port)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (authority) DO UPDATE SET
         frontend_mode = EXCLUDED.frontend_mode, protocols = EXCLUDED.protocols,
         port_min = EXCLUDED.port_min, port_max = EXCLUDED.port_max,
         wildcard_domain = EXCLUDED.wildcard_domain, public_scheme = EXCLUDED.public_scheme,
         public_host = EXCLUDED.public_host, public_port = EXCLUDED.public_port, last_seen_at = now()`,
      [
        r.authority,
        r.frontendMode,
        r.protocols,
        r.portRange?.[0] ?? null,
        r.portRange?.[1] ?? null,
        r.wildcardDomain,
        r.publicScheme,
        r.publicHost,
        r.publicPort,
      ],
    );
  }

  async touch(authority: string): Promise<void> {
    await this.sql.query('UPDATE workers SET last_seen_at = now() WHERE authority = $1', [authority]);
  }

  /** True when the worker exists. */
  async setDraining(authority: string, draining: boolean): Promise<boolean> {
    const { rowCount } = await this.sql.query('UPDATE workers SET draining = $2 WHERE authority = $1', [
      authority,
      draining,
    ]);
    return rowCount > 0;
  }

  async drainingAmong(authorities: string[]): Promise<string[]> {
    const { rows } = await this.sql.query<{ authority: string }>(
      'SELECT authority FROM workers WHERE draining AND authority = ANY($1)',
      [authorities],
    );
    return rows.map((r) => r.authority);
  }

  async lastSeen(): Promise<Map<string, Date>> {
    const { rows } = await this.sql.query<{ authority: string; last_seen_at: Date }>(
      'SELECT authority, last_seen_at FROM workers',
    );
    return new Map(rows.map((r) => [r.authority, r.last_seen_at]));
  }

  async list(): Promise<WorkerRow[]> {
    const { rows } = await this.sql.query<WorkerRow>(
      `SELECT w.*, (SELECT count(*)::int FROM circuits c WHERE c.worker = w.authority AND c.state <> 'CLOSED') AS live_circuits
         FROM workers w ORDER BY w.authority`,
    );
    return rows;
  }
}
