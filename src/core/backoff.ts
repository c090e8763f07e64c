/**
 * Retry pacing shared by every loop that re-tries a store (watch resumption, re-registration, mark
 * and outbox writes). The cap is short on purpose: how soon a returning store is noticed is how
 * long a terminated session's address stays reachable after an etcd outage (goal: 500 ms). An
 * attempt against a store that is down fails fast (connection refused, or the client's circuit
 * breaker), so retrying four times a second costs next to nothing; against a hung store the
 * attempt itself waits, and completes as soon as the store resumes.
 */

export const BACKOFF_MIN_MS = 50;
export const BACKOFF_MAX_MS = 250;

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
