/**
 * The one registry of stable error codes. Clients match on `code`, never on `message`.
 * `docs/errors.md` is checked against this table by a test, so every code added here must be
 * documented there too.
 */
export const ERRORS = {
  AP_ERR_VALIDATION: { status: 400, message: 'The request is malformed.' },
  AP_ERR_UNAUTHENTICATED: {
    status: 401,
    message: 'An API token is required (Authorization: Bearer <token>).',
  },
  AP_ERR_TOKEN_INVALID: { status: 401, message: 'The API token is not valid.' },
  AP_ERR_FORBIDDEN: { status: 403, message: 'You are not allowed to do this.' },
  AP_ERR_NOT_FOUND: { status: 404, message: 'No such resource.' },
  AP_ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'This path does not accept this method.' },
  AP_ERR_REQUEST_TIMEOUT: { status: 408, message: 'The request took too long to arrive.' },
  AP_ERR_BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than the API accepts.' },
  AP_ERR_URI_TOO_LONG: { status: 414, message: 'The request URL is longer than any the API accepts.' },
  AP_ERR_HEADERS_TOO_LARGE: { status: 431, message: 'The request line and headers are too large.' },
  AP_ERR_SESSION_NOT_FOUND: { status: 404, message: 'No such session.' },
  AP_ERR_CIRCUIT_NOT_FOUND: { status: 404, message: 'No such circuit.' },
  AP_ERR_TEMPLATE_NOT_FOUND: { status: 400, message: 'No such template.' },
  AP_ERR_TEMPLATE_UNAVAILABLE: { status: 409, message: 'The template cannot run on this installation.' },
  AP_ERR_SERVICE_NOT_FOUND: { status: 404, message: 'The session has no such service.' },
  AP_ERR_SESSION_NOT_RUNNING: { status: 409, message: 'The session is not running.' },
  AP_ERR_NO_WORKER: { status: 503, message: 'No healthy worker accepts this protocol and frontend mode.' },
  AP_ERR_NO_SLOT: { status: 503, message: 'Every slot of every eligible worker is taken.' },
  AP_ERR_ROUTE_NOT_READY: { status: 504, message: 'The worker did not confirm the route in time.' },
  AP_ERR_ROUTE_FAILED: { status: 502, message: 'The worker could not open the route.' },
  AP_ERR_STORE_UNAVAILABLE: { status: 503, message: 'A backing store is unavailable; try again shortly.' },
  AP_ERR_INTERNAL: { status: 500, message: 'An internal error occurred.' },
  // Worker-side (data plane) errors.
  AP_ERR_APP_COOKIE_MISSING: { status: 401, message: 'Open this app from AppProxy to get access.' },
  AP_ERR_APP_COOKIE_INVALID: {
    status: 401,
    message: 'Your access to this app is not valid here; open it again from AppProxy.',
  },
  AP_ERR_SETUP_TOKEN_INVALID: { status: 401, message: 'The setup link is not valid for this app.' },
  AP_ERR_SETUP_TOKEN_EXPIRED: { status: 401, message: 'The setup link has expired; open the app again.' },
  AP_ERR_SETUP_TOKEN_USED: { status: 401, message: 'The setup link was already used; open the app again.' },
  AP_ERR_REDIRECT_NOT_ALLOWED: { status: 400, message: 'The redirect target must be a path on this app.' },
  AP_ERR_CIRCUIT_UNKNOWN: { status: 404, message: 'No app is served at this address.' },
  AP_ERR_CIRCUIT_CLOSED: { status: 410, message: 'This app address has been closed.' },
  AP_ERR_BAD_REQUEST: { status: 400, message: 'The request is ambiguous or malformed.' },
  AP_ERR_UPSTREAM_CONNECT: { status: 502, message: 'The app did not accept the connection.' },
  AP_ERR_UPSTREAM_HEADERS_TIMEOUT: { status: 504, message: 'The app did not answer in time.' },
  AP_ERR_UPSTREAM_BODY: { status: 502, message: 'The app broke off its response.' },
  AP_ERR_UPSTREAM_RESET: { status: 502, message: 'The app closed the connection unexpectedly.' },
  AP_ERR_CONFIG_INVALID: { status: 500, message: 'The configuration is not valid.' },
  // Worker readiness errors (the `code` of a `{state:'error'}` readiness mark).
  AP_ERR_ROUTE_INVALID: {
    status: 500,
    message: 'The route given to the worker is malformed or does not fit it.',
  },
  AP_ERR_SLOT_UNAVAILABLE: {
    status: 503,
    message: 'The worker could not listen on the slot of the circuit.',
  },
  AP_ERR_PROTOCOL_UNSUPPORTED: { status: 501, message: 'The worker does not serve this protocol.' },
  // TCP circuits, tunnels and idle policies.
  AP_ERR_ACCESS_NOT_PERMITTED: {
    status: 403,
    message: 'This access mode is not permitted by the configuration.',
  },
  AP_ERR_POLICY_OUT_OF_RANGE: {
    status: 400,
    message: 'The idle timeout is outside the limits the administrator allows.',
  },
  AP_ERR_TUNNEL_TOKEN_INVALID: { status: 401, message: 'The tunnel token is not valid for this circuit.' },
  AP_ERR_TUNNEL_TOKEN_EXPIRED: { status: 401, message: 'The tunnel token has expired; ask for a new one.' },
  AP_ERR_TUNNEL_TOKEN_USED: { status: 401, message: 'The tunnel token was already used; ask for a new one.' },
  AP_ERR_TUNNEL_NOT_AVAILABLE: {
    status: 409,
    message: 'The circuit is not a TCP circuit in tunnel mode.',
  },
  AP_ERR_CONNECTION_LIMIT: { status: 503, message: 'The circuit has reached its connection limit.' },
  AP_ERR_APP_COOKIE_REVOKED: {
    status: 401,
    message: 'Your sign-in for this app has ended (signed out or revoked); sign in again and reopen the app.',
  },
  AP_ERR_APP_COOKIE_UNCONFIRMED: {
    status: 401,
    message:
      'This app server cannot confirm that your sign-in is still valid right now; open the app again from AppProxy.',
  },
  AP_ERR_CREDENTIAL_REVOKED: {
    status: 401,
    message: 'The sign-in or API token this link or token was issued under has ended.',
  },
  AP_ERR_LOGIN_FAILED: { status: 401, message: 'Wrong name or password.' },
  AP_ERR_LOGIN_SESSION_ENDED: { status: 401, message: 'Your sign-in has ended; sign in again.' },
  AP_ERR_RATE_LIMITED: { status: 429, message: 'Too many attempts; wait a little and try again.' },
  AP_ERR_CSRF: {
    status: 403,
    message: "The request did not carry this page's anti-forgery token; reload the page and try again.",
  },
  AP_ERR_CONFLICT: { status: 409, message: 'The resource already exists or changed meanwhile.' },
  AP_ERR_USER_NOT_FOUND: { status: 404, message: 'No such user.' },
  AP_ERR_TOKEN_NOT_FOUND: { status: 404, message: 'No such API token.' },
  AP_ERR_LOGIN_SESSION_NOT_FOUND: { status: 404, message: 'No such login session.' },
  AP_ERR_LOGOUT_URI_NOT_FOUND: { status: 404, message: 'No such logout URI.' },
  AP_ERR_FLAG_NOT_FOUND: { status: 404, message: 'No such feature flag.' },
  AP_ERR_FEATURE_DISABLED: {
    status: 503,
    message: 'This feature is turned off on this installation (a feature flag); ask an operator.',
  },
  AP_ERR_LEGACY_UNAUTHORIZED: {
    status: 401,
    message: 'The Backend.AI shared secret (X-BackendAI-Token) is missing or wrong.',
  },
  AP_ERR_LEGACY_NOT_CONFIGURED: {
    status: 503,
    message: 'The Backend.AI-compatible surface has no shared secret configured (legacy.apiSecretFile).',
  },
  AP_ERR_LEGACY_TOKEN_INVALID: {
    status: 403,
    message: 'The /v2/conf token is unknown, expired, or was issued for another session.',
  },
  AP_ERR_OIDC_NOT_CONFIGURED: {
    status: 404,
    message: 'Sign-in with an identity provider is not configured.',
  },
  AP_ERR_OIDC_FAILED: { status: 401, message: 'Sign-in with the identity provider did not succeed.' },
  AP_ERR_ENDPOINT_NOT_FOUND: { status: 404, message: 'No such endpoint.' },
  AP_ERR_ROUTE_NOT_FOUND: { status: 404, message: 'The endpoint has no such route.' },
  AP_ERR_REVISION_MISMATCH: {
    status: 412,
    message: 'The endpoint changed since the revision given in If-Match; read it again and retry.',
  },
  AP_ERR_NO_ROUTE: {
    status: 503,
    message: 'The endpoint has no replica ready to serve this request; try again shortly.',
  },
  AP_ERR_ENDPOINT_KEY_INVALID: { status: 401, message: 'The endpoint key is not valid for this endpoint.' },
  AP_ERR_MODEL_NOT_ALLOWED: {
    status: 403,
    message: 'The endpoint key may not use this model (it is scoped to other models).',
  },
  AP_ERR_KEY_RATE_LIMITED: {
    status: 429,
    message: "The endpoint key's requests or tokens per minute are used up; retry after the time given.",
  },
  AP_ERR_ENDPOINT_BUSY: {
    status: 503,
    message: 'The endpoint is at its concurrency limit and its queue is full; retry after the time given.',
  },
  AP_ERR_UPSTREAM_STREAM_IDLE: {
    status: 504,
    message: 'The replica sent nothing for longer than the endpoint allows between chunks.',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** The one wire envelope for every error AppProxy answers with. */
export interface ErrorEnvelope {
  code: ErrorCode;
  message: string;
  detail?: unknown;
  requestId: string;
}

/** Thrown by services; handlers turn it into the envelope. */
export class AppProxyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail?: unknown;
  constructor(code: ErrorCode, message?: string, detail?: unknown, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'AppProxyError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = detail;
  }
}

export function errorEnvelope(err: AppProxyError, requestId: string): ErrorEnvelope {
  const env: ErrorEnvelope = { code: err.code, message: err.message, requestId };
  if (err.detail !== undefined) env.detail = err.detail;
  return env;
}

/** Thrown (or wrapped) by adapters when a unique constraint rejects a write. */
export class UniqueViolation extends Error {
  readonly constraint: string | undefined;
  constructor(constraint: string | undefined, options?: { cause?: unknown }) {
    super(`unique constraint violated${constraint ? `: ${constraint}` : ''}`, options);
    this.name = 'UniqueViolation';
    this.constraint = constraint;
  }
}
