/**
 * Single use of signed tokens (setup tokens, tunnel tokens): the first presentation of a token id
 * (`jti`) sets a mark in the counters role with set-if-absent, so every worker process and every
 * worker of the installation sees it; a second presentation finds the mark. Token ids are random
 * UUIDs from one issuer, so setup and tunnel tokens share the mark's key space.
 */
import { counterKeys } from '../../contracts/activity.ts';
import type { CounterStore } from '../../stores/types.ts';

/** How long a used-token mark outlives the token's expiry (covers clock skew). */
const USED_MARK_GRACE_MS = 60_000;

/**
 * True the first time `jti` is marked, false when it was used already. Throws when the store
 * fails: callers must then refuse (without the mark a leaked token could be replayed).
 */
export function markTokenUsed(
  counters: CounterStore,
  jti: string,
  expiresAt: number,
  circuitId: string,
): Promise<boolean> {
  const ttl = Math.max(expiresAt - Date.now(), 0) + USED_MARK_GRACE_MS;
  return counters.setIfAbsent(counterKeys.setupTokenUsed(jti), circuitId, ttl);
}
