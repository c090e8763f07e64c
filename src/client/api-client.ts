/** A small typed client for the manager's REST API (`/v1`). */

import type { TemplateInfo } from '../contracts/agent.ts';
import type { FlagChange, FlagInfo } from '../contracts/flags.ts';
import type {
  Circuit,
  DoctorReport,
  FrontendMode,
  LifecycleEvent,
  Session,
  StartServiceResult,
  TcpAccessMode,
  TunnelToken,
  WorkerInfo,
} from '../contracts/records.ts';
import { formatDuration } from '../core/duration.ts';
import type {
  CreateEndpointKeyRequest,
  CreateEndpointRequest,
  Endpoint,
  EndpointKey,
  EndpointRouteRequest,
  EndpointUsage,
  NewEndpointKey,
  UpdateEndpointRequest,
} from './endpoint-types.ts';
import { ApiError, envelopeError, NetworkError } from './errors.ts';
import type {
  ApiToken,
  CliLoginPoll,
  CliLoginStart,
  CreateLoginSessionRequest,
  CreateLogoutUriRequest,
  CreateTokenRequest,
  CreateUserRequest,
  LoginSession,
  LogoutResult,
  LogoutUri,
  NewApiToken,
  SetPasswordRequest,
  SignedIn,
  UpdateUserRequest,
  User,
  Whoami,
} from './identity-types.ts';

export type * from './endpoint-types.ts';
export type * from './identity-types.ts';
/** `GET /v1/flags/{name}`. */
export type Flag = FlagInfo;
export type { FlagChange };
export { ApiError, NetworkError };

export interface ApiClientOptions {
  /** The manager's base URL, e.g. `http://127.0.0.1:7070` (a path prefix is kept). */
  url: string;
  /** API token sent as `Authorization: Bearer <token>`; omitted when null/empty. */
  token?: string | null;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  userAgent?: string;
}

export interface Items<T> {
  items: T[];
}

/** The shape of `/v1/circuits/{id}/activity` is the manager's to define; the CLI shows it generically. */
export type CircuitActivity = Record<string, unknown>;

/** `idle` of a new circuit (start-service): milliseconds; `null` = never (circuit policy only). */
export interface CircuitIdleRequest {
  connectionIdleTimeoutMs?: number;
  circuitIdleTimeoutMs?: number | null;
}

/** `idle` of `POST /v1/sessions`: the session's policy and the defaults of its circuits. */
export interface SessionIdleRequest extends CircuitIdleRequest {
  sessionIdleTimeoutMs?: number | null;
}

export interface CreateSessionRequest {
  template: string;
  name?: string;
  idle?: SessionIdleRequest;
}

export interface StartServiceRequest {
  service: string;
  frontend?: FrontendMode;
  /** Path on the app to land on after setup. */
  next?: string;
  /** TCP services: how the circuit's port is reached (the manager's default is a tunnel). */
  access?: { mode: TcpAccessMode; allowFrom?: string[] };
  /** Idle settings of a new circuit (a re-used circuit keeps its own). */
  idle?: CircuitIdleRequest;
}

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | undefined>;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class ApiClient {
  readonly url: string;
  readonly #token: string | null;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #userAgent: string;

  constructor(opts: ApiClientOptions) {
    const parsed = new URL(opts.url); // throws TypeError on garbage
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`manager URL must be http(s): ${opts.url}`);
    }
    this.url = opts.url.replace(/\/+$/, '');
    this.#token = opts.token ? opts.token : null;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#userAgent = opts.userAgent ?? 'appproxy-cli';
  }

  get hasToken(): boolean {
    return this.#token !== null;
  }

  // Sessions

  createSession(body: CreateSessionRequest): Promise<Session> {
    return this.request<Session>('POST', '/v1/sessions', { body });
  }

  listSessions(): Promise<Items<Session>> {
    return this.request<Items<Session>>('GET', '/v1/sessions');
  }

  getSession(id: string): Promise<Session> {
    return this.request<Session>('GET', `/v1/sessions/${enc(id)}`);
  }

  /** With `wait` (default) the manager answers once the session is TERMINATED; otherwise 202 TERMINATING. */
  deleteSession(id: string, opts: { wait?: boolean; timeoutMs?: number } = {}): Promise<Session> {
    const wait = opts.wait ?? true;
    return this.request<Session>('DELETE', `/v1/sessions/${enc(id)}`, {
      query: { wait: wait ? 'true' : undefined },
      timeoutMs: opts.timeoutMs ?? (wait ? Math.max(this.#timeoutMs, 120_000) : undefined),
    });
  }

  /** What the lifecycle and the idle policies did to the session and its circuits, oldest first. */
  sessionEvents(id: string): Promise<Items<LifecycleEvent>> {
    return this.request<Items<LifecycleEvent>>('GET', `/v1/sessions/${enc(id)}/events`);
  }

  startService(sessionId: string, body: StartServiceRequest): Promise<StartServiceResult> {
    return this.request<StartServiceResult>('POST', `/v1/sessions/${enc(sessionId)}/start-service`, { body });
  }

  // Circuits

  listCircuits(filter: { sessionId?: string } = {}): Promise<Items<Circuit>> {
    return this.request<Items<Circuit>>('GET', '/v1/circuits', { query: { sessionId: filter.sessionId } });
  }

  getCircuit(id: string): Promise<Circuit> {
    return this.request<Circuit>('GET', `/v1/circuits/${enc(id)}`);
  }

  deleteCircuit(id: string): Promise<Circuit> {
    return this.request<Circuit>('DELETE', `/v1/circuits/${enc(id)}`);
  }

  /** A single-use credential for one tunnelled connection to a TCP circuit in tunnel mode. */
  tunnelToken(circuitId: string): Promise<TunnelToken> {
    return this.request<TunnelToken>('POST', `/v1/circuits/${enc(circuitId)}/tunnel-token`);
  }

  circuitActivity(id: string): Promise<CircuitActivity> {
    return this.request<CircuitActivity>('GET', `/v1/circuits/${enc(id)}/activity`);
  }

  circuitEvents(id: string): Promise<Items<LifecycleEvent>> {
    return this.request<Items<LifecycleEvent>>('GET', `/v1/circuits/${enc(id)}/events`);
  }

  // Workers and templates

  listWorkers(): Promise<Items<WorkerInfo>> {
    return this.request<Items<WorkerInfo>>('GET', '/v1/workers');
  }

  /** Admins: no new circuits go to the worker; its circuits keep running. */
  drainWorker(authority: string): Promise<WorkerInfo> {
    return this.request<WorkerInfo>('POST', `/v1/workers/${enc(authority)}/drain`);
  }

  undrainWorker(authority: string): Promise<WorkerInfo> {
    return this.request<WorkerInfo>('POST', `/v1/workers/${enc(authority)}/undrain`);
  }

  /** Admins: every invariant violation between SQL and KV the manager finds now. */
  doctor(): Promise<DoctorReport> {
    return this.request<DoctorReport>('GET', '/v1/doctor');
  }

  listTemplates(): Promise<Items<TemplateInfo>> {
    return this.request<Items<TemplateInfo>>('GET', '/v1/templates');
  }

  // Sign-in and sign-out (login, cli-login and its poll need no token)

  /** Password sign-in: a login session and its bearer secret. */
  login(name: string, password: string): Promise<SignedIn> {
    return this.request<SignedIn>('POST', '/v1/auth/login', { body: { name, password } });
  }

  /** Ends the caller's login session (or, `everywhere`, all of the user's); lists the logout URIs. */
  logout(opts: { everywhere?: boolean } = {}): Promise<LogoutResult> {
    return this.request<LogoutResult>('POST', '/v1/auth/logout', {
      body: opts.everywhere ? { everywhere: true } : {},
    });
  }

  whoami(): Promise<Whoami> {
    return this.request<Whoami>('GET', '/v1/auth/whoami');
  }

  /** Starts a browser-approved sign-in; the secret will be sealed to `publicKey` (X25519, base64url). */
  startCliLogin(publicKey: string): Promise<CliLoginStart> {
    return this.request<CliLoginStart>('POST', '/v1/auth/cli-login', { body: { publicKey } });
  }

  pollCliLogin(deviceCode: string): Promise<CliLoginPoll> {
    return this.request<CliLoginPoll>('POST', '/v1/auth/cli-login/poll', { body: { deviceCode } });
  }

  // Users (`me` is the caller)

  listUsers(): Promise<Items<User>> {
    return this.request<Items<User>>('GET', '/v1/users');
  }

  createUser(body: CreateUserRequest): Promise<User> {
    return this.request<User>('POST', '/v1/users', { body });
  }

  getUser(id: string): Promise<User> {
    return this.request<User>('GET', `/v1/users/${enc(id)}`);
  }

  updateUser(id: string, body: UpdateUserRequest): Promise<User> {
    return this.request<User>('PATCH', `/v1/users/${enc(id)}`, { body });
  }

  /** Admins: ends the user's sign-ins, revokes their tokens and terminates their sessions. */
  deleteUser(id: string): Promise<User> {
    return this.request<User>('DELETE', `/v1/users/${enc(id)}`);
  }

  /** The user's other sign-ins end. */
  async setPassword(id: string, body: SetPasswordRequest): Promise<void> {
    await this.request<undefined>('PUT', `/v1/users/${enc(id)}/password`, { body });
  }

  // API tokens

  /** The caller's tokens; admins: everyone's, or one user's (`user`: an id or `me`). */
  listTokens(filter: { user?: string } = {}): Promise<Items<ApiToken>> {
    return this.request<Items<ApiToken>>('GET', '/v1/tokens', { query: { user: filter.user } });
  }

  createToken(body: CreateTokenRequest): Promise<NewApiToken> {
    return this.request<NewApiToken>('POST', '/v1/tokens', { body });
  }

  revokeToken(id: string): Promise<ApiToken> {
    return this.request<ApiToken>('DELETE', `/v1/tokens/${enc(id)}`);
  }

  // Login sessions (`current` is the caller's own)

  listLoginSessions(filter: { user?: string; live?: boolean } = {}): Promise<Items<LoginSession>> {
    return this.request<Items<LoginSession>>('GET', '/v1/login-sessions', {
      query: { user: filter.user, live: filter.live === undefined ? undefined : String(filter.live) },
    });
  }

  /** A platform token (scope `login-sessions`) or an admin signs a user in on the platform's behalf. */
  createLoginSession(body: CreateLoginSessionRequest): Promise<SignedIn> {
    return this.request<SignedIn>('POST', '/v1/login-sessions', { body });
  }

  getLoginSession(id: string): Promise<LoginSession> {
    return this.request<LoginSession>('GET', `/v1/login-sessions/${enc(id)}`);
  }

  /** Ends a login session and the CLI sign-ins approved from it; answers the ended ones. */
  endLoginSession(id: string, opts: { reason?: string } = {}): Promise<Items<LoginSession>> {
    return this.request<Items<LoginSession>>('DELETE', `/v1/login-sessions/${enc(id)}`, {
      query: { reason: opts.reason },
    });
  }

  // Logout URIs (admins)

  listLogoutUris(): Promise<Items<LogoutUri>> {
    return this.request<Items<LogoutUri>>('GET', '/v1/logout-uris');
  }

  addLogoutUri(body: CreateLogoutUriRequest): Promise<LogoutUri> {
    return this.request<LogoutUri>('POST', '/v1/logout-uris', { body });
  }

  removeLogoutUri(id: string): Promise<LogoutUri> {
    return this.request<LogoutUri>('DELETE', `/v1/logout-uris/${enc(id)}`);
  }

  // Feature flags (admins)

  listFlags(): Promise<Items<FlagInfo>> {
    return this.request<Items<FlagInfo>>('GET', '/v1/flags');
  }

  getFlag(name: string): Promise<FlagInfo> {
    return this.request<FlagInfo>('GET', `/v1/flags/${enc(name)}`);
  }

  setFlag(name: string, body: { value: boolean; scope?: string }): Promise<FlagInfo> {
    return this.request<FlagInfo>('PUT', `/v1/flags/${enc(name)}`, { body });
  }

  unsetFlag(name: string, scope?: string): Promise<FlagInfo> {
    return this.request<FlagInfo>('DELETE', `/v1/flags/${enc(name)}`, { query: { scope } });
  }

  flagChanges(name?: string): Promise<Items<FlagChange>> {
    return this.request<Items<FlagChange>>('GET', '/v1/flags/changes', { query: { name } });
  }

  // Inference endpoints (own; admins: all) and their routes and keys

  listEndpoints(): Promise<Items<Endpoint>> {
    return this.request<Items<Endpoint>>('GET', '/v1/endpoints');
  }

  /** The manager answers once the endpoint's URL is served. */
  createEndpoint(body: CreateEndpointRequest): Promise<Endpoint> {
    return this.request<Endpoint>('POST', '/v1/endpoints', { body });
  }

  getEndpoint(id: string): Promise<Endpoint> {
    return this.request<Endpoint>('GET', `/v1/endpoints/${enc(id)}`);
  }

  /** Name and settings, changed in place (no request in flight is cut). */
  updateEndpoint(id: string, body: UpdateEndpointRequest): Promise<Endpoint> {
    return this.request<Endpoint>('PATCH', `/v1/endpoints/${enc(id)}`, { body });
  }

  /** Token usage as the engines reported it: the total and per key (cumulative). */
  endpointUsage(id: string): Promise<EndpointUsage> {
    return this.request<EndpointUsage>('GET', `/v1/endpoints/${enc(id)}/usage`);
  }

  /** Closes the URL and revokes the endpoint's keys. */
  deleteEndpoint(id: string): Promise<Endpoint> {
    return this.request<Endpoint>('DELETE', `/v1/endpoints/${enc(id)}`);
  }

  addEndpointRoute(id: string, route: EndpointRouteRequest): Promise<Endpoint> {
    return this.request<Endpoint>('POST', `/v1/endpoints/${enc(id)}/routes`, { body: route });
  }

  /** The route gets no new request; requests in flight finish. */
  removeEndpointRoute(id: string, routeId: string): Promise<Endpoint> {
    return this.request<Endpoint>('DELETE', `/v1/endpoints/${enc(id)}/routes/${enc(routeId)}`);
  }

  listEndpointKeys(id: string): Promise<Items<EndpointKey>> {
    return this.request<Items<EndpointKey>>('GET', `/v1/endpoints/${enc(id)}/tokens`);
  }

  createEndpointKey(id: string, body: CreateEndpointKeyRequest): Promise<NewEndpointKey> {
    return this.request<NewEndpointKey>('POST', `/v1/endpoints/${enc(id)}/tokens`, { body });
  }

  revokeEndpointKey(id: string, keyId: string): Promise<EndpointKey> {
    return this.request<EndpointKey>('DELETE', `/v1/endpoints/${enc(id)}/tokens/${enc(keyId)}`);
  }

  /** Sends one request; resolves with the parsed JSON body, rejects with ApiError or NetworkError. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const target = new URL(this.url + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) target.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.#userAgent };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(target, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
      text = await res.text();
    } catch (err) {
      throw this.#networkError(err, timeoutMs);
    }
    const headerRequestId = res.headers.get('x-request-id');
    if (!res.ok) throw errorFromResponse(res.status, res.statusText, text, headerRequestId);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError({
        code: null,
        status: res.status,
        message: `unexpected non-JSON answer from ${this.url}${path} (is this an AppProxy manager?)`,
        requestId: headerRequestId,
      });
    }
  }

  #networkError(err: unknown, timeoutMs: number): NetworkError {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      return new NetworkError(
        this.url,
        'TIMEOUT',
        `the manager at ${this.url} did not answer within ${formatDuration(timeoutMs)}`,
        { cause: err },
      );
    }
    const reason = systemErrorCode(err) ?? innermostMessage(err);
    return new NetworkError(
      this.url,
      reason,
      `cannot reach the manager at ${this.url} (${reason}) — is \`appproxy up\` running?`,
      { cause: err },
    );
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

/** Digs the errno-style code out of fetch's `TypeError: fetch failed` (possibly an AggregateError inside). */
function systemErrorCode(err: unknown): string | null {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    if (typeof code === 'string' && code.startsWith('UND_ERR_')) return code;
    queue.push((e as { cause?: unknown }).cause);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return null;
}

/** fetch wraps the real reason (e.g. `bad port`) in `TypeError: fetch failed`; use the innermost message. */
function innermostMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

function errorFromResponse(
  status: number,
  statusText: string,
  text: string,
  headerRequestId: string | null,
): ApiError {
  const enveloped = envelopeError(status, text, headerRequestId);
  if (enveloped) return enveloped;
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return new ApiError({
    code: null,
    status,
    message: `HTTP ${status}${statusText ? ` ${statusText}` : ''}${snippet ? `: ${snippet}` : ''}`,
    requestId: headerRequestId,
  });
}
