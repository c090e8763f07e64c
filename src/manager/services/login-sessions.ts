/**
 * Login sessions: the one writer of users' sign-ins, and what ending one does.
 * - Created by password sign-in (pages, `POST /v1/auth/login`), by an identity provider's sign-in
 *   (`oidc.ts`), by a platform web server for its user (a token with the `login-sessions` scope:
 *   its own login drives AppProxy without a second sign-in), or for a CLI approved from a signed-in
 *   browser (a child of that browser's login session: ending the parent ends it).
 * - Ending one (logout, its user or an admin, the platform that created it, the identity provider's
 *   back-channel logout, a disabled user) ends its children too and puts a `login-session`
 *   revocation per ended session: every worker refuses their cookies and closes their live
 *   connections.
 * - Password sign-in answers one generic "wrong name or password" whatever failed (no user, no
 *   password, wrong password, disabled), takes as long either way, and is rate limited per user name
 *   and per client address in the counters role (shared by every manager).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AppProxyError } from '../../contracts/errors.ts';
import { hashPassword, MAX_PASSWORD_LENGTH, verifyPassword } from '../../core/password.ts';
import type { CounterStore } from '../../stores/types.ts';
import type { LoginSessionKind, LoginSessionRepo, LoginSessionRow } from '../repos/login-sessions.ts';
import type { UserRepo, UserRow } from '../repos/users.ts';
import { hashToken, newSecret, type Principal } from './auth.ts';
import type { RevocationService } from './revocations.ts';

export interface LoginSession {
  id: string;
  userId: string;
  kind: LoginSessionKind;
  parentId: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  createdAt: string;
  expiresAt: string;
  lastSeenAt: string;
  endedAt: string | null;
  endReason: string | null;
  /** The caller's own login session. */
  current: boolean;
}

export function toLoginSession(r: LoginSessionRow, current?: string): LoginSession {
  return {
    id: r.id,
    userId: r.user_id,
    kind: r.kind,
    parentId: r.parent_id,
    clientAddress: r.client_address,
    userAgent: r.user_agent,
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at.toISOString(),
    lastSeenAt: r.last_seen_at.toISOString(),
    endedAt: r.ended_at?.toISOString() ?? null,
    endReason: r.end_reason,
    current: r.id === current,
  };
}

export interface LoginLimits {
  /** Failed sign-ins per user name within `windowMs`. */
  perUser: number;
  /** Sign-in attempts per client address within `windowMs`. */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: Readonly<LoginLimits> = Object.freeze({
  perUser: 10,
  perAddress: 100,
  windowMs: 15 * 60_000,
});

export interface LoginSessionsDeps {
  repo: LoginSessionRepo;
  users: UserRepo;
  counters: CounterStore;
  revocations: RevocationService;
  logger: Logger;
  /** Lifetime of browser sign-ins. */
  ttlMs: number;
  /** Lifetime of CLI sign-ins. */
  cliTtlMs: number;
  limits: LoginLimits;
}

/** What creating a login session hands back: the row and its secret (shown once). */
export interface Created {
  row: LoginSessionRow;
  secret: string;
}

export interface ClientInfo {
  clientAddress?: string | null;
  userAgent?: string | null;
}

const LOGIN_SCOPE = 'login-sessions';

export class LoginSessions {
  private decoy: Promise<string> | null = null;

  constructor(private readonly d: LoginSessionsDeps) {}

  /** Creates a login session for `user` (checked by the caller). */
  async create(
    user: UserRow,
    kind: LoginSessionKind,
    extra: ClientInfo & {
      ttlMs?: number;
      parentId?: string;
      createdBy?: string;
      oidc?: { issuer: string; subject: string; sid: string | null };
    } = {},
  ): Promise<Created> {
    const secret = newSecret('apl_');
    const ttl = extra.ttlMs ?? (kind === 'cli' ? this.d.cliTtlMs : this.d.ttlMs);
    const row = await this.d.repo.create({
      id: randomUUID(),
      userId: user.id,
      kind,
      secretHash: hashToken(secret),
      csrfToken: randomBytes(24).toString('base64url'),
      expiresAt: new Date(Date.now() + ttl),
      parentId: extra.parentId ?? null,
      createdBy: extra.createdBy ?? null,
      clientAddress: extra.clientAddress?.slice(0, 200) ?? null,
      userAgent: extra.userAgent?.slice(0, 500) ?? null,
      ...(extra.oidc ? { oidc: extra.oidc } : {}),
    });
    this.d.logger.info({ loginSession: row.id, user: user.id, kind }, 'signed in');
    return { row, secret };
  }

  /**
   * Password sign-in. Every failure is the same `AP_ERR_LOGIN_FAILED` after the same work; past
   * the limits, `AP_ERR_RATE_LIMITED` with the seconds to wait in `detail.retryAfterSeconds`.
   */
  async passwordLogin(
    input: { name: string; password: string; kind?: 'password' | 'cli' } & ClientInfo,
  ): Promise<Created> {
    const name = input.name.trim().toLowerCase();
    const addressKey = `ap:login:addr:${input.clientAddress ?? 'unknown'}`;
    const userKey = `ap:login:user:${name}`;
    const { windowMs, perAddress, perUser } = this.d.limits;
    const attempts = await this.d.counters.incr(addressKey, 1, windowMs);
    const failures = Number((await this.d.counters.get(userKey)) ?? 0);
    if (attempts > perAddress || failures >= perUser) {
      this.d.logger.warn({ name, client: input.clientAddress, attempts, failures }, 'sign-in rate limited');
      throw new AppProxyError('AP_ERR_RATE_LIMITED', undefined, {
        retryAfterSeconds: Math.ceil(windowMs / 1000),
      });
    }
    const user = name === '' ? undefined : await this.d.users.byName(name);
    const password = input.password.slice(0, MAX_PASSWORD_LENGTH);
    const stored = user?.password_hash ?? (await this.decoyHash());
    const matches = await verifyPassword(password, stored);
    if (!user?.password_hash || !matches || user.disabled_at !== null) {
      await this.d.counters.incr(userKey, 1, windowMs);
      this.d.logger.info({ name, client: input.clientAddress }, 'sign-in refused');
      throw new AppProxyError('AP_ERR_LOGIN_FAILED');
    }
    await this.d.counters.delete(userKey);
    return this.create(user, input.kind ?? 'password', input);
  }

  /**
   * A platform web server signs its user (id or name) in: a token with the `login-sessions`
   * scope, or an admin. The scope is checked before the user is looked up, so a caller without it
   * learns nothing about which users exist.
   */
  async createForPlatform(
    p: Principal,
    userRef: string,
    input: ClientInfo & { ttlMs?: number },
  ): Promise<Created> {
    if (p.role !== 'admin' && !p.scopes?.includes(LOGIN_SCOPE))
      throw new AppProxyError(
        'AP_ERR_FORBIDDEN',
        `Creating login sessions needs the "${LOGIN_SCOPE}" scope.`,
      );
    const user = (await this.d.users.get(userRef)) ?? (await this.d.users.byName(userRef));
    if (!user || user.deleted_at) throw new AppProxyError('AP_ERR_USER_NOT_FOUND');
    if (user.disabled_at !== null) throw new AppProxyError('AP_ERR_CONFLICT', 'The user is disabled.');
    const ttl = Math.min(input.ttlMs ?? this.d.ttlMs, this.d.cliTtlMs);
    return this.create(user, 'platform', { ...input, ttlMs: ttl, createdBy: p.tokenId ?? p.userId });
  }

  /** The sign-in a CLI gets once a signed-in browser approved it: a child of that browser's. */
  async createForCli(parent: Principal, client: ClientInfo): Promise<Created> {
    if (!parent.loginSessionId)
      throw new AppProxyError('AP_ERR_FORBIDDEN', 'Approve a CLI sign-in from a signed-in browser.');
    const user = await this.d.users.get(parent.userId);
    if (!user) throw new AppProxyError('AP_ERR_USER_NOT_FOUND');
    return this.create(user, 'cli', { ...client, parentId: parent.loginSessionId });
  }

  async list(p: Principal, f: { user?: string; live?: boolean }): Promise<LoginSession[]> {
    const userId =
      f.user === undefined
        ? p.role === 'admin'
          ? undefined
          : p.userId
        : f.user === 'me'
          ? p.userId
          : f.user;
    if (p.role !== 'admin' && userId !== p.userId) throw new AppProxyError('AP_ERR_FORBIDDEN');
    const rows = await this.d.repo.list({ ...(userId ? { userId } : {}), live: f.live ?? false });
    return rows.map((r) => toLoginSession(r, p.loginSessionId));
  }

  async get(p: Principal, id: string): Promise<LoginSession> {
    return toLoginSession(
      await this.visible(p, id === 'current' ? (p.loginSessionId ?? '') : id),
      p.loginSessionId,
    );
  }

  /** Ends a login session (its user, an admin, or the platform token that created it). */
  async end(p: Principal, id: string, reason = 'ended'): Promise<LoginSession[]> {
    const row = await this.visible(p, id === 'current' ? (p.loginSessionId ?? '') : id);
    const ended = await this.endIds([row.id], reason, p.userId);
    return ended.map((r) => toLoginSession(r, p.loginSessionId));
  }

  /** Ends every live login session of a user (but `except`), each revoked unless `revoke: false`. */
  async endAllOf(
    userId: string,
    reason: string,
    by: string,
    opts: { except?: string | undefined; revoke?: boolean } = {},
  ): Promise<LoginSessionRow[]> {
    const ids = (await this.d.repo.liveIdsOfUser(userId)).filter((id) => id !== opts.except);
    return this.endIds(ids, reason, by, opts.revoke ?? true);
  }

  /** Ends the given login sessions and their children; one revocation per ended session. */
  async endIds(ids: string[], reason: string, by: string, revoke = true): Promise<LoginSessionRow[]> {
    const ended = await this.d.repo.end(ids, reason);
    if (revoke)
      await Promise.all(
        ended.map((r) =>
          this.d.revocations.revoke({
            kind: 'login-session',
            subject: r.id,
            reason,
            grantExpiresAt: r.expires_at.getTime(),
            by,
          }),
        ),
      );
    if (ended.length > 0)
      this.d.logger.info({ loginSessions: ended.map((r) => r.id), reason, by }, 'signed out');
    return ended;
  }

  private async visible(p: Principal, id: string): Promise<LoginSessionRow> {
    const row = id === '' ? undefined : await this.d.repo.get(id);
    const mine = row && row.user_id === p.userId;
    const creator =
      row && row.created_by !== null && (row.created_by === p.tokenId || row.created_by === p.userId);
    if (!row || !(mine || creator || p.role === 'admin'))
      throw new AppProxyError('AP_ERR_LOGIN_SESSION_NOT_FOUND');
    return row;
  }

  private decoyHash(): Promise<string> {
    this.decoy ??= hashPassword(randomBytes(16).toString('hex'));
    return this.decoy;
  }
}
