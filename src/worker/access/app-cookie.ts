/**
 * App cookies: the credential a worker sets for one circuit. Value =
 * base64url(JSON {c: circuitId, u: userId, e: expiryMs}) + '.' + base64url(HMAC-SHA256(secret, payload)).
 * Named per circuit (`appproxy_<id without dashes>`, `__Host-` prefixed and `Secure` under https),
 * host-only (never `Domain=`), `HttpOnly; SameSite=Lax; Path=/`.
 *
 * The hot path does no crypto on repeat requests: verified cookie strings are cached (bounded,
 * oldest dropped first), and expiry, circuit and owner are checked on every request. No store
 * call per request.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ErrorCode } from '../../contracts/errors.ts';

export interface AppCookieClaims {
  /** Circuit id. */
  c: string;
  /** User id. */
  u: string;
  /** Expiry, epoch ms. */
  e: number;
}

export const COOKIE_PREFIX = 'appproxy_';
export const SECURE_COOKIE_PREFIX = '__Host-appproxy_';

export interface AppCookiesOptions {
  secret: Buffer;
  ttlMs: number;
  secure: boolean;
  cacheSize?: number;
}

/** The last Cookie header a connection presented for a cookie name, and what it decoded to. */
interface VerifiedOnSocket {
  header: string;
  name: string;
  /** undefined = no such cookie; null = present but not valid. */
  claims: AppCookieClaims | null | undefined;
}

export class AppCookies {
  private readonly cache = new Map<string, AppCookieClaims>();
  /**
   * Per connection: the last Cookie header seen (browsers resend the same header on every
   * request of a keep-alive connection), so a repeat request costs one string comparison instead
   * of a cookie scan and a hash of the value. Keyed by socket, collected with it.
   */
  readonly bySocket = new WeakMap<object, VerifiedOnSocket>();
  private readonly cacheSize: number;
  private readonly attributes: string;

  constructor(private readonly opts: AppCookiesOptions) {
    this.cacheSize = opts.cacheSize ?? 10_000;
    this.attributes = `; Path=/; HttpOnly; SameSite=Lax${opts.secure ? '; Secure' : ''}`;
  }

  nameFor(circuitId: string): string {
    return (this.opts.secure ? SECURE_COOKIE_PREFIX : COOKIE_PREFIX) + circuitId.replaceAll('-', '');
  }

  /** The `Set-Cookie` value granting `userId` access to the circuit. */
  issue(circuitId: string, userId: string, now = Date.now()): string {
    const payload = Buffer.from(
      JSON.stringify({ c: circuitId, u: userId, e: now + this.opts.ttlMs }),
    ).toString('base64url');
    const value = `${payload}.${this.sign(payload)}`;
    return `${this.nameFor(circuitId)}=${value}; Max-Age=${Math.floor(this.opts.ttlMs / 1000)}${this.attributes}`;
  }

  /** A `Set-Cookie` value that deletes the cookie `name`. */
  clear(name: string): string {
    const secure = this.opts.secure || name.startsWith('__Host-') ? '; Secure' : '';
    return `${name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax${secure}`;
  }

  /** Signature check (cached); does not check expiry, circuit or user. */
  decode(value: string): AppCookieClaims | undefined {
    const hit = this.cache.get(value);
    if (hit) return hit;
    const dot = value.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    const expected = createHmac('sha256', this.opts.secret).update(payload).digest();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: AppCookieClaims;
    try {
      const v = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as AppCookieClaims;
      if (typeof v.c !== 'string' || typeof v.u !== 'string' || typeof v.e !== 'number') return undefined;
      claims = { c: v.c, u: v.u, e: v.e };
    } catch {
      return undefined;
    }
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(value, claims);
    return claims;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.opts.secret).update(payload).digest('base64url');
  }
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let i = header.indexOf(name);
  while (i >= 0) {
    const before = i === 0 ? 32 : header.charCodeAt(i - 1);
    if ((before === 32 || before === 59) && header.charCodeAt(i + name.length) === 61 /* = */) {
      const start = i + name.length + 1;
      const end = header.indexOf(';', start);
      return header.slice(start, end < 0 ? undefined : end).trim();
    }
    i = header.indexOf(name, i + 1);
  }
  return undefined;
}

function isAppCookieName(name: string): boolean {
  return name.startsWith(COOKIE_PREFIX) || name.startsWith(SECURE_COOKIE_PREFIX);
}

/** Names of every app cookie (any circuit, either prefix) in a Cookie header. */
export function appCookieNames(header: string | undefined): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (isAppCookieName(name)) out.push(name);
  }
  return out;
}

/** The Cookie header without AppProxy's credentials (the app must never see them); undefined if empty. */
export function stripAppCookies(header: string): string | undefined {
  if (!header.includes(COOKIE_PREFIX)) return header;
  const kept: string[] = [];
  for (const part of header.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (!isAppCookieName(eq < 0 ? p : p.slice(0, eq))) kept.push(p);
  }
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/** What `verifyRequest` needs to know about a circuit. */
export interface AuthTarget {
  readonly id: string;
  readonly ownerId: string;
  readonly cookieName: string;
}

/**
 * The one auth decision for a request to a circuit: null = allowed, else the error code.
 * Later issues add the login-session revocation check here.
 */
export function verifyRequest(
  cookies: AppCookies,
  circuit: AuthTarget,
  req: IncomingMessage,
): ErrorCode | null {
  const header = req.headers.cookie;
  const name = circuit.cookieName;
  const socket = req.socket as object | undefined;
  let claims: AppCookieClaims | null | undefined;
  const seen = socket && header !== undefined ? cookies.bySocket.get(socket) : undefined;
  if (seen !== undefined && seen.header === header && seen.name === name) claims = seen.claims;
  else {
    const value = readCookie(header, name);
    claims = value === undefined ? undefined : (cookies.decode(value) ?? null);
    if (socket && header !== undefined) cookies.bySocket.set(socket, { header, name, claims });
  }
  if (claims === undefined) return 'AP_ERR_APP_COOKIE_MISSING';
  // Expiry, circuit and owner are checked on every request, cached or not.
  if (!claims || claims.c !== circuit.id || claims.u !== circuit.ownerId || claims.e <= Date.now()) {
    return 'AP_ERR_APP_COOKIE_INVALID';
  }
  return null;
}
