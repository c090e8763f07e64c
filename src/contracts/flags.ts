/**
 * Feature flags: behaviours an operator turns on or off while the system runs — to migrate step
 * by step, and to back out of one in an incident — without a restart. The flags that exist are
 * this registry (an unknown name is refused); each has a default and the scopes it may be set at.
 * SQL holds the overrides (the truth); the manager projects each override to KV
 * (`kvKeys.flagOverride(name, scope)`), and managers and workers evaluate them from their watch.
 *
 * Evaluation: the most specific override that applies wins — user, then worker, then global —
 * else the default. A behaviour reads its flag where it decides something new (a request, a
 * circuit being opened); what was decided under the other value keeps its course (a circuit
 * keeps the flow it was created under), which is what makes turning a flag back safe.
 */

export type FlagScopeKind = 'global' | 'worker' | 'user';

export interface FlagDefinition {
  description: string;
  default: boolean;
  /** Where overrides may be set; `global` always. */
  scopes: readonly FlagScopeKind[];
  /** Who evaluates it: the manager (API flows) or the workers (the data plane), or both. */
  readBy: readonly ('manager' | 'worker')[];
  /** Why an operator would turn it off (or on), for the docs and `appproxy flags list`. */
  when: string;
}

export const FLAGS = {
  integratedFlow: {
    description:
      "New http circuits get the integrated flow: a per-circuit app cookie bound to the sign-in that asked for it, revoked by its logout. Off: Backend.AI's flow (a per-user appproxy_permit cookie set through /setup?token=, ended by its expiry or the user's disabling).",
    default: true,
    scopes: ['global', 'user'],
    readBy: ['manager'],
    when: 'Off to return new circuits to the Backend.AI behaviour during a migration (for everyone, or per user); circuits keep the flow they were created under either way.',
  },
  legacyCoordinatorApi: {
    description:
      "The Backend.AI-compatible coordinator surface: GET /status, /v2/conf, /v2/proxy/auth, /v2/endpoints/* on the manager, and the activity keys Backend.AI's idle checker reads (circuit.{id}.last_access, session.{id}.last_access) written by the workers.",
    default: false,
    scopes: ['global'],
    readBy: ['manager', 'worker'],
    when: 'On while a Backend.AI manager and WebUI still call a coordinator; off once they call the /v1 API (the surface then answers 503 AP_ERR_FEATURE_DISABLED).',
  },
  logoutRevocation: {
    description:
      'A sign-out, a revoked token or an ended login session reaches the workers: their cookies are refused and live connections closed.',
    default: true,
    scopes: ['global', 'worker'],
    readBy: ['worker'],
    when: 'Off only if revocation records misbehave on a worker (the cookies then live out their own expiry); the manager still ends the sign-in.',
  },
  endpointRetries: {
    description:
      'Inference endpoint requests that failed before any byte reached the client are replayed on another route.',
    default: true,
    scopes: ['global', 'worker'],
    readBy: ['worker'],
    when: 'Off when replays multiply load on replicas that are failing for a reason the retry budget does not see.',
  },
  liveEvents: {
    description: "The manager's live event stream (GET /v1/events/stream) that the web console listens on.",
    default: true,
    scopes: ['global'],
    readBy: ['manager'],
    when: 'Off if many open streams weigh on a manager: the console falls back to reloading on its own.',
  },
} as const satisfies Record<string, FlagDefinition>;

export type FlagName = keyof typeof FLAGS;

export const FLAG_NAMES = Object.keys(FLAGS) as FlagName[];

export function isFlagName(name: string): name is FlagName {
  return Object.hasOwn(FLAGS, name);
}

/** An override's scope as written: `global`, `worker:<authority>`, `user:<user id>`. */
export type FlagScope = 'global' | `worker:${string}` | `user:${string}`;

const SCOPE = /^(global)$|^(worker|user):([A-Za-z0-9._-]{1,128})$/;

/** The kind and subject of a scope string; null when it is not one. */
export function parseFlagScope(scope: string): { kind: FlagScopeKind; subject: string | null } | null {
  const m = SCOPE.exec(scope);
  if (!m) return null;
  if (m[1]) return { kind: 'global', subject: null };
  return { kind: m[2] as FlagScopeKind, subject: m[3]! };
}

/**
 * Value of `kvKeys.flagOverride(name, scope)`: one override. One record per flag and scope, so a
 * change writes only its own key (two managers changing different scopes never overwrite each
 * other's record).
 */
export interface FlagOverrideRecord {
  value: boolean;
}

/** Who a flag is evaluated for: the worker deciding, the user a request or circuit is for. */
export interface FlagSubject {
  worker?: string | null;
  user?: string | null;
}

/** The flag's value for `who` under `overrides` (user, then worker, then global, then the default). */
export function evaluateFlag(
  name: FlagName,
  overrides: Readonly<Record<string, boolean>> | undefined,
  who: FlagSubject = {},
): boolean {
  if (overrides) {
    if (who.user) {
      const v = overrides[`user:${who.user}`];
      if (v !== undefined) return v;
    }
    if (who.worker) {
      const v = overrides[`worker:${who.worker}`];
      if (v !== undefined) return v;
    }
    const g = overrides.global;
    if (g !== undefined) return g;
  }
  return FLAGS[name].default;
}

/** A flag in the API: its definition, overrides, and the value it has globally now. */
export interface FlagInfo {
  name: FlagName;
  description: string;
  when: string;
  default: boolean;
  scopes: FlagScopeKind[];
  readBy: ('manager' | 'worker')[];
  /** The value where no worker or user override applies. */
  value: boolean;
  overrides: { scope: string; value: boolean; updatedAt: string; updatedBy: string | null }[];
}

/** One change of a flag (`GET /v1/flags/changes`): who set or unset what, when. */
export interface FlagChange {
  id: number;
  at: string;
  name: FlagName;
  scope: string;
  /** The new value; null when the override was removed. */
  value: boolean | null;
  /** The previous override at that scope (null: none). */
  previous: boolean | null;
  by: string | null;
  byName: string | null;
}
