/**
 * The Backend.AI-compatible coordinator surface (behind the `legacyCoordinatorApi` flag), mapped
 * onto AppProxy's own sessions, circuits, endpoints and keys — never a second data path:
 * - `POST /v2/conf` (Backend.AI's manager, at start-service): the user (Backend.AI's user id is
 *   ours), the session (an external session whose id is Backend.AI's, so the activity keys its idle
 *   checker reads line up), and a short-lived token for the browser's next step;
 * - `GET /v2/proxy/auth` (the browser, with that token): the app becomes a service of the session
 *   (the kernel's address), start-service opens or reuses its circuit, and the answer is the setup
 *   link — `/_appproxy/setup` for an integrated-flow circuit, Backend.AI's `/setup?token=` for a
 *   legacy-flow one (the `integratedFlow` flag decides for new circuits);
 * - `/v2/endpoints/*` (Backend.AI's deployment controller): endpoints whose id is the deployment
 *   id, routes as addresses, health checks, and keys (`POST …/token`).
 *
 * Backend.AI's calls carry a shared secret (`X-BackendAI-Token`, or a JWT signed with it); its
 * manager sends none to `/v2/conf`, which is why `allowUnauthenticatedConf` exists (off by default;
 * see docs/migration.md).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { jwtVerify } from 'jose';
import type { Logger } from 'pino';
import type { Endpoint, EndpointHealthCheck } from '../../contracts/endpoint.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import type { Protocol } from '../../contracts/records.ts';
import { safeNext } from '../../core/redirect.ts';
import type { FlagView } from '../../stores/flag-view.ts';
import type { EventLog } from '../repos/events.ts';
import type { LegacyRepo } from '../repos/legacy.ts';
import type { LoginSessionRepo } from '../repos/login-sessions.ts';
import type { SessionRepo } from '../repos/sessions.ts';
import type { UserRepo, UserRow } from '../repos/users.ts';
import type { Principal } from './auth.ts';
import type { CircuitService } from './circuits.ts';
import type { EndpointService, RouteInput } from './endpoints.ts';
import type { LoginSessions } from './login-sessions.ts';
import { EXTERNAL_AGENT } from './sessions.ts';

export interface LegacyOptions {
  /** The shared secret Backend.AI sends (`X-BackendAI-Token`); null: the secret-guarded calls answer 503. */
  apiSecret: string | null;
  /** Accept `POST /v2/conf` without the secret (Backend.AI's manager sends none). Off by default. */
  allowUnauthenticatedConf: boolean;
  /** Lifetime of a `/v2/conf` token (the browser trades it at once). */
  confTokenTtlMs: number;
  /** Idle reclaim of sessions registered through `/v2/conf` (Backend.AI never says when they end). */
  sessionIdleMs: number | null;
}

export const DEFAULT_LEGACY: Readonly<LegacyOptions> = Object.freeze({
  apiSecret: null,
  allowUnauthenticatedConf: false,
  confTokenTtlMs: 5 * 60_000,
  sessionIdleMs: 3600_000,
});

export interface LegacyDeps {
  repo: LegacyRepo;
  loginSessions: Pick<LoginSessionRepo, 'get'>;
  users: UserRepo;
  sessions: SessionRepo;
  events: EventLog;
  logins: LoginSessions;
  circuits: Pick<CircuitService, 'startService'>;
  endpoints: EndpointService;
  flags: FlagView;
  options: LegacyOptions;
  publicUrl: () => string;
  logger: Logger;
}

/** `POST /v2/conf` body (Backend.AI's manager, `start_service`). */
export interface ConfRequest {
  login_session_token?: string | null;
  kernel_host: string;
  kernel_port: number;
  session: {
    id: string;
    user_uuid: string;
    group_id?: string;
    project_id?: string;
    access_key?: string;
    domain_name?: string;
  };
}

/** `GET /v2/proxy/auth` query. */
export interface ProxyAuthQuery {
  token: string;
  session_id: string;
  app: string;
  protocol?: string;
  redirect?: string;
  no_reuse?: string;
  open_to_public?: string;
  allowed_client_ips?: string;
}

/** Backend.AI's `ModelHealthCheck` (seconds); fields it adds later are ignored. */
export interface LegacyHealthCheck {
  path?: string;
  interval?: number;
  max_retries?: number;
  max_wait_time?: number;
  expected_status_code?: number;
  initial_delay?: number;
}

export interface CreateEndpointItem {
  deployment_id?: string;
  endpoint_id?: string;
  version?: string;
  service_name: string;
  tags: {
    session: { user_uuid: string; project_id?: string; group_id?: string; domain_name?: string };
    endpoint: { id?: string; runtime_variant?: string; existing_url?: string | null };
  };
  open_to_public?: boolean;
  health_check?: LegacyHealthCheck | null;
}

export interface RouteEntry {
  session_id: string;
  route_id: string;
  kernel_host: string;
  kernel_port: number;
}

/** Ids AppProxy stores as given (Backend.AI's are UUIDs). */
const ID = /^[A-Za-z0-9._-]{1,128}$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function hash(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

function invalid(field: string, message: string, where: 'body' | 'querystring' = 'body'): AppProxyError {
  return new AppProxyError('AP_ERR_VALIDATION', message, [{ field, in: where, message }]);
}

function checkId(v: string, field: string, where: 'body' | 'querystring' = 'body'): string {
  if (!ID.test(v))
    throw invalid(field, `${field.slice(1)} is not an id (letters, digits, ".", "_", "-").`, where);
  return v;
}

/** Backend.AI's app protocols onto ours: what speaks HTTP to the app, and raw TCP. */
function protocolOf(p: string | undefined): Protocol {
  switch ((p ?? 'http').toLowerCase()) {
    case 'http':
    case 'preopen':
    case 'h2':
      return 'http';
    case 'tcp':
    case 'vnc':
    case 'rdp':
      return 'tcp';
    default:
      throw invalid(
        '/protocol',
        `Unknown protocol "${p}" (http, preopen, h2, tcp, vnc, rdp).`,
        'querystring',
      );
  }
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.toLowerCase());
}

/** Backend.AI's health check (seconds) as an endpoint's (ms); null turns checks off. */
export function healthCheckOf(h: LegacyHealthCheck | null | undefined): EndpointHealthCheck | null {
  if (!h) return null;
  const s = (v: number | undefined, d: number) => Math.round((v ?? d) * 1000);
  return {
    path: h.path?.startsWith('/') ? h.path : `/${h.path ?? 'health'}`,
    expectedStatus: h.expected_status_code ?? 200,
    intervalMs: Math.max(1000, s(h.interval, 10)),
    timeoutMs: Math.max(100, s(h.max_wait_time, 15)),
    healthyThreshold: 1,
    unhealthyThreshold: Math.max(1, h.max_retries ?? 10),
    initialDelayMs: s(h.initial_delay, 0),
  };
}

export class LegacyCoordinator {
  constructor(private readonly d: LegacyDeps) {}

  // ------------------------------------------------------------------ gates

  /** The whole surface answers only while `legacyCoordinatorApi` is on. */
  checkEnabled(): void {
    if (!this.d.flags.enabled('legacyCoordinatorApi'))
      throw new AppProxyError('AP_ERR_FEATURE_DISABLED', 'The Backend.AI-compatible API is turned off.', {
        flag: 'legacyCoordinatorApi',
      });
  }

  /**
   * Backend.AI's `auth_required`: `X-BackendAI-Token: <secret>` (also `Bearer <secret>` or
   * `BackendAI <secret>` as its value), or `Authorization: Bearer <JWT HS256 signed with the secret>`.
   */
  async checkSecret(headers: Record<string, string | string[] | undefined>): Promise<void> {
    const secret = this.d.options.apiSecret;
    if (secret === null) throw new AppProxyError('AP_ERR_LEGACY_NOT_CONFIGURED');
    const raw = headers['x-backendai-token'];
    const given = typeof raw === 'string' ? raw.replace(/^(?:Bearer|BackendAI)\s+/i, '').trim() : undefined;
    if (given !== undefined) {
      const a = Buffer.from(hash(given));
      const b = Buffer.from(hash(secret));
      if (timingSafeEqual(a, b)) return;
      throw new AppProxyError('AP_ERR_LEGACY_UNAUTHORIZED');
    }
    const auth = headers.authorization;
    const m = typeof auth === 'string' ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
    if (m) {
      try {
        await jwtVerify(m[1]!, new TextEncoder().encode(secret), { algorithms: ['HS256'] });
        return;
      } catch {
        throw new AppProxyError('AP_ERR_LEGACY_UNAUTHORIZED');
      }
    }
    throw new AppProxyError('AP_ERR_LEGACY_UNAUTHORIZED');
  }

  allowsUnauthenticatedConf(): boolean {
    return this.d.options.allowUnauthenticatedConf;
  }

  status(): { api_version: 'v2'; advertise_address: string } {
    return { api_version: 'v2', advertise_address: this.d.publicUrl() };
  }

  // ------------------------------------------------------------------ interactive apps

  /** `POST /v2/conf`: the first step of the handshake; answers the browser's token. */
  async conf(req: ConfRequest): Promise<{ token: string }> {
    const sessionId = checkId(req.session.id, '/session/id');
    const user = await this.ensureUser(checkId(req.session.user_uuid, '/session/user_uuid'));
    await this.ensureSession(sessionId, user);
    const loginSession = await this.loginSessionFor(user, req.login_session_token ?? null);
    const token = randomUUID();
    await this.d.repo.issueConfToken({
      tokenHash: hash(token),
      user_id: user.id,
      session_id: sessionId,
      login_session: loginSession,
      kernel_host: req.kernel_host,
      kernel_port: req.kernel_port,
      expiresAt: new Date(Date.now() + this.d.options.confTokenTtlMs),
    });
    this.d.logger.info({ session: sessionId, user: user.id }, 'legacy handshake: token issued');
    return { token };
  }

  /**
   * `GET /v2/proxy/auth`: trades the token for the app's setup link (opening or reusing its
   * circuit). `reuse` says whether a live circuit was reused; TCP apps answer their address.
   */
  async proxyAuth(q: ProxyAuthQuery): Promise<{ redirect_url: string; reuse: boolean }> {
    const t = await this.d.repo.confToken(hash(q.token));
    if (!t || t.session_id !== q.session_id) throw new AppProxyError('AP_ERR_LEGACY_TOKEN_INVALID');
    const user = await this.d.users.get(t.user_id);
    if (!user || user.deleted_at !== null || user.disabled_at !== null)
      throw new AppProxyError(
        'AP_ERR_LEGACY_TOKEN_INVALID',
        'The user of this token is disabled or deleted.',
      );
    if (!/^[A-Za-z0-9._-]{1,63}$/.test(q.app))
      throw invalid('/app', 'app is not a service name.', 'querystring');
    const protocol = protocolOf(q.protocol);
    const next = q.redirect === undefined || q.redirect === '' ? undefined : safeNext(q.redirect);
    if (next === null) throw new AppProxyError('AP_ERR_REDIRECT_NOT_ALLOWED');
    const registered = await this.d.sessions.upsertServices(t.session_id, [
      { name: q.app, protocol, host: t.kernel_host, port: t.kernel_port },
    ]);
    if (!registered) throw new AppProxyError('AP_ERR_SESSION_NOT_RUNNING');
    const p: Principal = { userId: user.id, role: user.role };
    if (t.login_session !== null) {
      p.loginSessionId = t.login_session;
      const ls = await this.d.loginSessions.get(t.login_session);
      if (!ls || ls.ended_at !== null || ls.expires_at.getTime() <= Date.now())
        throw new AppProxyError(
          'AP_ERR_LEGACY_TOKEN_INVALID',
          'The sign-in this token was issued under has ended.',
        );
      p.grantExpiresAt = ls.expires_at.getTime();
    }
    const allowFrom = (q.allowed_client_ips ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const access =
      protocol !== 'tcp'
        ? undefined
        : allowFrom.length > 0
          ? { mode: 'allow-list' as const, allowFrom }
          : truthy(q.open_to_public)
            ? { mode: 'public' as const }
            : undefined;
    const r = await this.d.circuits.startService(p, t.session_id, {
      service: q.app,
      ...(next !== undefined ? { next } : {}),
      ...(access ? { access } : {}),
    });
    // Backend.AI forces reuse false for TCP (its answer there is an address, not a link).
    if (r.setupUrl === null) return { redirect_url: r.appUrl, reuse: false };
    return { redirect_url: r.setupUrl, reuse: r.reused };
  }

  /** Backend.AI's user id is the user's id here; a new one gets a user without a password. */
  private async ensureUser(id: string): Promise<UserRow> {
    let user = await this.d.users.get(id);
    if (!user) {
      try {
        user = await this.d.users.create({
          id,
          name: `bai-${id.toLowerCase()}`.slice(0, 64),
          displayName: null,
          role: 'user',
          passwordHash: null,
        });
        this.d.logger.info({ user: id }, 'legacy handshake: user created for a Backend.AI user');
      } catch (err) {
        if ((err as { name?: string }).name !== 'UniqueViolation') throw err;
        user = await this.d.users.get(id);
      }
    }
    if (!user || user.deleted_at !== null) throw new AppProxyError('AP_ERR_USER_NOT_FOUND');
    if (user.disabled_at !== null) throw new AppProxyError('AP_ERR_FORBIDDEN', 'The user is disabled.');
    return user;
  }

  /** The session, registered as an external one under Backend.AI's id the first time it is seen. */
  private async ensureSession(id: string, user: UserRow): Promise<void> {
    const existing = await this.d.sessions.getRow(id);
    if (existing) {
      if (existing.owner_id !== user.id)
        throw new AppProxyError('AP_ERR_FORBIDDEN', 'The session belongs to another user.');
      if (existing.state !== 'RUNNING')
        throw new AppProxyError('AP_ERR_SESSION_NOT_RUNNING', `The session is ${existing.state}.`, {
          state: existing.state,
        });
      return;
    }
    const idle = this.d.options.sessionIdleMs;
    try {
      await this.d.sessions.insert(
        {
          id,
          name: `bai-${id.slice(0, 8).toLowerCase()}`,
          template: EXTERNAL_AGENT,
          ownerId: user.id,
          agent: EXTERNAL_AGENT,
          idle: {
            session: { value: idle, source: 'config' },
            circuit: { value: null, source: 'config' },
            connection: { value: 30 * 60_000, source: 'config' },
          },
        },
        [],
      );
    } catch (err) {
      // Two /v2/conf for one new session at once: the other registered it.
      if ((err as { name?: string }).name === 'UniqueViolation') return this.ensureSession(id, user);
      throw err;
    }
    await this.d.sessions.markRunning(id, []);
    await this.d.events.record({
      sessionId: id,
      kind: 'session-created',
      detail: 'Backend.AI session (/v2/conf)',
    });
    await this.d.events.record({ sessionId: id, kind: 'session-running', detail: 'external session' });
  }

  /**
   * Under the integrated flow the app cookie is bound to a sign-in: one per Backend.AI login
   * session token (its digest names it), so ending it (DELETE /v1/login-sessions/{id}, the user's
   * logout everywhere) revokes every app opened under that Backend.AI sign-in. Under the legacy
   * flow there is none: the permit is the user's.
   */
  private async loginSessionFor(user: UserRow, backendToken: string | null): Promise<string | null> {
    if (!this.d.flags.enabled('integratedFlow', { user: user.id })) return null;
    const createdBy = backendToken ? `backend.ai:${hash(backendToken).slice(0, 32)}` : null;
    if (createdBy) {
      const live = await this.d.repo.liveLoginSessionCreatedBy(user.id, createdBy);
      if (live) return live;
    }
    const { row } = await this.d.logins.create(user, 'platform', {
      userAgent: 'Backend.AI (legacy handshake)',
      ...(createdBy ? { createdBy } : {}),
    });
    return row.id;
  }

  // ------------------------------------------------------------------ inference endpoints

  /** Acts as the endpoint's owner, with the rights an admin has (address routes). */
  private async ownerOf(userUuid: string): Promise<Principal> {
    const user = await this.ensureUser(checkId(userUuid, '/tags/session/user_uuid'));
    return { userId: user.id, role: 'admin' };
  }

  private admin(): Principal {
    return { userId: 'admin', role: 'admin' };
  }

  /**
   * Creates or syncs one endpoint (idempotent on the deployment id: an existing one only gets its
   * health check updated, as Backend.AI's coordinator does).
   */
  async createEndpoint(
    id: string,
    item: CreateEndpointItem,
  ): Promise<{ deployment_id: string; url: string; health_check_enabled: boolean }> {
    checkId(id, '/deployment_id');
    const healthCheck = healthCheckOf(item.health_check);
    const existing = await this.d.endpoints.get(this.admin(), id).catch((err: unknown) => {
      if (err instanceof AppProxyError && err.code === 'AP_ERR_ENDPOINT_NOT_FOUND') return undefined;
      throw err;
    });
    let ep: Endpoint;
    if (existing && existing.state === 'ACTIVE') {
      ep = await this.d.endpoints.update(this.admin(), id, { settings: { healthCheck } });
    } else {
      const p = await this.ownerOf(item.tags.session.user_uuid);
      const settings = {
        access: item.open_to_public ? ('public' as const) : ('token' as const),
        healthCheck,
      };
      const base = item.service_name
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, '-')
        .replace(/^[^a-z0-9]+/, '');
      const names = NAME.test(base) ? [base, id.toLowerCase()] : [id.toLowerCase()];
      for (let i = 0; ; i++) {
        try {
          ep = await this.d.endpoints.create(p, { id, name: names[i]!, settings });
          break;
        } catch (err) {
          // The owner has an endpoint of that name: the deployment id is unique.
          if (i + 1 < names.length && err instanceof AppProxyError && err.code === 'AP_ERR_CONFLICT')
            continue;
          throw err;
        }
      }
    }
    return { deployment_id: id, url: ep.url ?? '', health_check_enabled: ep.settings.healthCheck !== null };
  }

  async deleteEndpoint(id: string): Promise<void> {
    await this.d.endpoints.delete(this.admin(), checkId(id, '/deployment_id')).catch((err: unknown) => {
      // Already gone counts as done.
      if (err instanceof AppProxyError && err.code === 'AP_ERR_ENDPOINT_NOT_FOUND') return;
      throw err;
    });
  }

  async setHealthCheck(id: string, h: LegacyHealthCheck | null): Promise<{ health_check_enabled: boolean }> {
    const ep = await this.d.endpoints.update(this.admin(), checkId(id, '/deployment_id'), {
      settings: { healthCheck: healthCheckOf(h) },
    });
    return { health_check_enabled: ep.settings.healthCheck !== null };
  }

  /** Replaces an endpoint's routes (Backend.AI's routes-sync: the authoritative set, addresses). */
  async replaceRoutes(id: string, routes: RouteEntry[]): Promise<void> {
    await this.d.endpoints.changeRoutes(this.admin(), checkId(id, '/deployment_id'), {
      replace: routes.map(routeInput),
    });
  }

  async registerRoutes(
    id: string,
    routes: RouteEntry[],
  ): Promise<{ registered_route_ids: string[]; already_registered_route_ids: string[] }> {
    const ep = await this.d.endpoints.get(this.admin(), checkId(id, '/deployment_id'));
    const have = new Set(ep.routes.map((r) => r.id));
    const fresh = dedupe(routes.filter((r) => !have.has(r.route_id)));
    if (fresh.length > 0)
      await this.d.endpoints.changeRoutes(this.admin(), id, { add: fresh.map(routeInput) });
    return {
      registered_route_ids: fresh.map((r) => r.route_id),
      already_registered_route_ids: routes.filter((r) => have.has(r.route_id)).map((r) => r.route_id),
    };
  }

  async unregisterRoutes(
    id: string,
    routeIds: string[],
  ): Promise<{ unregistered_route_ids: string[]; already_absent_route_ids: string[] }> {
    const ep = await this.d.endpoints.get(this.admin(), checkId(id, '/deployment_id'));
    const have = new Set(ep.routes.map((r) => r.id));
    const present = [...new Set(routeIds.filter((r) => have.has(r)))];
    if (present.length > 0) await this.d.endpoints.changeRoutes(this.admin(), id, { remove: present });
    return {
      unregistered_route_ids: present,
      already_absent_route_ids: routeIds.filter((r) => !have.has(r)),
    };
  }

  /**
   * `POST /v2/endpoints/{id}/token`: a key for `user_uuid` until `exp` (an endpoint key, shown
   * once; Backend.AI's clients send it as `BackendAI <key>` or `Bearer <key>`).
   */
  async mintToken(id: string, userUuid: string, exp: string | number): Promise<{ token: string }> {
    const at = typeof exp === 'number' ? exp * 1000 : Date.parse(exp);
    if (!Number.isFinite(at)) throw invalid('/exp', 'exp is not a date.');
    const ttl = at - Date.now();
    if (ttl < 1000) throw invalid('/exp', 'exp is in the past.');
    const key = await this.d.endpoints.createKey(this.admin(), checkId(id, '/deployment_id'), {
      name: `backend.ai ${checkId(userUuid, '/user_uuid')}`.slice(0, 100),
      expiresInMs: ttl,
    });
    return { token: key.key };
  }
}

function routeInput(r: RouteEntry): RouteInput {
  return { id: r.route_id, host: r.kernel_host, port: r.kernel_port };
}

function dedupe(routes: RouteEntry[]): RouteEntry[] {
  const seen = new Set<string>();
  return routes.filter((r) => !seen.has(r.route_id) && seen.add(r.route_id));
}

/** Per-item outcome of a bulk call: its result, or `{success: false, error}`. */
export async function perItem<T>(
  deploymentId: string,
  run: () => Promise<T>,
): Promise<({ deployment_id: string; success: true; error: null } & T) | BulkFailure> {
  try {
    return { deployment_id: deploymentId, success: true, error: null, ...(await run()) };
  } catch (err) {
    const message = err instanceof AppProxyError ? `${err.code}: ${err.message}` : 'internal error';
    return { deployment_id: deploymentId, success: false, error: message };
  }
}

interface BulkFailure {
  deployment_id: string;
  success: false;
  error: string;
}
