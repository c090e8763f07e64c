/**
 * `GET /readyz`: whether this manager can serve the API now. Each store role is probed with one
 * cheap read, bounded at `PROBE_TIMEOUT_MS` so a store that hangs reads as down instead of holding
 * the probe. SQL and KV are needed for every write and most reads (`unavailable`, 503); without
 * the counters role the API still works but activity, idle decisions and single-use marks do not
 * (`degraded`, 200: a load balancer keeps this manager in rotation).
 */
import { kvKeys } from '../../contracts/kv-layout.ts';
import { probe } from '../../core/probe.ts';
import type { Stores } from '../../stores/types.ts';
import type { LeaderElector } from '../loops/leader.ts';

export const PROBE_TIMEOUT_MS = 2000;

/** A key nobody writes; reading it proves the counters store answers. */
const COUNTERS_PROBE_KEY = 'ap:ready:probe';

export interface ReadinessReport {
  status: 'ready' | 'degraded' | 'unavailable';
  stores: { sql: boolean; kv: boolean; counters: boolean };
  /** The leader as this manager knows it, and whether it is this one. */
  leader: { id: string | null; self: boolean };
}

export class Readiness {
  constructor(
    private readonly stores: Stores,
    private readonly leader: Pick<LeaderElector, 'leader' | 'isLeader'>,
    private readonly timeoutMs = PROBE_TIMEOUT_MS,
  ) {}

  async check(): Promise<ReadinessReport> {
    const { sql, kv, counters } = this.stores;
    const [sqlUp, kvUp, countersUp] = await Promise.all([
      probe(() => sql.query('SELECT 1'), this.timeoutMs),
      probe(() => kv.get(kvKeys.setupTokenKeys()), this.timeoutMs),
      probe(() => counters.get(COUNTERS_PROBE_KEY), this.timeoutMs),
    ]);
    const status = !sqlUp || !kvUp ? 'unavailable' : countersUp ? 'ready' : 'degraded';
    return {
      status,
      stores: { sql: sqlUp, kv: kvUp, counters: countersUp },
      leader: { id: this.leader.leader?.id ?? null, self: this.leader.isLeader },
    };
  }
}
