/** Waiting for a session to run, with a progress line on stderr. */

import type { ApiClient } from '../client/api-client.ts';
import { ApiError, NetworkError } from '../client/errors.ts';
import type { Session } from '../contracts/records.ts';
import { formatDuration } from '../core/duration.ts';
import { CliError } from './errors.ts';
import type { OutStream } from './runtime.ts';

/** How often a non-TTY progress line is repeated when nothing changes. */
const PLAIN_REPEAT_MS = 5000;
/** Consecutive transient polling failures tolerated before giving up. */
const MAX_TRANSIENT_FAILURES = 3;

/**
 * One status line on stderr. On a terminal it is rewritten in place; otherwise a plain line is
 * written when the state changes and every few seconds, so logs stay readable.
 */
export class ProgressLine {
  readonly #stream: OutStream;
  readonly #tty: boolean;
  readonly #now: () => number;
  #shown = false;
  #lastKey: string | null = null;
  #lastAt = 0;

  constructor(stream: OutStream, now: () => number = Date.now) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
    this.#now = now;
  }

  /** `key` identifies what the line says apart from the ticking clock (e.g. the state). */
  update(text: string, key: string = text): void {
    if (this.#tty) {
      this.#stream.write(`\r\x1b[2K${text}`);
      this.#shown = true;
      return;
    }
    const now = this.#now();
    if (key !== this.#lastKey || now - this.#lastAt >= PLAIN_REPEAT_MS) {
      this.#stream.write(`${text}\n`);
      this.#lastKey = key;
      this.#lastAt = now;
    }
  }

  /** Removes the in-place line (TTY) so that what follows starts on a clean line. */
  clear(): void {
    if (this.#tty && this.#shown) this.#stream.write('\r\x1b[2K');
    this.#shown = false;
  }
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
  progress: ProgressLine;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export function sessionLabel(s: Session): string {
  return s.name || s.id;
}

function isTransient(err: unknown): boolean {
  return (
    err instanceof NetworkError || (err instanceof ApiError && (err.status >= 500 || err.status === 429))
  );
}

/**
 * Polls the session until it is RUNNING. Throws CliError when it ends in ERROR, TERMINATING or
 * TERMINATED, or when the timeout passes (the session keeps starting on the manager).
 */
export async function waitForRunning(
  client: ApiClient,
  initial: Session,
  opts: WaitOptions,
): Promise<Session> {
  const start = opts.now();
  let session = initial;
  let failures = 0;
  try {
    for (;;) {
      const label = sessionLabel(session);
      if (session.state === 'RUNNING') return session;
      if (session.state === 'ERROR' || session.state === 'TERMINATING' || session.state === 'TERMINATED') {
        const reason = session.stateReason ? `: ${session.stateReason}` : '';
        throw new CliError(
          session.state === 'ERROR'
            ? `session ${label} failed${reason}`
            : `session ${label} is ${session.state}${reason}`,
        );
      }
      const elapsed = opts.now() - start;
      if (elapsed >= opts.timeoutMs) {
        throw new CliError(
          `timed out after ${formatDuration(opts.timeoutMs)} waiting for session ${label} (still ${session.state}); ` +
            `check it with \`appproxy session get ${label}\``,
        );
      }
      opts.progress.update(
        `waiting for session ${label} (${session.state}) ${formatDuration(elapsed)}…`,
        session.state,
      );
      await opts.sleep(Math.max(0, Math.min(opts.intervalMs, opts.timeoutMs - elapsed)));
      try {
        session = await client.getSession(session.id);
        failures = 0;
      } catch (err) {
        if (!isTransient(err) || ++failures > MAX_TRANSIENT_FAILURES) throw err;
      }
    }
  } finally {
    opts.progress.clear();
  }
}
