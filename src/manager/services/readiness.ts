/**
 * `GET /readyz`: whether the stores this manager needs answer, and who leads the background loops.
 * SQL or KV not answering makes the manager unavailable (503): it can neither read the truth nor
 * project it. The counters store (Redis) not answering only degrades it (200): activity, idle
 * policies and single-use setup marks wait, but sessions, circuits and the data plane keep
 * working, and taking every manager out of a load balancer for a Redis outage would cut all of
 * that too.
 */
import { counterKeys } from '../../contracts/activity.ts';
import { kvKeys } from '../../contracts/kv-layout.ts';
import { probe } from '../../core/probe.ts';
import type { Stores } from '../../stores/types.ts';
import type { LeaderElector } from '../loops/leader.ts';

export interface ReadinessReport {
  status: 'ready' | 'degraded' | 'unavailable';
  stores: { sql: boolean; kv: boolean; counters: boolean };
  leader: { id: string | null; self: boolean };
}

export class Readiness {
  constructor(private readonly d: { stores: Stores; leader: LeaderElector }) {}

  async check(): Promise<ReadinessReport> {
    const { sql, kv, counters } = this.d.stores;
    const [sqlUp, kvUp, countersUp] = await Promise.all([
      probe(() => sql.query('SELECT 1')),
      probe(() => kv.get(kvKeys.setupTokenKeys())),
      probe(() => counters.get(counterKeys.readinessProbe())),
    ]);
    const status = !sqlUp || !kvUp ? 'unavailable' : countersUp ? 'ready' : 'degraded';
    return {
      status,
      stores: { sql: sqlUp, kv: kvUp, counters: countersUp },
      leader: { id: this.d.leader.leader?.id ?? null, self: this.d.leader.isLeader },
    };
  }
}
