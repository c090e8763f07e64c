/** Retry pacing shared by every loop that re-tries a store (watch resubscription, re-registration, mark writes). */

export const BACKOFF_MIN_MS = 100;
export const BACKOFF_MAX_MS = 5_000;

/** Doubles up to the cap, with ±25 % jitter so that many processes do not retry in step. */
export function nextBackoff(ms: number): number {
  return Math.min(BACKOFF_MAX_MS, ms * 2) * (0.75 + Math.random() * 0.5);
}

/**
 * A sleep that never keeps the process alive on its own, unless `keepAlive`: a wait whose end
 * still has work to do (the agent stopping its service processes) must not let the process exit.
 */
export function sleep(ms: number, opts: { keepAlive?: boolean } = {}): Promise<void> {
  return new Promise((r) => {
    const timer = setTimeout(r, ms);
    if (!opts.keepAlive) timer.unref();
  });
}
