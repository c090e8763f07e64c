/**
 * Sign-in with an OpenID Connect provider, and its back-channel logout.
 *
 * Sign-in is the authorization code flow with PKCE (S256), `state` and `nonce`. What the callback
 * needs (the PKCE verifier, state, nonce and `next`) rides in a short-lived cookie that the
 * manager signs (`SetupTokenIssuer.signState`): the browser carries it and cannot change it, and
 * no manager has to remember anything, so any manager of a cluster can take the callback.
 * openid-client checks the authorization response (state, `iss`) and the ID token (signature,
 * issuer, audience, expiry, nonce).
 *
 * Identities map to users by (issuer, `sub`) only. A first sign-in creates a user named from a
 * claim; a name another user already has gets a random suffix rather than a link to that user:
 * whoever controls the provider must never be able to take over an existing (password) account
 * by naming an identity after it. The role follows the groups claim at every sign-in.
 *
 * Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the provider POSTs a logout token;
 * it is checked like an ID token (the provider's JWKS, issuer, audience) plus `iat` bounds, the
 * logout event, `sub` or `sid`, no `nonce`, and a `jti` never seen before (a set-if-absent mark in
 * the counters role, shared by every manager). The matching live login sessions end with reason
 * `idp-logout`, which revokes them on every worker.
 *
 * Discovery is lazy: the first request that needs the provider fetches its metadata, and a failed
 * attempt is forgotten so that the next request tries again (a provider that is down at start
 * does not keep the manager from starting or sign-in from working once it is back).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { Logger } from 'pino';
import { AppProxyError, UniqueViolation } from '../../contracts/errors.ts';
import { safeNext } from '../../core/redirect.ts';
import type { SetupTokenIssuer } from '../../core/setup-token.ts';
import type { CounterStore } from '../../stores/types.ts';
import type { LoginSessionRepo } from '../repos/login-sessions.ts';
import { ADMIN_USER_ID, type Role, type UserRepo, type UserRow } from '../repos/users.ts';
import type { ClientInfo, Created, LoginSessions } from './login-sessions.ts';

/** The provider and how its identities become users (`auth.oidc` of the configuration). */
export interface OidcOptions {
  issuer: string;
  clientId: string;
  /** null: a public client (PKCE only). */
  clientSecret: string | null;
  scopes: string[];
  nameClaim: string;
  groupsClaim: string;
  adminGroups: string[];
  /** The sign-in page's link text. */
  label: string;
  autoCreateUsers: boolean;
}

export const OIDC_DEFAULTS = Object.freeze({
  scopes: ['openid', 'profile', 'email'],
  nameClaim: 'preferred_username',
  groupsClaim: 'groups',
  adminGroups: [] as string[],
  label: 'Sign in with single sign-on',
  autoCreateUsers: true,
});

/** The cookie that carries the flow's signed state from `/login/oidc` to its callback. */
export const OIDC_STATE_COOKIE = 'appproxy_oidc';
export const OIDC_CALLBACK_PATH = '/login/oidc/callback';
export const OIDC_BACKCHANNEL_PATH = '/v1/auth/oidc/backchannel-logout';
const STATE_PURPOSE = 'oidc-login';
const STATE_TTL_MS = 10 * 60_000;
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** A logout token issued longer ago than this is refused (its `jti` mark outlives the window). */
const LOGOUT_TOKEN_MAX_AGE_S = 300;
const CLOCK_SKEW_S = 60;
const JTI_MARK_TTL_MS = (LOGOUT_TOKEN_MAX_AGE_S + 2 * CLOCK_SKEW_S) * 1000;
/** Signature algorithms a logout token may use: asymmetric ones, verified with the provider's JWKS. */
const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^(EdDSA|Ed25519|ES256K)$/;
const USER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** A logout token that fails validation: answered 400 `invalid_request`. */
export class InvalidLogoutToken extends Error {
  override readonly name = 'InvalidLogoutToken';
}

/** Whether a URL's host is a loopback address (where a plain-http provider is allowed). */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** A user name from a claim value: lowercased and reduced to `^[a-z0-9][a-z0-9._-]{0,62}$`. */
export function sanitizeUserName(raw: string): string | null {
  const name = raw
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 63)
    .replace(/[._-]+$/, '');
  return USER_NAME.test(name) ? name : null;
}

interface Discovered {
  config: client.Configuration;
  issuer: string;
  jwks: JWTVerifyGetKey;
  algorithms: string[];
}

interface FlowState {
  verifier: string;
  state: string;
  nonce: string;
  next: string;
}

export interface OidcServiceDeps {
  options: OidcOptions;
  users: UserRepo;
  logins: LoginSessions;
  loginRepo: Pick<LoginSessionRepo, 'liveIdsOfOidc'>;
  counters: CounterStore;
  /** Signs the flow's state for the browser to carry. */
  issuer: Pick<SetupTokenIssuer, 'signState' | 'verifyState'>;
  /** Where browsers reach this manager (the redirect URI is under it). */
  publicUrl: () => string;
  secureCookies: boolean;
  logger: Logger;
}

export class OidcService {
  private discovered: Promise<Discovered> | null = null;
  private readonly o: OidcOptions;

  constructor(private readonly d: OidcServiceDeps) {
    this.o = d.options;
    const u = new URL(this.o.issuer);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackUrl(this.o.issuer)))
      throw new AppProxyError(
        'AP_ERR_CONFIG_INVALID',
        'The OpenID Connect issuer must be https (http only on loopback).',
      );
  }

  get label(): string {
    return this.o.label;
  }

  redirectUri(): string {
    return `${this.d.publicUrl()}${OIDC_CALLBACK_PATH}`;
  }

  /**
   * Starts a sign-in: the provider's authorization URL, and the cookie (Set-Cookie value) that
   * carries the flow's state to the callback. `next` must be a same-origin path already.
   */
  async begin(next: string): Promise<{ url: string; cookie: string }> {
    const { config } = await this.provider();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const scopes = new Set(['openid', ...this.o.scopes]);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri(),
      scope: [...scopes].join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const flow: FlowState = { verifier, state, nonce, next };
    const signed = await this.d.issuer.signState(STATE_PURPOSE, { ...flow }, STATE_TTL_MS);
    return { url: url.href, cookie: this.stateCookie(signed, STATE_TTL_MS / 1000) };
  }

  /** The Set-Cookie value that drops the flow's cookie. */
  clearStateCookie(): string {
    return this.stateCookie('', 0);
  }

  /**
   * Completes a sign-in from the callback's query string and the flow's cookie: a login session
   * of kind `oidc` and where to go next. Every failure is `AP_ERR_OIDC_FAILED` (the reason is
   * logged, not shown).
   */
  async complete(
    query: string,
    stateCookie: string | undefined,
    info: ClientInfo,
  ): Promise<{ created: Created; next: string }> {
    const flow = stateCookie ? await this.flowOf(stateCookie) : null;
    if (!flow) throw this.failed('the sign-in state cookie is missing, altered or expired');
    const params = new URLSearchParams(query);
    if (params.get('state') !== flow.state)
      throw this.failed('the state does not match the one this browser started with');
    const { config, issuer } = await this.provider();
    let claims: Record<string, unknown>;
    try {
      const callback = new URL(this.redirectUri());
      callback.search = params.toString();
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims();
      if (!idToken) throw new Error('no ID token');
      claims = { ...idToken };
      // ID tokens of the code flow often carry `sub` alone; the profile and groups are at the
      // userinfo endpoint. The ID token's own claims win.
      if (tokens.access_token && config.serverMetadata().userinfo_endpoint) {
        const userinfo = await client.fetchUserInfo(config, tokens.access_token, idToken.sub);
        claims = { ...userinfo, ...idToken };
      }
    } catch (err) {
      throw this.failed('the provider refused the code or its answer did not check out', err);
    }
    const subject = claims.sub as string;
    const user = await this.userFor(issuer, subject, claims);
    const sid = typeof claims.sid === 'string' ? claims.sid : null;
    const created = await this.d.logins.create(user, 'oidc', { ...info, oidc: { issuer, subject, sid } });
    return { created, next: safeNext(flow.next) ?? '/' };
  }

  /**
   * Handles a back-channel logout request's `logout_token`: ends the login sessions it names and
   * answers how many ended. Throws `InvalidLogoutToken` for a token that does not check out.
   */
  async backchannelLogout(logoutToken: string): Promise<number> {
    if (!logoutToken) throw new InvalidLogoutToken('logout_token is missing');
    const { issuer, jwks, algorithms } = await this.provider();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(logoutToken, jwks, {
        issuer,
        audience: this.o.clientId,
        algorithms,
        clockTolerance: CLOCK_SKEW_S,
      }));
    } catch (err) {
      const reason = (err as { code?: string }).code ?? (err as Error).message;
      throw new InvalidLogoutToken(`the logout token does not verify (${reason})`);
    }
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat !== 'number') throw new InvalidLogoutToken('iat is missing');
    if (payload.iat > now + CLOCK_SKEW_S || payload.iat < now - LOGOUT_TOKEN_MAX_AGE_S - CLOCK_SKEW_S)
      throw new InvalidLogoutToken('iat is out of bounds');
    if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256)
      throw new InvalidLogoutToken('jti is missing');
    const events = payload.events as Record<string, unknown> | undefined;
    const event = events && typeof events === 'object' ? events[BACKCHANNEL_EVENT] : undefined;
    if (typeof event !== 'object' || event === null || Array.isArray(event))
      throw new InvalidLogoutToken('events does not hold the back-channel logout event');
    const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : null;
    const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : null;
    if (!sub && !sid) throw new InvalidLogoutToken('neither sub nor sid is present');
    if ('nonce' in payload) throw new InvalidLogoutToken('a logout token must not carry a nonce');
    // Last, so that a token refused for another reason does not spend its jti.
    const mark = `ap:oidc:logout-jti:${payload.jti}`;
    if (!(await this.d.counters.setIfAbsent(mark, '1', JTI_MARK_TTL_MS)))
      throw new InvalidLogoutToken('this logout token was used already');
    try {
      const ids = await this.d.loginRepo.liveIdsOfOidc(issuer, sub, sid);
      const ended = await this.d.logins.endIds(ids, 'idp-logout', `oidc:${issuer}`);
      this.d.logger.info({ sub, sid, ended: ended.length }, 'back-channel logout');
      return ended.length;
    } catch (err) {
      // Not ended: the provider may send it again.
      await this.d.counters.delete(mark).catch(() => {});
      throw err;
    }
  }

  // ------------------------------------------------------------------ users

  /** The user of an identity: found by (issuer, sub), else created; its role follows the groups. */
  private async userFor(issuer: string, subject: string, claims: Record<string, unknown>): Promise<UserRow> {
    const role = this.roleOf(claims);
    const displayName =
      typeof claims.name === 'string' && claims.name.trim() !== '' ? claims.name.trim().slice(0, 200) : null;
    let user = await this.d.users.byOidc(issuer, subject);
    if (!user) {
      if (!this.o.autoCreateUsers)
        throw this.failed('no user is linked to this identity and autoCreateUsers is off');
      user = await this.createUser(issuer, subject, claims, role, displayName);
    } else if (
      user.id !== ADMIN_USER_ID &&
      (user.role !== role || (displayName !== null && user.display_name !== displayName))
    ) {
      user =
        (await this.d.users.update(user.id, { role, ...(displayName !== null ? { displayName } : {}) })) ??
        user;
    }
    if (user.disabled_at !== null || user.deleted_at !== null)
      throw this.failed(`user ${user.id} is disabled`);
    return user;
  }

  private async createUser(
    issuer: string,
    subject: string,
    claims: Record<string, unknown>,
    role: Role,
    displayName: string | null,
  ): Promise<UserRow> {
    const base = this.baseName(claims, subject);
    for (let attempt = 0; attempt < 8; attempt++) {
      const name =
        attempt === 0
          ? base
          : `${base.slice(0, 56).replace(/[._-]+$/, '')}-${randomBytes(3).toString('hex')}`;
      if (await this.d.users.byName(name)) continue;
      try {
        const user = await this.d.users.create({
          id: randomUUID(),
          name,
          displayName,
          role,
          passwordHash: null,
          oidc: { issuer, subject },
        });
        this.d.logger.info(
          { user: user.id, name, role, issuer },
          'user created at first sign-in with the identity provider',
        );
        return user;
      } catch (err) {
        if (!(err instanceof UniqueViolation)) throw err;
        // The same identity signed in twice at once: the other sign-in created it.
        const linked = await this.d.users.byOidc(issuer, subject);
        if (linked) return linked;
      }
    }
    throw this.failed('no free user name could be found');
  }

  private baseName(claims: Record<string, unknown>, subject: string): string {
    const email = typeof claims.email === 'string' ? claims.email.split('@')[0] : undefined;
    for (const v of [claims[this.o.nameClaim], email, subject]) {
      const name = typeof v === 'string' ? sanitizeUserName(v) : null;
      if (name) return name;
    }
    return 'user';
  }

  private roleOf(claims: Record<string, unknown>): Role {
    const g = claims[this.o.groupsClaim];
    const groups = Array.isArray(g)
      ? g.filter((x): x is string => typeof x === 'string')
      : typeof g === 'string'
        ? [g]
        : [];
    return groups.some((x) => this.o.adminGroups.includes(x)) ? 'admin' : 'user';
  }

  // ------------------------------------------------------------------ plumbing

  private provider(): Promise<Discovered> {
    this.discovered ??= this.discover().catch((err: unknown) => {
      this.discovered = null;
      this.d.logger.warn(
        { err, issuer: this.o.issuer },
        'OpenID Connect discovery failed; the next request tries again',
      );
      throw new AppProxyError(
        'AP_ERR_OIDC_FAILED',
        'The identity provider cannot be reached; try again shortly.',
        undefined,
        {
          cause: err,
        },
      );
    });
    return this.discovered;
  }

  private async discover(): Promise<Discovered> {
    const insecure = new URL(this.o.issuer).protocol === 'http:';
    const config = await client.discovery(
      new URL(this.o.issuer),
      this.o.clientId,
      this.o.clientSecret === null ? { token_endpoint_auth_method: 'none' } : undefined,
      this.o.clientSecret === null ? client.None() : client.ClientSecretBasic(this.o.clientSecret),
      { timeout: 10, ...(insecure ? { execute: [client.allowInsecureRequests] } : {}) },
    );
    const meta = config.serverMetadata();
    if (!meta.jwks_uri) throw new Error('the provider publishes no jwks_uri');
    const supported = (meta.id_token_signing_alg_values_supported ?? ['RS256']).filter((a) =>
      ASYMMETRIC.test(a),
    );
    this.d.logger.info({ issuer: meta.issuer }, 'OpenID Connect provider discovered');
    return {
      config,
      issuer: meta.issuer,
      jwks: createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: 5000 }),
      algorithms: supported.length > 0 ? supported : ['RS256'],
    };
  }

  private async flowOf(cookie: string): Promise<FlowState | null> {
    const v = await this.d.issuer.verifyState(STATE_PURPOSE, cookie);
    if (!v) return null;
    const { verifier, state, nonce, next } = v;
    if (
      typeof verifier !== 'string' ||
      typeof state !== 'string' ||
      typeof nonce !== 'string' ||
      typeof next !== 'string'
    )
      return null;
    return { verifier, state, nonce, next };
  }

  private stateCookie(value: string, maxAgeSeconds: number): string {
    return `${OIDC_STATE_COOKIE}=${value}; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(maxAgeSeconds)}${
      this.d.secureCookies ? '; Secure' : ''
    }`;
  }

  private failed(reason: string, cause?: unknown): AppProxyError {
    this.d.logger.warn({ err: cause, reason }, 'sign-in with the identity provider refused');
    return new AppProxyError('AP_ERR_OIDC_FAILED', undefined, undefined, { cause });
  }
}
