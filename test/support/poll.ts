/**
 * The one polling helper of the test suite: poll with a deadline, never sleep a fixed time.
 *
 * `until(fn, what, { timeoutMs })` calls `fn` every `intervalMs` (20 ms by default) and resolves
 * with its first value that is neither `undefined` nor `false`. An error thrown by `fn` counts as
 * "not yet" (so `fn` may assert: the last failed assertion then says what was seen). At the
 * deadline it rejects with `timed out waiting for <what>`, plus the last error `fn` threw, if any.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface UntilOptions {
  timeoutMs: number;
  /** Pause between two calls of `fn` (default 20 ms). */
  intervalMs?: number;
}

export async function until<T>(
  fn: () => T | Promise<T>,
  what: string,
  { timeoutMs, intervalMs = 20 }: UntilOptions,
): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as Exclude<T, undefined | false>;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last === undefined ? '' : `: ${last instanceof Error ? last.message : String(last)}`;
      throw new Error(`timed out waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}
