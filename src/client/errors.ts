/** How a request to the manager fails: an error answer, or no answer at all. */

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

/**
 * The error envelope `{code, message, detail?, requestId}` in an answer's body as an ApiError
 * (the manager and the workers answer with the same one); null when the body is not one.
 */
export function envelopeError(
  status: number,
  body: string,
  fallbackRequestId: string | null,
): ApiError | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (!parsed || typeof parsed !== 'object') return null;
  const env = parsed as Record<string, unknown>;
  if (typeof env.code !== 'string' || typeof env.message !== 'string') return null;
  return new ApiError({
    code: env.code,
    status,
    message: env.message,
    requestId: typeof env.requestId === 'string' ? env.requestId : fallbackRequestId,
    detail: env.detail,
  });
}
