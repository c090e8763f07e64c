/**
 * The manager (control plane with the integrated coordinator). `createManager` wires stores,
 * services and the HTTP app; it never listens. `start()` publishes the setup-token keys, begins
 * the worker-registrations watch, subscribes to agent reports, resumes interrupted lifecycle
 * flows and starts campaigning for leadership; `close()` steps down, stops all of that and waits
 * (bounded) for in-flight lifecycle work.
 *
 * Any number of managers serve the API (stateless over SQL). The background loops under `loops/` —
 * worker health (`worker-health.ts`), the reconciler (`reconciler.ts`) and the idle policies
 * (`idle-policies.ts`) — run only on the leader elected through KV (`loops/leader.ts`), and
 * start/stop with its leadership.
 */

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AgentDriver } from '../contracts/agent.ts';
import type { DoctorReport } from '../contracts/records.ts';
import { sleep } from '../core/backoff.ts';
import { SETUP_TOKEN_MAX_TTL_MS, type SetupTokenIssuer } from '../core/setup-token.ts';
import { FlagView } from '../stores/flag-view.ts';
import type { Stores } from '../stores/types.ts';
import { buildApp } from './http/app.ts';
import { authRoutes } from './http/auth.ts';
import { circuitRoutes } from './http/circuits.ts';
import { consoleRoutes, loadConsole } from './http/console.ts';
import { mount } from './http/context.ts';
import { doctorRoutes } from './http/doctor.ts';
import { endpointRoutes } from './http/endpoints.ts';
import { flagRoutes } from './http/flags.ts';
import { healthRoutes } from './http/health.ts';
import { legacyRoutes } from './http/legacy.ts';
import { liveRoutes } from './http/live.ts';
import { logoutUriRoutes } from './http/logout-uris.ts';
import { oidcBackchannelRoutes } from './http/oidc-backchannel.ts';
import { oidcPageRoutes } from './http/pages/oidc.ts';
import { pageRoutes } from './http/pages/pages.ts';
import { sessionRoutes } from './http/sessions.ts';
import { templateRoutes } from './http/templates.ts';
import { userRoutes } from './http/users.ts';
import { workerRoutes } from './http/workers.ts';
import { type IdleAction, IdlePolicies } from './loops/idle-policies.ts';
import { LeaderElector } from './loops/leader.ts';
import { Reconciler, type Repair } from './loops/reconciler.ts';
import { WorkerHealth } from './loops/worker-health.ts';
import { createManagerMetrics } from './metrics.ts';
import { CircuitRepo } from './repos/circuits.ts';
import { EndpointRepo } from './repos/endpoints.ts';
import { EventLog } from './repos/events.ts';
import { FlagRepo } from './repos/flags.ts';
import { LegacyRepo } from './repos/legacy.ts';
import { LoginSessionRepo } from './repos/login-sessions.ts';
import { LogoutRepo } from './repos/logout.ts';
import { RevocationRepo } from './repos/revocations.ts';
import { SessionRepo } from './repos/sessions.ts';
import { UserRepo } from './repos/users.ts';
import { WorkerRepo } from './repos/workers.ts';
import { DEFAULT_TCP_POLICY, type TcpPolicy } from './services/access.ts';
import { AccessChanges } from './services/access-changes.ts';
import { ActivityService } from './services/activity.ts';
import { AuthService } from './services/auth.ts';
import { CircuitOpener } from './services/circuit-opener.ts';
import { CircuitProjection } from './services/circuit-projection.ts';
import { CircuitService } from './services/circuits.ts';
import { CliLogins } from './services/cli-login.ts';
import { Doctor } from './services/doctor.ts';
import { EndpointService } from './services/endpoints.ts';
import { EventService } from './services/events.ts';
import { FlagService } from './services/flags.ts';
import { Identity } from './services/identity.ts';
import { DEFAULT_IDLE_POLICY, type IdlePolicyConfig } from './services/idle-settings.ts';
import { DEFAULT_LEGACY, LegacyCoordinator, type LegacyOptions } from './services/legacy-coordinator.ts';
import { Lifecycle } from './services/lifecycle.ts';
import { LiveEvents } from './services/live-events.ts';
import { DEFAULT_LOGIN_LIMITS, type LoginLimits, LoginSessions } from './services/login-sessions.ts';
import { LogoutService } from './services/logout.ts';
import { type OidcOptions, OidcService } from './services/oidc.ts';
import { OpeningCircuits } from './services/opening.ts';
import { Readiness } from './services/readiness.ts';
import { RevocationService } from './services/revocations.ts';
import { SessionService } from './services/sessions.ts';
import { TokenService } from './services/tokens.ts';
import { WorkerService } from './services/workers.ts';
import { guardStores } from './store-guard.ts';

/**
 * How long `start()` waits for the setup-token keys to be published and for recovery: with KV
 * away both go on in the background, so a manager can start during a store outage.
 */
const RECOVERY_WAIT_MS = 5000;

export interface ManagerOptions {
  /** SQL (migrated already), KV and counters. */
  stores: Stores;
  agent: AgentDriver;
  setupTokenIssuer: SetupTokenIssuer;
  /** Plaintext; at start, user `admin` (role admin) and this token exist (its SHA-256 only is stored). */
  adminToken: string;
  logger: Logger;
  metrics: Registry;
  /** Setup-token lifetime; default 30 s, capped at 60 s. */
  setupTokenTtlMs?: number;
  /** How long start-service waits for the worker to confirm a route; default 10 s. */
  routeReadyTimeoutMs?: number;
  /** How long a close waits for the worker to confirm before marking the circuit CLOSED anyway; default 5 s. */
  circuitCloseTimeoutMs?: number;
  /** Bound on `close()` waiting for in-flight lifecycle work; default 10 s. */
  drainTimeoutMs?: number;
  /** This manager's id in leader election; default `<hostname>-<pid>-<4 hex>`. */
  managerId?: string;
  /** TTL of the leader lease; default 10 s. A dead leader is replaced within about one TTL. */
  leaderTtlMs?: number;
  /**
   * How long a worker's registration may be gone before its ACTIVE circuits become UNAVAILABLE;
   * default: the lease TTL the worker registered with (10 s when it did not say).
   */
  workerGraceMs?: number;
  /** Worker-health loop period (leader); default 1 s. It also runs at once on registration changes. */
  healthIntervalMs?: number;
  /** Reconciler period (leader); default 30 s. It also runs once on becoming leader. */
  reconcileIntervalMs?: number;
  /** TERMINATING sessions older than this are resumed by the reconciler; default 60 s. */
  terminatingStuckMs?: number;
  /** TCP circuits: default access, whether public access is permitted, connection limit. */
  tcp?: Partial<TcpPolicy>;
  /** Idle defaults, the limits API requests must stay within, and the idle loop's period (leader). */
  idlePolicy?: Partial<IdlePolicyConfig>;
  /** Sign-in, login sessions, cookies and logout. */
  auth?: Partial<AuthOptions>;
  /** The Backend.AI-compatible surface (served while `legacyCoordinatorApi` is on). */
  legacy?: Partial<LegacyOptions>;
  /** Inference endpoints: whether one may be public (no key). Default false. */
  endpoints?: { allowPublic?: boolean };
  /**
   * The web console's build folder; default console/dist of this checkout. `null`: no console
   * (`/` is the plain server-rendered page). A folder without a build counts as none.
   */
  consoleDir?: string | null;
}

export interface AuthOptions {
  /**
   * Where browsers reach this manager (`https://appproxy.example.com`): the sign-in and logout
   * pages, the CLI's approval link and the workers' sign-in links use it. Default: the address it
   * listens on (known once it listens; see `Manager.setPublicUrl`).
   */
  publicUrl: string | null;
  /** Lifetime of a browser sign-in (and of the app cookies minted under it, at most). Default 12 h. */
  loginSessionTtlMs: number;
  /** Lifetime of a CLI sign-in. Default 30 days. */
  cliSessionTtlMs: number;
  /** The longest an app cookie lives. Default 12 h. */
  appCookieTtlMs: number;
  /** Secure (and `__Host-`) login cookies; default: when `publicUrl` is https. */
  secureCookies: boolean | null;
  loginLimits: LoginLimits;
  /**
   * Sign-in with an OpenID Connect provider; null = off. The provider must know the redirect URI
   * `<publicUrl>/login/oidc/callback` and the back-channel logout URI
   * `<publicUrl>/v1/auth/oidc/backchannel-logout`.
   */
  oidc: OidcOptions | null;
}

export const DEFAULT_AUTH: Readonly<AuthOptions> = Object.freeze({
  publicUrl: null,
  loginSessionTtlMs: 12 * 3600_000,
  cliSessionTtlMs: 30 * 86_400_000,
  appCookieTtlMs: 12 * 3600_000,
  secureCookies: null,
  loginLimits: DEFAULT_LOGIN_LIMITS,
  oidc: null,
});

export interface Manager {
  app: FastifyInstance;
  /** This manager's id in leader election. */
  readonly id: string;
  /** True while this manager is the leader (runs the background loops). */
  isLeader(): boolean;
  /** The leader's id as this manager knows it (itself when leading); null when none is known. */
  leaderId(): string | null;
  /** `leader` / `follower` events as leadership changes. */
  readonly leader: LeaderElector;
  /** Runs one reconciler pass now (on any manager; the loop itself runs on the leader only). */
  reconcile(): Promise<Repair[]>;
  /** Runs one worker-health pass now (tests). */
  checkWorkers(): Promise<void>;
  /** Runs one idle-policy pass now (on any manager; the loop itself runs on the leader only). */
  runIdlePolicies(): Promise<IdleAction[]>;
  /** The invariant check behind `GET /v1/doctor`. */
  doctor(): Promise<DoctorReport>;
  /** The public URL, when the configuration did not give one and the address is known only after listening. */
  setPublicUrl(url: string): void;
  /** Where browsers reach this manager. */
  publicUrl(): string;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function createManager(opts: ManagerOptions): Promise<Manager> {
  const logger = opts.logger.child({ component: 'manager' });
  const stores = guardStores(opts.stores);
  const routeReadyTimeoutMs = opts.routeReadyTimeoutMs ?? 10_000;
  const circuitCloseTimeoutMs = opts.circuitCloseTimeoutMs ?? 5_000;
  const setupTokenTtlMs = Math.min(Math.max(opts.setupTokenTtlMs ?? 30_000, 1_000), SETUP_TOKEN_MAX_TTL_MS);

  const sessionRepo = new SessionRepo(stores.sql);
  const circuitRepo = new CircuitRepo(stores.sql);
  const workerRepo = new WorkerRepo(stores.sql);
  const userRepo = new UserRepo(stores.sql);
  const events = new EventLog(stores.sql, logger.child({ service: 'events' }));
  const tcp: TcpPolicy = { ...DEFAULT_TCP_POLICY, ...opts.tcp };
  const idlePolicy: IdlePolicyConfig = { ...DEFAULT_IDLE_POLICY, ...opts.idlePolicy };

  const metrics = createManagerMetrics(opts.metrics, {
    sessions: () => sessionRepo.countByState(),
    circuits: () => circuitRepo.countByState(),
  });
  const authOpts: AuthOptions = { ...DEFAULT_AUTH, ...opts.auth };
  let publicUrl = authOpts.publicUrl?.replace(/\/+$/, '') ?? 'http://127.0.0.1';
  const secureCookies = authOpts.secureCookies ?? publicUrl.startsWith('https:');
  const loginRepo = new LoginSessionRepo(stores.sql);
  const logoutRepo = new LogoutRepo(stores.sql);
  const auth = new AuthService(userRepo, loginRepo, { secureCookies });
  const revocations = new RevocationService({
    kv: stores.kv,
    repo: new RevocationRepo(stores.sql),
    logger: logger.child({ service: 'revocations' }),
    appCookieTtlMs: authOpts.appCookieTtlMs,
  });
  const logins = new LoginSessions({
    repo: loginRepo,
    users: userRepo,
    counters: stores.counters,
    revocations,
    logger: logger.child({ service: 'login-sessions' }),
    ttlMs: authOpts.loginSessionTtlMs,
    cliTtlMs: authOpts.cliSessionTtlMs,
    limits: authOpts.loginLimits,
  });
  const cliLogins = new CliLogins(stores.counters, logins);
  const oidc = authOpts.oidc
    ? new OidcService({
        options: authOpts.oidc,
        users: userRepo,
        logins,
        loginRepo,
        counters: stores.counters,
        issuer: opts.setupTokenIssuer,
        publicUrl: () => publicUrl,
        secureCookies,
        logger: logger.child({ service: 'oidc' }),
      })
    : null;
  const workers = new WorkerService(stores.kv, workerRepo, logger.child({ service: 'workers' }));
  const logout = new LogoutService({
    repo: logoutRepo,
    issuer: opts.setupTokenIssuer,
    publicUrl: () => publicUrl,
    logoutPathOf: (a) => workers.get(a)?.logoutPath ?? workers.goneSince(a)?.registration.logoutPath,
  });
  const projection = new CircuitProjection({
    kv: stores.kv,
    circuits: circuitRepo,
    logger: logger.child({ service: 'circuit-projection' }),
  });
  const opening = new OpeningCircuits();
  const lifecycle = new Lifecycle({
    projection,
    opening,
    sessions: sessionRepo,
    circuits: circuitRepo,
    workers,
    agent: opts.agent,
    events,
    logger: logger.child({ service: 'lifecycle' }),
    circuitCloseTimeoutMs,
    routeReadyTimeoutMs,
  });
  const sessions = new SessionService(
    sessionRepo,
    opts.agent,
    lifecycle,
    logger.child({ service: 'sessions' }),
    {
      idle: idlePolicy,
      events,
    },
  );
  const idle = new IdlePolicies({
    circuits: circuitRepo,
    counters: stores.counters,
    lifecycle,
    events,
    metrics,
    logger: logger.child({ service: 'idle' }),
    checkIntervalMs: idlePolicy.checkIntervalMs,
  });
  const idleDeadline = (at: number) => idle.wakeBy(at);
  const tokens = new TokenService({
    kv: stores.kv,
    issuer: opts.setupTokenIssuer,
    logger: logger.child({ service: 'tokens' }),
    ttlMs: setupTokenTtlMs,
    appCookieTtlMs: authOpts.appCookieTtlMs,
    info: () => ({ publicUrl, loginUrl: `${publicUrl}/login` }),
    logout: logoutRepo,
  });
  const opener = new CircuitOpener({
    projection,
    opening,
    repo: circuitRepo,
    workers,
    lifecycle,
    events,
    logger: logger.child({ service: 'circuits' }),
    routeReadyTimeoutMs,
    idleDeadline,
  });
  const circuits = new CircuitService({
    repo: circuitRepo,
    sessions,
    opener,
    access: new AccessChanges({
      repo: circuitRepo,
      projection,
      events,
      logger: logger.child({ service: 'circuits' }),
      tcp,
      idleDeadline,
    }),
    activity: new ActivityService({
      counters: stores.counters,
      repo: circuitRepo,
      sessionRepo,
      checkIntervalMs: idlePolicy.checkIntervalMs,
    }),
    tokens,
    lifecycle,
    metrics,
    tcp,
    idle: idlePolicy,
    idleDeadline,
    flowFor: (ownerId) => (flagView.enabled('integratedFlow', { user: ownerId }) ? 'integrated' : 'legacy'),
  });

  const managerId = opts.managerId ?? `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
  const leader = new LeaderElector({
    kv: stores.kv,
    id: managerId,
    ttlMs: opts.leaderTtlMs ?? 10_000,
    logger,
  });
  const health = new WorkerHealth({
    kv: stores.kv,
    workers,
    workerRepo,
    circuits: circuitRepo,
    lifecycle,
    metrics,
    logger: logger.child({ service: 'health' }),
    ...(opts.workerGraceMs !== undefined ? { graceMs: opts.workerGraceMs } : {}),
    intervalMs: opts.healthIntervalMs ?? 1000,
  });
  const pendingBoundMs = routeReadyTimeoutMs + 5000;
  const closingBoundMs = circuitCloseTimeoutMs + 5000;
  const reconciler = new Reconciler({
    projection,
    revocations,
    flags: { reconcile: () => flags.reconcile() },
    circuits: circuitRepo,
    sessions: sessionRepo,
    lifecycle,
    metrics,
    logger: logger.child({ service: 'reconciler' }),
    agent: opts.agent,
    relaunch: (id, template) => sessions.relaunch(id, template),
    intervalMs: opts.reconcileIntervalMs ?? 30_000,
    pendingBoundMs,
    closingBoundMs,
    terminatingBoundMs: opts.terminatingStuckMs ?? 60_000,
  });
  const doctor = new Doctor({
    kv: stores.kv,
    circuits: circuitRepo,
    workers: workerRepo,
    graceOf: (a) => health.graceOf(a),
    pendingBoundMs,
    closingBoundMs,
  });
  const eventService = new EventService(events, sessions, circuits);
  const live = new LiveEvents(events, logger.child({ service: 'live-events' }));
  // Feature flags as every manager sees them (a watch of their KV records): changes apply live.
  const flagView = new FlagView(stores.kv, logger.child({ service: 'flags' }));
  flagView.onChange((name) => {
    if (name === 'liveEvents' && !flagView.enabled('liveEvents')) live.endAll();
  });
  const endpoints = new EndpointService({
    repo: new EndpointRepo(stores.sql),
    kv: stores.kv,
    circuits: circuitRepo,
    opener,
    projection,
    lifecycle,
    events,
    logger: logger.child({ service: 'endpoints' }),
    allowPublic: opts.endpoints?.allowPublic ?? false,
    counters: stores.counters,
  });
  lifecycle.holdRoutes(endpoints);
  sessions.onRunning((id) => endpoints.sessionRunning(id));
  const identity = new Identity({
    users: userRepo,
    logins,
    revocations,
    logger: logger.child({ service: 'identity' }),
    endEverythingOf: async (userId, reason) => {
      await Promise.all(
        (await sessionRepo.liveIdsOfOwner(userId)).map((id) => lifecycle.terminateSession(id, reason).done),
      );
      // An endpoint outlives no owner: its URL closes and its keys are revoked.
      await endpoints.endOwnedBy(userId, `(${reason})`);
    },
  });
  const flags = new FlagService({
    repo: new FlagRepo(stores.sql),
    kv: stores.kv,
    identity,
    logger: logger.child({ service: 'flags' }),
  });
  const legacyOptions: LegacyOptions = { ...DEFAULT_LEGACY, ...opts.legacy };
  if (legacyOptions.allowUnauthenticatedConf)
    logger.warn(
      'legacy.allowUnauthenticatedConf is on: anyone who reaches POST /v2/conf can register sessions (restrict it to the Backend.AI manager by network)',
    );
  const legacy = new LegacyCoordinator({
    repo: new LegacyRepo(stores.sql),
    loginSessions: loginRepo,
    users: userRepo,
    sessions: sessionRepo,
    events,
    logins,
    circuits,
    endpoints,
    flags: flagView,
    options: legacyOptions,
    publicUrl: () => publicUrl,
    logger: logger.child({ service: 'legacy' }),
  });
  metrics.leader.set({ manager: managerId }, 0);
  leader.on('leader', () => {
    metrics.leader.set({ manager: managerId }, 1);
    metrics.leaderChanges.inc();
    health.start();
    reconciler.start();
    idle.start();
  });
  leader.on('follower', () => {
    metrics.leader.set({ manager: managerId }, 0);
    metrics.leaderChanges.inc();
    void health.stop();
    void reconciler.stop();
    void idle.stop();
  });

  const webConsole = opts.consoleDir === null ? null : loadConsole(opts.consoleDir);
  if (opts.consoleDir !== null && !webConsole)
    opts.logger.info('the web console is not built (npm run build:console): / serves the plain page');
  // Each route plugin gets the services it uses, and nothing else.
  const app = await buildApp({
    logger: opts.logger,
    metrics,
    auth,
    routes: [
      mount(healthRoutes, { readiness: new Readiness(stores, leader), registry: opts.metrics }),
      mount(authRoutes, {
        auth,
        logins,
        identity,
        logout,
        cliLogins,
        publicUrl: () => publicUrl,
        secureCookies,
      }),
      mount(userRoutes, { identity, logins }),
      mount(logoutUriRoutes, { logout }),
      mount(sessionRoutes, { sessions, circuits, events: eventService }),
      mount(circuitRoutes, { circuits, events: eventService }),
      mount(liveRoutes, { live, auth, flags: flagView }),
      mount(flagRoutes, { flags }),
      mount(endpointRoutes, { endpoints, events }),
      mount(legacyRoutes, { legacy }),
      mount(workerRoutes, { workers }),
      mount(doctorRoutes, { doctor }),
      mount(templateRoutes, { agent: opts.agent }),
      mount(pageRoutes, {
        auth,
        logins,
        identity,
        logout,
        cliLogins,
        sessions,
        circuits,
        agent: opts.agent,
        secureCookies,
        oidcLabel: oidc?.label ?? null,
        console: webConsole,
      }),
      mount(consoleRoutes, { console: webConsole }),
      mount(oidcPageRoutes, { oidc, cookieName: auth.cookieName, secureCookies }),
      mount(oidcBackchannelRoutes, { oidc }),
    ],
  });

  let started = false;
  let closed = false;
  return {
    // The type provider only matters to our routes; callers get a plain instance.
    app: app as unknown as FastifyInstance,
    id: managerId,
    leader,
    isLeader: () => leader.isLeader,
    leaderId: () => leader.leader?.id ?? null,
    reconcile: () => reconciler.runOnce(),
    checkWorkers: () => health.tick(true),
    runIdlePolicies: () => idle.runOnce(),
    doctor: () => doctor.check(),
    setPublicUrl(url: string) {
      if (authOpts.publicUrl) return;
      publicUrl = url.replace(/\/+$/, '');
      tokens.republishInfo();
    },
    publicUrl: () => publicUrl,
    async start() {
      if (started) return;
      started = true;
      await auth.ensureAdmin(opts.adminToken);
      await tokens.start(RECOVERY_WAIT_MS);
      await workers.start();
      // Flags before serving; a KV outage must not hold the start up (the last values stand).
      flagView.startInBackground();
      await Promise.race([flagView.firstSync, sleep(RECOVERY_WAIT_MS)]);
      sessions.listen();
      // Closes wait for KV to take their retractions: with the store away they finish once it is
      // back, and the start does not wait for that.
      const recovery = lifecycle.recover();
      recovery.catch((err: unknown) =>
        logger.warn({ err }, 'recovery after restart failed; the reconciler resumes it'),
      );
      await Promise.race([recovery, sleep(RECOVERY_WAIT_MS)]);
      // The first round is quick (one transaction); a store outage must not hold the start up.
      await Promise.race([leader.start(), new Promise((r) => setTimeout(r, 2000).unref())]);
      logger.info({ manager: managerId }, 'manager started');
    },
    async close() {
      if (closed) return;
      closed = true;
      // Step down first: the loops stop and another manager takes over without waiting for a TTL.
      await leader.close();
      await Promise.all([health.stop(), reconciler.stop(), idle.stop()]);
      sessions.close();
      // Live streams never end by themselves: ended first, or closing the server would wait on them.
      live.close();
      await app.close();
      const drained = await lifecycle.drain(opts.drainTimeoutMs ?? 10_000);
      if (!drained) logger.warn('closing with lifecycle work still in flight; recovery will resume it');
      projection.close();
      revocations.close();
      endpoints.close();
      tokens.close();
      flags.close();
      await flagView.close();
      await workers.close();
    },
  };
}
