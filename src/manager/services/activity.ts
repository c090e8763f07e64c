/**
 * Activity of circuits as the idle policies see it, and `GET /v1/circuits/{id}/activity`: the
 * counters the workers wrote (bytes each way, requests, open connections, last client and backend
 * byte), since when the circuit is idle, and which idle policy acts first and when
 * (`explainPolicies`). The idle loop (`loops/idle-policies.ts`) reads activity the same way.
 */
import { counterKeys } from '../../contracts/activity.ts';
import type {
  CircuitActivity,
  CircuitState,
  IdlePolicyExplanation,
  SessionState,
} from '../../contracts/records.ts';
import { formatDuration } from '../../core/duration.ts';
import { isCircuitLive } from '../../core/state-machines.ts';
import type { CounterStore } from '../../stores/types.ts';
import { type CircuitRepo, type CircuitRow, idleOf } from '../repos/circuits.ts';
import { type SessionRepo, sessionIdleOf } from '../repos/sessions.ts';
import type { IdleSource } from './idle-settings.ts';

/** Keys per multi-get: large enough that 10k circuits take a few round trips, small enough not to block Redis. */
export const READ_CHUNK_KEYS = 10_000;

/** When a circuit became idle: its last byte, else its creation or last access change (the later). */
export function idleSinceOf(
  lastActivity: number | null,
  createdAt: number,
  accessUpdatedAt: number | null,
): number {
  return Math.max(lastActivity ?? createdAt, accessUpdatedAt ?? 0);
}

/** Last activity (epoch ms, the later of last client and last backend byte) of each circuit. */
export async function readLastActivity(
  counters: CounterStore,
  ids: readonly string[],
): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  const perChunk = Math.max(1, Math.floor(READ_CHUNK_KEYS / 2));
  for (let i = 0; i < ids.length; i += perChunk) {
    const chunk = ids.slice(i, i + perChunk);
    const keys = chunk.flatMap((id) => [counterKeys.lastClientAt(id), counterKeys.lastBackendAt(id)]);
    const values = await counters.mget(keys);
    chunk.forEach((id, j) => {
      const c = toMs(values[2 * j]);
      const b = toMs(values[2 * j + 1]);
      out.set(id, c === null && b === null ? null : Math.max(c ?? 0, b ?? 0));
    });
  }
  return out;
}

function toMs(v: string | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : null;
}

export interface ExplainInput {
  now: number;
  /** How often the leader looks (for "due now" sentences). */
  checkIntervalMs: number;
  circuit: {
    id: string;
    state: CircuitState;
    idleSince: number;
    timeoutMs: number | null;
    source: IdleSource;
  };
  session: {
    state: SessionState;
    timeoutMs: number | null;
    source: IdleSource;
    /** Every live circuit of the session (this one included when live), with its idle-since. */
    liveCircuits: { id: string; idleSince: number }[];
  };
}

/**
 * The idle policies that apply to one circuit and when each would act if nothing moves:
 * `policies` lists every policy that is configured for it, `policy` is the one that acts first
 * (the earliest `actsAt`; when none can act now, the first that applies; null when none applies).
 */
export function explainPolicies(x: ExplainInput): {
  policy: IdlePolicyExplanation | null;
  policies: IdlePolicyExplanation[];
} {
  const policies: IdlePolicyExplanation[] = [];
  const c = x.circuit;
  const dueNow = `is due now; the leader acts within ${formatDuration(x.checkIntervalMs)}.`;

  if (c.timeoutMs !== null) {
    const base = { policy: 'circuit-idle' as const, timeoutMs: c.timeoutMs, source: c.source };
    const limit = `circuit idle timeout ${formatDuration(c.timeoutMs)} (from ${c.source})`;
    if (c.state === 'ACTIVE') {
      const at = c.idleSince + c.timeoutMs;
      policies.push({
        ...base,
        actsAt: iso(at),
        explanation:
          `No byte moved since ${iso(c.idleSince)}; ${limit}: ` +
          (at <= x.now
            ? `closing the circuit ${dueNow}`
            : `closes the circuit at ${iso(at)} unless a byte moves before.`),
      });
    } else {
      const why =
        c.state === 'PENDING'
          ? 'the circuit is being opened; the policy applies once it is ACTIVE'
          : c.state === 'UNAVAILABLE'
            ? 'its worker is not answering; the policy waits until the circuit is ACTIVE again'
            : `the circuit is ${c.state}`;
      policies.push({ ...base, actsAt: null, explanation: `${limit}; it cannot act now: ${why}.` });
    }
  }

  const s = x.session;
  if (s.timeoutMs !== null) {
    const base = { policy: 'session-idle' as const, timeoutMs: s.timeoutMs, source: s.source };
    const limit = `session idle timeout ${formatDuration(s.timeoutMs)} (from ${s.source})`;
    const holder = s.liveCircuits.reduce<{ id: string; idleSince: number } | null>(
      (a, b) => (a === null || b.idleSince > a.idleSince ? b : a),
      null,
    );
    if (s.state !== 'RUNNING') {
      policies.push({
        ...base,
        actsAt: null,
        explanation: `${limit}; it cannot act: the session is ${s.state}.`,
      });
    } else if (!isCircuitLive(c.state) || holder === null) {
      policies.push({
        ...base,
        actsAt: null,
        explanation: `${limit}; it cannot act through this circuit: the circuit is ${c.state}, and a session is judged by its live circuits only.`,
      });
    } else if (holder.id !== c.id && holder.idleSince > c.idleSince) {
      const at = holder.idleSince + s.timeoutMs;
      policies.push({
        ...base,
        actsAt: null,
        explanation: `${limit}; it cannot act now: circuit ${holder.id} of the same session moved bytes at ${iso(holder.idleSince)}, later than this one, and the session is terminated only once every circuit has been idle that long (at ${iso(at)} if nothing moves anywhere).`,
      });
    } else {
      const at = holder.idleSince + s.timeoutMs;
      const others = s.liveCircuits.length - 1;
      policies.push({
        ...base,
        actsAt: iso(at),
        explanation:
          `${others === 0 ? 'The only live circuit of the session' : `Every live circuit of the session (${others + 1})`} idle since ${iso(holder.idleSince)}; ${limit}: ` +
          (at <= x.now
            ? `terminating the session ${dueNow}`
            : `terminates the session at ${iso(at)} unless a byte moves on any of its circuits.`),
      });
    }
  }

  const acting = policies
    .filter((p) => p.actsAt !== null)
    .sort((a, b) => Date.parse(a.actsAt!) - Date.parse(b.actsAt!));
  return { policy: acting[0] ?? policies[0] ?? null, policies };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export interface ActivityServiceDeps {
  counters: CounterStore;
  repo: CircuitRepo;
  sessionRepo: SessionRepo;
  /** How often the leader's idle loop looks (for "due now" sentences). */
  checkIntervalMs: number;
}

export class ActivityService {
  constructor(private readonly d: ActivityServiceDeps) {}

  /** The activity of one circuit and the idle policies that apply to it now. */
  async of(row: CircuitRow): Promise<CircuitActivity> {
    const { counters } = this.d;
    const id = row.id;
    const [bytesIn, bytesOut, requests, lastClient, lastBackend] = await counters.mget([
      counterKeys.bytesIn(id),
      counterKeys.bytesOut(id),
      counterKeys.requests(id),
      counterKeys.lastClientAt(id),
      counterKeys.lastBackendAt(id),
    ]);
    const openKeys = await counters.keys(counterKeys.openConnections(id, ''));
    const open = openKeys.length > 0 ? await counters.mget(openKeys) : [];
    const openConnections = open.reduce((n, v) => n + num(v), 0);
    const lc = num(lastClient) || null;
    const lb = num(lastBackend) || null;
    const last = lc !== null || lb !== null ? Math.max(lc ?? 0, lb ?? 0) : null;
    const idleSince = idleSinceOf(last, row.created_at.getTime(), row.access_updated_at?.getTime() ?? null);
    const { policy, policies } = await this.explain(row, idleSince);
    return {
      circuitId: id,
      bytesIn: num(bytesIn),
      bytesOut: num(bytesOut),
      requests: num(requests),
      openConnections,
      lastClientAt: isoOrNull(lc),
      lastBackendAt: isoOrNull(lb),
      lastActivityAt: isoOrNull(last),
      idleSince: isoOrNull(idleSince),
      policy,
      policies,
    };
  }

  /** The idle policies of a circuit as they stand now (see `explainPolicies`). */
  private async explain(row: CircuitRow, idleSince: number) {
    const session = row.session_id === null ? undefined : await this.d.sessionRepo.getRow(row.session_id);
    const idle = idleOf(row);
    const sessionIdle = session ? sessionIdleOf(session) : null;
    let liveCircuits: { id: string; idleSince: number }[] = [];
    if (session?.state === 'RUNNING' && sessionIdle?.session.value != null) {
      const live = await this.d.repo.liveOfSession(row.session_id!);
      const acts = await readLastActivity(
        this.d.counters,
        live.map((c) => c.id),
      );
      liveCircuits = live.map((c) => ({
        id: c.id,
        idleSince:
          c.id === row.id
            ? idleSince
            : idleSinceOf(
                acts.get(c.id) ?? null,
                c.created_at.getTime(),
                c.access_updated_at?.getTime() ?? null,
              ),
      }));
    }
    return explainPolicies({
      now: Date.now(),
      checkIntervalMs: this.d.checkIntervalMs,
      circuit: {
        id: row.id,
        state: row.state,
        idleSince,
        timeoutMs: idle.circuit.value,
        source: idle.circuit.source,
      },
      session: {
        state: session?.state ?? 'TERMINATED',
        timeoutMs: sessionIdle?.session.value ?? null,
        source: sessionIdle?.session.source ?? 'config',
        liveCircuits,
      },
    });
  }
}

function num(v: string | null | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
