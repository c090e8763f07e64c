/** Errors the CLI raises and how they are shown. Exit codes: 1 for failures, 2 for usage errors. */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error answered by the manager: the envelope `{code, message, detail?, requestId}`. */
export class ApiError extends Error {
  /** The envelope's stable code; null when the answer was not an AppProxy envelope (e.g. a proxy's 502 page). */
  readonly code: string | null;
  readonly status: number;
  readonly requestId: string | null;
  readonly detail?: unknown;
  constructor(init: {
    code: string | null;
    status: number;
    message: string;
    requestId: string | null;
    detail?: unknown;
  }) {
    super(init.message);
    this.name = 'ApiError';
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
    if (init.detail !== undefined) this.detail = init.detail;
  }
}

/** The manager could not be reached at all (refused, unresolvable, timed out). */
export class NetworkError extends Error {
  readonly url: string;
  /** The system error code (ECONNREFUSED, ENOTFOUND, …) or `TIMEOUT`. */
  readonly reason: string;
  constructor(url: string, reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetworkError';
    this.url = url;
    this.reason = reason;
  }
}

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
