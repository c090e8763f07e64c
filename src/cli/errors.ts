/** Errors the CLI raises and how they are shown. Exit codes: 1 for failures, 2 for usage errors. */

import { ApiError } from '../client/errors.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure detected by the CLI itself (session ended in ERROR, wait timed out, ambiguous name…). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT_FAILURE) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Bad invocation detected after commander's own parsing (exit 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** One line (plus optional hint lines) for stderr: `error: <message> [<code>] (request <requestId>)`. */
export function renderError(err: unknown, opts: { debug?: boolean; hint?: string | null } = {}): string {
  let line: string;
  if (err instanceof ApiError) {
    line = `error: ${err.message}`;
    if (err.code) line += ` [${err.code}]`;
    if (err.requestId) line += ` (request ${err.requestId})`;
  } else if (err instanceof Error) {
    line = `error: ${err.message}`;
  } else {
    line = `error: ${String(err)}`;
  }
  let out = `${line}\n`;
  if (opts.hint) out += `hint: ${opts.hint}\n`;
  if (opts.debug && err instanceof Error && err.stack && !(err instanceof CliError)) out += `${err.stack}\n`;
  return out;
}

export function exitCodeFor(err: unknown): number {
  return err instanceof CliError ? err.exitCode : EXIT_FAILURE;
}
