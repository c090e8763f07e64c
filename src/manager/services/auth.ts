/**
 * Who is calling: one authentication for the API, the CLI and the manager's pages.
 * - `Authorization: Bearer <secret>`: an API token (programs; the embedded admin token) or the
 *   secret of a login session (a CLI's sign-in, or one a platform web server created for its user).
 * - The login cookie (`appproxy_login`, `__Host-` prefixed under https): a browser's login session.
 *   Cookie-authenticated changes (any method but GET/HEAD/OPTIONS) must carry the login session's
 *   anti-forgery token in `X-CSRF-Token` (pages put it in a form field instead): another site can
 *   make the browser send the cookie, never read the token.
 * Secrets are stored as SHA-256 digests only; a presented one is hashed, looked up by digest, and
 * the stored digest compared in constant time. Disabled and deleted users authenticate as nobody.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Grant } from '../../contracts/auth.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import type { LiveLoginSession, LoginSessionRepo } from '../repos/login-sessions.ts';
import type { Role, UserRepo } from '../repos/users.ts';

export interface Principal {
  userId: string;
  role: Role;
  /** The login session the request came with (login cookie, or a login session's bearer secret). */
  loginSessionId?: string;
  /** The API token the request came with. */
  tokenId?: string;
  /** What the credential may do beyond acting as its user (`login-sessions`). */
  scopes?: readonly string[];
  via?: 'token' | 'login-session' | 'cookie';
  /** The login session's anti-forgery token (for callers that authenticated with the cookie). */
  csrfToken?: string;
  /** When the credential ends by itself (epoch ms): nothing minted under it outlives it. */
  grantExpiresAt?: number;
}

/** The grant a principal's request mints credentials under (setup and tunnel tokens, TCP access). */
export function grantOfPrincipal(p: Principal): Grant {
  const g: Grant = {};
  if (p.loginSessionId !== undefined) g.l = p.loginSessionId;
  if (p.tokenId !== undefined) g.t = p.tokenId;
  return g;
}

/** Admin-only operations call this first; everyone else gets AP_ERR_FORBIDDEN. */
export function requireAdmin(p: Principal): void {
  if (p.role !== 'admin') throw new AppProxyError('AP_ERR_FORBIDDEN', 'Only admins may do this.');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh secret with a prefix that says what it is (`ap_` API token, `apl_` login session). */
export function newSecret(prefix: 'ap_' | 'apl_'): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

export const LOGIN_COOKIE = 'appproxy_login';
export const SECURE_LOGIN_COOKIE = '__Host-appproxy_login';

/** The request parts authentication reads. */
export interface AuthRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const h = Array.isArray(header) ? header.join('; ') : header;
  if (!h) return undefined;
  for (const part of h.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** How often one credential's "last used" is written (the repos' UPDATEs say the same). */
const TOUCH_EVERY_MS = 60_000;
/** Credentials remembered as touched; past this the memory is cleared (a few extra writes). */
const TOUCHED_MAX = 50_000;

export class AuthService {
  readonly cookieName: string;
  /**
   * When this process last wrote each credential's "last used" (`t:` tokens, `l:` login
   * sessions): the UPDATE would change nothing within a minute, and it is a store round trip on
   * every API request (on the embedded database, one that holds up the requests behind it).
   */
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly users: UserRepo,
    private readonly logins: LoginSessionRepo,
    opts: { secureCookies: boolean },
  ) {
    this.cookieName = opts.secureCookies ? SECURE_LOGIN_COOKIE : LOGIN_COOKIE;
  }

  async ensureAdmin(adminToken: string): Promise<void> {
    if (adminToken.trim() === '')
      throw new AppProxyError('AP_ERR_CONFIG_INVALID', 'The admin token must not be empty.');
    await this.users.ensureAdmin(randomUUID(), hashToken(adminToken));
  }

  /** The caller of an API request: a bearer secret, else the login cookie (with its CSRF check). */
  async authenticate(req: AuthRequest): Promise<Principal> {
    const header = req.headers.authorization;
    if (typeof header === 'string' && header !== '') return this.bearer(header);
    const cookie = cookieValue(req.headers.cookie, this.cookieName);
    if (cookie === undefined) throw new AppProxyError('AP_ERR_UNAUTHENTICATED');
    const p = await this.loginCookie(cookie);
    if (!p) throw new AppProxyError('AP_ERR_LOGIN_SESSION_ENDED');
    if (!SAFE_METHODS.has(req.method.toUpperCase())) {
      const given = req.headers['x-csrf-token'];
      if (typeof given !== 'string' || !sameSecret(given, p.csrfToken!))
        throw new AppProxyError('AP_ERR_CSRF');
    }
    return p;
  }

  /** `Authorization: Bearer …`: an API token or a login session's secret. */
  async bearer(header: string): Promise<Principal> {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!m)
      throw new AppProxyError('AP_ERR_UNAUTHENTICATED', 'Use the header "Authorization: Bearer <token>".');
    const digest = hashToken(m[1]!);
    const owner = await this.users.findByTokenHash(digest);
    if (owner && sameSecret(owner.tokenHash, digest)) {
      if (this.due(`t:${owner.tokenId}`)) void this.users.touchToken(owner.tokenId).catch(() => {});
      return {
        userId: owner.userId,
        role: owner.role,
        tokenId: owner.tokenId,
        scopes: owner.scopes,
        via: 'token',
        ...(owner.expiresAt ? { grantExpiresAt: owner.expiresAt.getTime() } : {}),
      };
    }
    const login = await this.logins.findLiveBySecretHash(digest);
    if (login) return this.fromLogin(login, 'login-session');
    throw new AppProxyError('AP_ERR_TOKEN_INVALID');
  }

  /** Whether a credential's "last used" is to be written now (and note that it is). */
  private due(key: string): boolean {
    const now = Date.now();
    const last = this.touched.get(key);
    if (last !== undefined && now - last < TOUCH_EVERY_MS) return false;
    if (this.touched.size >= TOUCHED_MAX) this.touched.clear();
    this.touched.set(key, now);
    return true;
  }

  /** The login cookie's principal, or null when it names no live login session. */
  async loginCookie(value: string): Promise<Principal | null> {
    if (value === '' || value.length > 200) return null;
    const login = await this.logins.findLiveBySecretHash(hashToken(value));
    return login ? this.fromLogin(login, 'cookie') : null;
  }

  private fromLogin(login: LiveLoginSession, via: 'login-session' | 'cookie'): Principal {
    if (this.due(`l:${login.id}`)) void this.logins.touch(login.id).catch(() => {});
    return {
      userId: login.user_id,
      role: login.role,
      loginSessionId: login.id,
      scopes: [],
      via,
      csrfToken: login.csrf_token,
      grantExpiresAt: login.expires_at.getTime(),
    };
  }
}
