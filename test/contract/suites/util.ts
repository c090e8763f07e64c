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
