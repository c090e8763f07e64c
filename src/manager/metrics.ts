/** The manager's Prometheus metrics (prefix `appproxy_manager_`), registered on the given registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CircuitState, SessionState } from '../contracts/records.ts';

const SESSION_STATES: SessionState[] = ['PENDING', 'RUNNING', 'TERMINATING', 'TERMINATED', 'ERROR'];
const CIRCUIT_STATES: CircuitState[] = ['PENDING', 'ACTIVE', 'UNAVAILABLE', 'CLOSING', 'CLOSED'];

export interface ManagerMetrics {
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  startServiceDuration: Histogram<'outcome'>;
  /** 1 while this manager is the leader (runs the background loops), else 0. */
  leader: Gauge<'manager'>;
  leaderChanges: Counter;
  reconcileRepairs: Counter<'kind'>;
  reconcileRuns: Counter<'outcome'>;
  circuitsUnavailable: Counter;
  idleActions: Counter<'policy'>;
}

export interface StateCounts {
  sessions: () => Promise<{ state: SessionState; n: number }[]>;
  circuits: () => Promise<{ state: CircuitState; n: number }[]>;
}

export function createManagerMetrics(registry: Registry, counts: StateCounts): ManagerMetrics {
  const registers = [registry];
  const stateGauge = <S extends string>(
    name: string,
    help: string,
    states: S[],
    read: () => Promise<{ state: S; n: number }[]>,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['state'],
      registers,
      // Read at scrape time from SQL, so every replica reports the same truth. A store outage keeps
      // the last values rather than failing the whole scrape.
      async collect() {
        try {
          const rows = await read();
          for (const s of states) this.set({ state: s }, rows.find((r) => r.state === s)?.n ?? 0);
        } catch {
          // keep previous values
        }
      },
    });
  stateGauge('appproxy_manager_sessions', 'Sessions by state.', SESSION_STATES, counts.sessions);
  stateGauge('appproxy_manager_circuits', 'Circuits by state.', CIRCUIT_STATES, counts.circuits);
  return {
    leader: new Gauge({
      name: 'appproxy_manager_leader',
      help: 'Whether this manager is the leader that runs the background loops (1) or not (0); label: its id.',
      labelNames: ['manager'],
      registers,
    }),
    leaderChanges: new Counter({
      name: 'appproxy_manager_leader_changes_total',
      help: 'Times this manager became or stopped being the leader.',
      registers,
    }),
    reconcileRepairs: new Counter({
      name: 'appproxy_manager_reconcile_repairs_total',
      help: 'Repairs made by the reconciler, by kind (route-missing, route-stale, route-orphan, session-final, closing-stuck, pending-stuck, terminating-stuck).',
      labelNames: ['kind'],
      registers,
    }),
    reconcileRuns: new Counter({
      name: 'appproxy_manager_reconcile_runs_total',
      help: 'Reconciler passes, by outcome (ok, error).',
      labelNames: ['outcome'],
      registers,
    }),
    idleActions: new Counter({
      name: 'appproxy_manager_idle_actions_total',
      help: 'Circuits closed (policy circuit-idle) and sessions terminated (policy session-idle) by idle policies.',
      labelNames: ['policy'],
      registers,
    }),
    circuitsUnavailable: new Counter({
      name: 'appproxy_manager_circuits_unavailable_total',
      help: 'Circuits marked UNAVAILABLE because their worker stopped answering.',
      registers,
    }),
    httpRequests: new Counter({
      name: 'appproxy_manager_http_requests_total',
      help: 'HTTP requests answered by the manager API, by route template and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'appproxy_manager_http_request_duration_seconds',
      help: 'Time to answer manager API requests.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    startServiceDuration: new Histogram({
      name: 'appproxy_manager_start_service_duration_seconds',
      help: 'Time from a start-service request to its answer (slot allocation and worker readiness included).',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
  };
}
