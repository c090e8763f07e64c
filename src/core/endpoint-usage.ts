/**
 * Token usage of inference endpoints in the counter store (the Redis role): the key layout, the
 * totals' shape and how they are read back. Workers write (`worker/inference/usage.ts`), the
 * manager's API reads (`readUsage`). Counters are cumulative per endpoint, key and field.
 */
import type { CounterStore } from '../stores/types.ts';

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Requests whose numbers are estimates (stream cut before the engine's usage). */
  estimatedRequests: number;
}

export interface RecordedUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  estimated: boolean;
}

/** Counter fields, in the order of `UsageTotals`. */
export const USAGE_FIELDS = [
  'requests',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'estimated_requests',
] as const;
export type UsageField = (typeof USAGE_FIELDS)[number];

/** Requests without a key (public endpoints) are counted under this name. */
export const PUBLIC_KEY = 'public';

export const usageKeys = {
  field: (endpointId: string, keyId: string | null, field: UsageField) =>
    `ap:usage:${endpointId}:${keyId ?? PUBLIC_KEY}:${field}`,
  /** Every usage counter of an endpoint. */
  endpoint: (endpointId: string) => `ap:usage:${endpointId}:`,
} as const;

/** How long usage counters live after their last write. */
export const USAGE_TTL_MS = 35 * 24 * 3600 * 1000;

function zero(): UsageTotals {
  return { requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, estimatedRequests: 0 };
}

const TOTALS_FIELD: Record<UsageField, keyof UsageTotals> = {
  requests: 'requests',
  prompt_tokens: 'promptTokens',
  completion_tokens: 'completionTokens',
  cached_tokens: 'cachedTokens',
  estimated_requests: 'estimatedRequests',
};

/**
 * An endpoint's usage as every worker wrote it: the total and one entry per key (`keyId: null`
 * for requests without a key), keys sorted by id, the keyless entry first.
 */
export async function readUsage(
  counters: CounterStore,
  endpointId: string,
): Promise<{ total: UsageTotals; keys: { keyId: string | null; totals: UsageTotals }[] }> {
  const prefix = usageKeys.endpoint(endpointId);
  const names = await counters.keys(prefix);
  const parsed: { key: string; keyId: string; field: UsageField }[] = [];
  for (const key of names) {
    const rest = key.slice(prefix.length);
    const colon = rest.lastIndexOf(':');
    if (colon <= 0) continue;
    const field = rest.slice(colon + 1);
    if (!Object.hasOwn(TOTALS_FIELD, field)) continue;
    parsed.push({ key, keyId: rest.slice(0, colon), field: field as UsageField });
  }
  const values = parsed.length > 0 ? await counters.mget(parsed.map((p) => p.key)) : [];
  const total = zero();
  const byKey = new Map<string, UsageTotals>();
  parsed.forEach((p, i) => {
    const n = Number(values[i] ?? 0);
    if (!Number.isFinite(n)) return;
    let t = byKey.get(p.keyId);
    if (!t) {
      t = zero();
      byKey.set(p.keyId, t);
    }
    const f = TOTALS_FIELD[p.field];
    t[f] += n;
    total[f] += n;
  });
  const keys = [...byKey.entries()]
    .map(([id, totals]) => ({ keyId: id === PUBLIC_KEY ? null : id, totals }))
    .sort((a, b) => (a.keyId === null ? -1 : b.keyId === null ? 1 : a.keyId < b.keyId ? -1 : 1));
  return { total, keys };
}
