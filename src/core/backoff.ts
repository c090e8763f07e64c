/** Retry pacing shared by every loop that re-tries a store (watch resubscription, re-registration, mark writes). */

export const BACKOFF_MIN_MS = 100;
export const BACKOFF_MAX_MS = 5_000;

/** Doubles up to the cap, with ±25 % jitter so that many processes do not retry in step. */
export function nextBackoff(ms: number): number {
  return Math.min(BACKOFF_MAX_MS, ms * 2) * (0.75 + Math.random() * 0.5);
}

/** A sleep that never keeps the process alive on its own. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
