/**
 * Wire types of the identity part of the manager API: users, API tokens, login sessions, sign-in
 * and sign-out, logout URIs. They mirror the manager's schemas (`src/manager/auth-schemas.ts`);
 * test/unit/cli/identity-client.test.ts fails to type-check when the two drift apart.
 */

export type Role = 'admin' | 'user';

export interface User {
  id: string;
  name: string;
  displayName: string | null;
  role: Role;
  disabled: boolean;
  hasPassword: boolean;
  /** Issuer of the identity provider the user signs in with. */
  identityProvider: string | null;
  createdAt: string;
}

export interface CreateUserRequest {
  /** Sign-in name: lowercase letters, digits, ".", "_", "-". */
  name: string;
  displayName?: string | null;
  role?: Role;
  /** At least 8 characters; without one the user signs in through the identity provider. */
  password?: string;
}

export interface UpdateUserRequest {
  displayName?: string | null;
  role?: Role;
  /** Disabling signs the user out everywhere and cuts their live connections. */
  disabled?: boolean;
}

export interface SetPasswordRequest {
  password: string;
  /** Needed when users change their own (admins need not give it). */
  currentPassword?: string;
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
  state: 'live' | 'expired' | 'revoked';
}

/** A token as created: its secret is in this answer only. */
export interface NewApiToken extends ApiToken {
  token: string;
}

export interface CreateTokenRequest {
  name: string;
  /** Lifetime: a duration ("30d") or milliseconds; null or absent = until revoked. */
  expiresIn?: string | number | null;
  /** `login-sessions`: may create and end login sessions for users (admins only). */
  scopes?: string[];
  /** Admins: the user (id) the token acts as. */
  user?: string;
}

export type LoginSessionKind = 'password' | 'oidc' | 'platform' | 'cli';

export interface LoginSession {
  id: string;
  userId: string;
  kind: LoginSessionKind;
  /** CLI sign-ins: the browser sign-in that approved it (ending it ends this one). */
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

export interface CreateLoginSessionRequest {
  /** The user (id or name) to sign in. */
  user: string;
  clientAddress?: string;
  userAgent?: string;
  /** Lifetime, capped by the configuration: a duration ("8h") or milliseconds. */
  ttl?: string | number;
}

/** A sign-in's answer: the login session and its bearer secret (shown once). */
export interface SignedIn {
  loginSession: LoginSession;
  token: string;
}

export interface LogoutStop {
  uri: string;
  /** The query parameter that takes the continuation; null: visited in the background. */
  nextParam: string | null;
  source: 'worker' | 'external';
}

export interface LogoutResult {
  /** Login sessions ended (with the CLI sign-ins approved from them). */
  ended: string[];
  /** Where a browser must go to drop its app cookies, in order. */
  logoutUris: LogoutStop[];
  /** A manager page that walks `logoutUris` as a redirect chain and ends on the sign-in page. */
  chainUrl: string;
}

export interface Whoami {
  user: User;
  via: 'token' | 'login-session' | 'cookie';
  loginSession: LoginSession | null;
  tokenId: string | null;
  scopes: string[];
  /** Cookie-authenticated callers only. */
  csrfToken: string | null;
}

export interface CliLoginStart {
  deviceCode: string;
  /** The short code the user checks and approves in the browser, e.g. `ABCD-EFGH`. */
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string;
  expiresInSeconds: number;
  intervalSeconds: number;
}

export interface CliLoginPoll {
  state: 'pending' | 'approved';
  /** Once approved: the login session's secret, sealed to the public key sent with `cli-login`. */
  sealedToken?: string;
}

export interface LogoutUri {
  id: string;
  uri: string;
  nextParam: string | null;
  description: string;
  createdAt: string;
}

export interface CreateLogoutUriRequest {
  uri: string;
  /** The query parameter the URI takes a continuation URL in; null: visited in the background. */
  nextParam?: string | null;
  description?: string;
}
