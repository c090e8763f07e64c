/**
 * Small helpers shared by the store contract suites. Nothing here knows about any adapter.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** A key prefix no other test (or concurrent suite on a shared server) uses. */
export function uniquePrefix(label: string): string {
  return `contract/${label}/${randomBytes(6).toString('hex')}/`;
}

/** A short random tag for SQL ids. */
export function uniqueTag(): string {
  return randomBytes(5).toString('hex');
}

/**
 * Polls `check` until it returns true or `timeoutMs` passes; then throws with `describe()` so a
 * failing test says what it saw instead of hanging.
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  describe: () => string,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await sleep(intervalMs);
  }
}

/** Resolves to 'resolved' if `p` settles within `ms`, else to 'pending'. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<'resolved' | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'pending'>((r) => {
    timer = setTimeout(() => r('pending'), ms);
  });
  try {
    return await Promise.race([p.then(() => 'resolved' as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
