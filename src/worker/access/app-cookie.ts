/**
 * App cookies: the credential a worker sets for one circuit. Value =
 * base64url(JSON {c: circuitId, u: userId, e: expiryMs, i: issuedAtMs, l?: loginSessionId,
 * t?: tokenId}) + '.' + base64url(HMAC-SHA256(secret, payload)).
 * Named per circuit (`appproxy_<id without dashes>`, `__Host-` prefixed and `Secure` under https),
 * host-only (never `Domain=`), `HttpOnly; SameSite=Lax; Path=/`.
 *
 * A cookie is bound to the circuit, the user, its expiry and the grant its setup token was minted
 * under (login session, API token), and carries when it was issued — the setup token's issue time
 * on the manager's clock, the clock revocations are stamped with — so that the worker's revocation
 * set (revocations.ts) can refuse it: logout ends the login session, a disabled user's cookies
 * issued before the record are refused. Payload names are one letter: they ride on every request.
 * Cookies from before grants existed have no `i` and count as issued at 0.
 *
 * Legacy-flow circuits (Backend.AI's flow, `CircuitFlow`) take the user's permit instead:
 * `appproxy_permit` (`__Host-appproxy_permit` under https), host-only like every app cookie, whose
 * payload names no circuit (`c: "*"`) and no grant: on its host it opens every legacy-flow circuit
 * of its user, as Backend.AI's per-user permit does (two apps of one session on one port-mode
 * host share it), and never an integrated circuit. It still expires, and a disabled user's is
 * refused.
 *
 * The hot path does no crypto on repeat requests: verified cookie strings are cached (bounded,
 * oldest dropped first), and expiry, circuit, owner and the revocation set are checked on every
 * request. No store call per request.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Credential, Grant } from '../../contracts/auth.ts';
import type { ErrorCode } from '../../contracts/errors.ts';
import { type RevocationSet, UNCONFIRMED } from './revocations.ts';

/** A verified app cookie: the credential it is (checked against revocations) and its expiry. */
export interface AppCookieClaims extends Credential {
  /** Expiry, epoch ms. */
  expiresAt: number;
}

/** The signed payload (wire names). */
interface Payload {
  c: string;
  u: string;
  e: number;
  i?: number;
  l?: string;
  t?: string;
}

const NO_GRANT: Grant = Object.freeze({});

/** The payload's claims, or undefined when a field has the wrong type. */
function claimsOf(v: Payload): AppCookieClaims | undefined {
  if (typeof v.c !== 'string' || typeof v.u !== 'string' || typeof v.e !== 'number') return undefined;
  if (v.i !== undefined && typeof v.i !== 'number') return undefined;
  if ((v.l !== undefined && typeof v.l !== 'string') || (v.t !== undefined && typeof v.t !== 'string'))
    return undefined;
  let grant = NO_GRANT;
  if (v.l !== undefined || v.t !== undefined) {
    grant = {};
    if (v.l !== undefined) grant.l = v.l;
    if (v.t !== undefined) grant.t = v.t;
  }
  return { circuitId: v.c, userId: v.u, expiresAt: v.e, issuedAt: v.i ?? 0, grant };
}

export const COOKIE_PREFIX = 'appproxy_';
export const SECURE_COOKIE_PREFIX = '__Host-appproxy_';
/** The name Backend.AI's workers and Traefik plugin give the permit (`common/defs.py`). */
export const LEGACY_PERMIT_COOKIE = 'appproxy_permit';
/** What a permit's payload names as its circuit: any legacy-flow circuit of its user. */
export const ANY_LEGACY_CIRCUIT = '*';

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

  /** The name of the legacy flow's per-user permit. */
  permitName(): string {
    return (this.opts.secure ? '__Host-' : '') + LEGACY_PERMIT_COOKIE;
  }

  /** The `Set-Cookie` of a legacy-flow permit: the user's, for every legacy circuit on this host. */
  issuePermit(userId: string, o: { maxExpiresAt?: number; issuedAt?: number; now?: number } = {}): string {
    return this.issue(ANY_LEGACY_CIRCUIT, userId, o, this.permitName());
  }

  /**
   * The `Set-Cookie` value granting `userId` access to the circuit under `grant`. It expires after
   * the worker's lifetime or at `maxExpiresAt` (the end of the sign-in), whichever comes first;
   * `issuedAt` (default now) is when the credential it comes from was issued (its setup token).
   */
  issue(
    circuitId: string,
    userId: string,
    o: { grant?: Grant; maxExpiresAt?: number; issuedAt?: number; now?: number } = {},
    name = this.nameFor(circuitId),
  ): string {
    const now = o.now ?? Date.now();
    const expiresAt = Math.min(now + this.opts.ttlMs, o.maxExpiresAt ?? Number.POSITIVE_INFINITY);
    const p: Payload = { c: circuitId, u: userId, e: expiresAt, i: o.issuedAt ?? now };
    if (o.grant?.l !== undefined) p.l = o.grant.l;
    if (o.grant?.t !== undefined) p.t = o.grant.t;
    const payload = Buffer.from(JSON.stringify(p)).toString('base64url');
    const value = `${payload}.${this.sign(payload)}`;
    const maxAge = Math.max(0, Math.floor((expiresAt - now) / 1000));
    return `${name}=${value}; Max-Age=${maxAge}${this.attributes}`;
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
    let claims: AppCookieClaims | undefined;
    try {
      claims = claimsOf(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Payload);
    } catch {
      return undefined;
    }
    if (!claims) return undefined;
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
  /** Legacy flow: the user's permit (`c: "*"`) opens it. */
  readonly legacy?: boolean;
}

/**
 * The one auth decision for a request to a circuit: the verified cookie (the caller keeps its
 * grant: a WebSocket it authorizes is cut when that grant is revoked), else the error code.
 * Strings are error codes, objects claims: no allocation to tell them apart.
 */
export function verifyRequest(
  cookies: AppCookies,
  revocations: RevocationSet,
  circuit: AuthTarget,
  req: IncomingMessage,
): AppCookieClaims | ErrorCode {
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
  // Expiry, circuit, owner and revocations are checked on every request, cached or not.
  const now = Date.now();
  if (
    !claims ||
    (claims.circuitId !== circuit.id &&
      !(circuit.legacy === true && claims.circuitId === ANY_LEGACY_CIRCUIT)) ||
    claims.userId !== circuit.ownerId ||
    claims.expiresAt <= now
  ) {
    return 'AP_ERR_APP_COOKIE_INVALID';
  }
  const refused = revocations.check(claims, now);
  if (refused !== null)
    return refused === UNCONFIRMED ? 'AP_ERR_APP_COOKIE_UNCONFIRMED' : 'AP_ERR_APP_COOKIE_REVOKED';
  return claims;
}
