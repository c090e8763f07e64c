/** What the worker offers, read from its source rather than assumed. */
import { readFileSync } from 'node:fs';

/** Whether `WorkerOptions` has a `processes` option (a multi-process worker). */
export function workerSupportsProcesses(): boolean {
  const src = readFileSync(new URL('../../src/worker/index.ts', import.meta.url), 'utf8');
  const opts = /export interface WorkerOptions \{([\s\S]*?)\n\}/.exec(src)?.[1] ?? '';
  return /^\s*processes\??:/m.test(opts);
}
