/**
 * Users and their API tokens: the one writer of both. Who may do what is decided here: admins
 * manage everyone; a user reads and edits their own display name and password, and creates, lists
 * and revokes their own tokens.
 *
 * What reaches the data plane: disabling or deleting a user puts a `user` revocation (every cookie
 * and live connection of theirs issued before it is refused or closed on every worker) and ends
 * their login sessions; revoking a token puts a `token` revocation (the cookies, tunnels and raw TCP
 * access minted under it). Deleting a user also terminates their sessions.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AppProxyError } from '../../contracts/errors.ts';
import { credentialState } from '../../core/lifetime.ts';
import { hashPassword, passwordProblem, verifyPassword } from '../../core/password.ts';
import { ADMIN_USER_ID, type Role, type TokenRow, type UserRepo, type UserRow } from '../repos/users.ts';
import { hashToken, newSecret, type Principal, requireAdmin } from './auth.ts';
import type { LoginSessions } from './login-sessions.ts';
import type { RevocationService } from './revocations.ts';

/** Scopes a token may carry beyond acting as its user. */
export const TOKEN_SCOPES = ['login-sessions'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export interface User {
  id: string;
  name: string;
  displayName: string | null;
  role: Role;
  disabled: boolean;
  hasPassword: boolean;
  identityProvider: string | null;
  createdAt: string;
}

export interface ApiToken {
  id: string;
  userId: string;
  name: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  /** live, expired or revoked. */
  state: 'live' | 'expired' | 'revoked';
}

export function toUser(r: UserRow): User {
  return {
    id: r.id,
    name: r.name,
    displayName: r.display_name,
    role: r.role,
    disabled: r.disabled_at !== null,
    hasPassword: r.password_hash !== null,
    identityProvider: r.oidc_issuer,
    createdAt: r.created_at.toISOString(),
  };
}

export function toToken(r: TokenRow): ApiToken {
  const state = credentialState(r.revoked_at, r.expires_at);
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    scopes: r.scopes ?? [],
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null,
    lastUsedAt: r.last_used_at?.toISOString() ?? null,
    state,
  };
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function invalid(field: string, message: string): AppProxyError {
  return new AppProxyError('AP_ERR_VALIDATION', message, [{ field, in: 'body', message }]);
}

export interface IdentityDeps {
  users: UserRepo;
  logins: LoginSessions;
  revocations: RevocationService;
  /** Terminates every live session of a deleted user. */
  endEverythingOf: (userId: string, reason: string) => Promise<void>;
  logger: Logger;
}

export class Identity {
  constructor(private readonly d: IdentityDeps) {}

  /** `me` means the caller. */
  private meOr(p: Principal, id: string): string {
    return id === 'me' ? p.userId : id;
  }

  /** A user the caller may see, by id, by name, or `me`. */
  private async visibleUser(p: Principal, ref: string): Promise<UserRow> {
    const uid = this.meOr(p, ref);
    const row = (await this.d.users.get(uid)) ?? (await this.d.users.byName(uid));
    if (!row || row.deleted_at || (p.role !== 'admin' && row.id !== p.userId))
      throw new AppProxyError('AP_ERR_USER_NOT_FOUND');
    return row;
  }

  async list(p: Principal): Promise<User[]> {
    requireAdmin(p);
    return (await this.d.users.list()).map(toUser);
  }

  async get(p: Principal, id: string): Promise<User> {
    return toUser(await this.visibleUser(p, id));
  }

  /** The id of a user the caller may see (id, name or `me`). */
  async idOf(p: Principal, ref: string): Promise<string> {
    return (await this.visibleUser(p, ref)).id;
  }

  /** Resolves a user id or name (admins and platform callers name users by either). */
  async resolve(idOrName: string): Promise<UserRow> {
    const row = (await this.d.users.get(idOrName)) ?? (await this.d.users.byName(idOrName));
    if (!row || row.deleted_at) throw new AppProxyError('AP_ERR_USER_NOT_FOUND');
    return row;
  }

  async create(
    p: Principal,
    input: { name: string; displayName?: string | null; role?: Role; password?: string },
  ): Promise<User> {
    requireAdmin(p);
    if (!NAME.test(input.name))
      throw invalid(
        '/name',
        'A user name is 1–63 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit.',
      );
    if (input.password !== undefined) {
      const problem = passwordProblem(input.password);
      if (problem) throw invalid('/password', problem);
    }
    if (await this.d.users.byName(input.name))
      throw new AppProxyError('AP_ERR_CONFLICT', `A user named "${input.name}" exists already.`, {
        name: input.name,
      });
    const row = await this.d.users.create({
      id: randomUUID(),
      name: input.name,
      displayName: input.displayName ?? null,
      role: input.role ?? 'user',
      passwordHash: input.password === undefined ? null : await hashPassword(input.password),
    });
    this.d.logger.info({ user: row.id, name: row.name, role: row.role, by: p.userId }, 'user created');
    return toUser(row);
  }

  async update(
    p: Principal,
    id: string,
    input: { displayName?: string | null; role?: Role; disabled?: boolean },
  ): Promise<User> {
    const row = await this.visibleUser(p, id);
    if ((input.role !== undefined || input.disabled !== undefined) && p.role !== 'admin')
      throw new AppProxyError('AP_ERR_FORBIDDEN', 'Only admins may change roles or disable users.');
    if (
      row.id === p.userId &&
      (input.disabled === true || (input.role !== undefined && input.role !== row.role))
    )
      throw new AppProxyError('AP_ERR_CONFLICT', 'You cannot disable yourself or change your own role.');
    if (row.id === ADMIN_USER_ID && (input.disabled === true || input.role === 'user'))
      throw new AppProxyError('AP_ERR_CONFLICT', 'The bootstrap admin cannot be disabled or demoted.');
    const updated = await this.d.users.update(row.id, input);
    if (!updated) throw new AppProxyError('AP_ERR_USER_NOT_FOUND');
    if (input.disabled === true && row.disabled_at === null) await this.cutOff(updated, 'user-disabled', p);
    if (input.role !== undefined && input.role !== row.role && row.role === 'admin')
      // A demoted admin's sign-ins carried admin rights: they end, and sign in again as a user.
      await this.d.logins.endAllOf(row.id, 'role-changed', p.userId);
    return toUser(updated);
  }

  /** Deletes a user: refuses everything of theirs everywhere, ends their sign-ins and sessions. */
  async delete(p: Principal, id: string): Promise<User> {
    requireAdmin(p);
    const row = await this.visibleUser(p, id);
    if (row.id === p.userId || row.id === ADMIN_USER_ID)
      throw new AppProxyError('AP_ERR_CONFLICT', 'You cannot delete yourself or the bootstrap admin.');
    const deleted = await this.d.users.markDeleted(row.id);
    if (!deleted) throw new AppProxyError('AP_ERR_USER_NOT_FOUND');
    await this.cutOff(deleted, 'user-deleted', p);
    await this.d.endEverythingOf(row.id, `user ${row.name} deleted by ${p.userId}`);
    return toUser(deleted);
  }

  private async cutOff(row: UserRow, reason: string, p: Principal): Promise<void> {
    await this.d.revocations.revoke({ kind: 'user', subject: row.id, reason, by: p.userId });
    await this.d.logins.endAllOf(row.id, reason, p.userId, { revoke: false });
    this.d.logger.info({ user: row.id, reason, by: p.userId }, 'user cut off');
  }

  /** Sets a password. Users give their current one (when they have one); admins need not. */
  async setPassword(
    p: Principal,
    id: string,
    input: { password: string; currentPassword?: string },
  ): Promise<void> {
    const row = await this.visibleUser(p, id);
    const problem = passwordProblem(input.password);
    if (problem) throw invalid('/password', problem);
    if (p.role !== 'admin' && row.password_hash !== null) {
      const ok =
        input.currentPassword !== undefined &&
        (await verifyPassword(input.currentPassword, row.password_hash));
      if (!ok) throw new AppProxyError('AP_ERR_LOGIN_FAILED', 'The current password is wrong.');
    }
    await this.d.users.setPasswordHash(row.id, await hashPassword(input.password));
    // Whoever knew the old password may hold a sign-in: all but the caller's end.
    await this.d.logins.endAllOf(row.id, 'password-changed', p.userId, { except: p.loginSessionId });
    this.d.logger.info({ user: row.id, by: p.userId }, 'password changed');
  }

  // ------------------------------------------------------------------ API tokens

  async listTokens(p: Principal, filter: { user?: string }): Promise<ApiToken[]> {
    if (filter.user !== undefined) {
      const row = await this.visibleUser(p, filter.user);
      return (await this.d.users.listTokens(row.id)).map(toToken);
    }
    return (await this.d.users.listTokens(p.role === 'admin' ? undefined : p.userId)).map(toToken);
  }

  /** A new token (its secret is in the answer only). */
  async createToken(
    p: Principal,
    input: { name: string; expiresInMs?: number | null; scopes?: string[]; user?: string },
  ): Promise<ApiToken & { token: string }> {
    const owner =
      input.user === undefined ? await this.visibleUser(p, 'me') : await this.visibleUser(p, input.user);
    const scopes = [...new Set(input.scopes ?? [])];
    for (const s of scopes)
      if (!(TOKEN_SCOPES as readonly string[]).includes(s))
        throw invalid('/scopes', `Unknown scope "${s}"; known: ${TOKEN_SCOPES.join(', ')}.`);
    if (scopes.length > 0 && p.role !== 'admin')
      throw new AppProxyError('AP_ERR_FORBIDDEN', 'Only admins may create tokens with scopes.');
    const name = input.name.trim();
    if (name === '' || name.length > 100) throw invalid('/name', 'A token name is 1–100 characters.');
    const secret = newSecret('ap_');
    const row = await this.d.users.createToken({
      id: randomUUID(),
      userId: owner.id,
      tokenHash: hashToken(secret),
      name,
      scopes,
      expiresAt: input.expiresInMs ? new Date(Date.now() + input.expiresInMs) : null,
    });
    this.d.logger.info({ token: row.id, user: owner.id, scopes, by: p.userId }, 'API token created');
    return { ...toToken(row), token: secret };
  }

  async revokeToken(p: Principal, id: string): Promise<ApiToken> {
    const row = await this.d.users.getToken(id);
    if (!row || (p.role !== 'admin' && row.user_id !== p.userId))
      throw new AppProxyError('AP_ERR_TOKEN_NOT_FOUND');
    const revoked = await this.d.users.revokeToken(id);
    if (!revoked) return toToken(row);
    await this.d.revocations.revoke({
      kind: 'token',
      subject: id,
      reason: 'token-revoked',
      grantExpiresAt: row.expires_at?.getTime() ?? null,
      by: p.userId,
    });
    return toToken(revoked);
  }
}
