/**
 * The worker's reserved paths on every circuit origin:
 * - `GET /_appproxy/setup?token=…&next=/path`: checks the setup token (signature, audience =
 *   circuit, expiry, owner, and the revocation set: a token whose sign-in or API token was revoked
 *   is refused), marks it used (single use, in the counters role), sets the app cookie — bound to
 *   the token's grant, counted as issued when the token was, expiring no later than the sign-in —
 *   and redirects to a same-origin path.
 * - `GET /setup?token=…&redirect=/path` (legacy-flow circuits only, Backend.AI's path and
 *   parameter): the same checks and single use; the cookie set is the user's `appproxy_permit`
 *   (app-cookie.ts), and the token must carry no grant (legacy setup links are minted without one).
 * - `GET /_appproxy/logout[?next=…]`: clears every app cookie this origin received, then follows
 *   `next` when it is a same-origin path or a logout continuation the manager signed (the next
 *   stop of a logout chain); anything else gets the signed-out page, never a redirect.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AppProxyError, type ErrorCode } from '../../contracts/errors.ts';
import type { CircuitFlow } from '../../contracts/records.ts';
import { safeNext } from '../../core/redirect.ts';
import type { SetupTokenClaims, SetupTokenVerifier } from '../../core/setup-token.ts';
import type { CounterStore } from '../../stores/types.ts';
import type { ManagerLinks } from '../context.ts';
import { sendError, signInLink } from '../observe/error-pages.ts';
import type { RevokedWhat } from '../observe/metrics.ts';
import type { Circuit } from '../routing/circuit.ts';
import { type AppCookies, appCookieNames } from './app-cookie.ts';
import { type RevocationSet, UNCONFIRMED } from './revocations.ts';
import { markTokenUsed } from './single-use.ts';

export { safeNext } from '../../core/redirect.ts';

export interface ReservedContext {
  cookies: AppCookies;
  verifier: SetupTokenVerifier;
  counters: CounterStore;
  revocations: RevocationSet;
  links: ManagerLinks;
  logger: Logger;
  countStatus(status: number): void;
  countRevoked(what: RevokedWhat): void;
}

function fail(
  ctx: ReservedContext,
  req: IncomingMessage,
  res: ServerResponse,
  code: ErrorCode,
  message?: string,
) {
  const requestId = sendError(req, res, code, message, undefined, ctx.links.loginUrl);
  ctx.countStatus(res.statusCode);
  return requestId;
}

export async function handleSetup(
  ctx: ReservedContext,
  circuit: Circuit,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
  flow: CircuitFlow = 'integrated',
): Promise<void> {
  // HEAD (link prefetchers) must not burn the token.
  if (req.method !== 'GET')
    return void fail(ctx, req, res, 'AP_ERR_BAD_REQUEST', 'Use GET for the setup link.');
  const next = safeNext(flow === 'legacy' ? (query.get('redirect') ?? query.get('next')) : query.get('next'));
  if (next === null) return void fail(ctx, req, res, 'AP_ERR_REDIRECT_NOT_ALLOWED');
  const token = query.get('token');
  if (!token) return void fail(ctx, req, res, 'AP_ERR_SETUP_TOKEN_INVALID', 'The setup link has no token.');
  let claims: SetupTokenClaims;
  try {
    claims = await ctx.verifier.verify(token, circuit.id);
    if (claims.userId !== circuit.ownerId) {
      throw new AppProxyError('AP_ERR_SETUP_TOKEN_INVALID', 'The setup link was issued to another user.');
    }
    // A permit outlives any sign-in: only a link minted for the legacy flow (no grant) buys one.
    if (circuit.legacy && (claims.grant.l !== undefined || claims.grant.t !== undefined)) {
      throw new AppProxyError('AP_ERR_SETUP_TOKEN_INVALID', 'This setup link is not for a legacy-flow app.');
    }
    const now = Date.now();
    // The token is a credential like the cookie it buys: its grant revoked (or its user, after it
    // was issued) ⇒ refused; issued before the set was last confirmed while it is stale ⇒ the
    // cookie would be refused at once, so say so now.
    const refused = ctx.revocations.check(claims, now);
    if (refused !== null) {
      ctx.countRevoked(refused === UNCONFIRMED ? 'unconfirmed' : 'token');
      throw refused === UNCONFIRMED
        ? new AppProxyError('AP_ERR_APP_COOKIE_UNCONFIRMED')
        : new AppProxyError('AP_ERR_CREDENTIAL_REVOKED');
    }
    if (claims.cookieExpiresAt !== undefined && claims.cookieExpiresAt <= now) {
      throw new AppProxyError(
        'AP_ERR_CREDENTIAL_REVOKED',
        'The sign-in this link was issued under has ended.',
      );
    }
  } catch (err) {
    const code = err instanceof AppProxyError ? err.code : 'AP_ERR_SETUP_TOKEN_INVALID';
    const requestId = fail(ctx, req, res, code, err instanceof AppProxyError ? err.message : undefined);
    ctx.logger.info({ requestId, circuitId: circuit.id, code, err }, 'setup token refused');
    return;
  }
  let first: boolean;
  try {
    first = await markTokenUsed(ctx.counters, claims.jti, claims.expiresAt, circuit.id);
  } catch (err) {
    // Fail closed: without the single-use mark a leaked link could be replayed.
    const requestId = fail(ctx, req, res, 'AP_ERR_STORE_UNAVAILABLE');
    ctx.logger.warn({ requestId, circuitId: circuit.id, err }, 'cannot mark setup token used');
    return;
  }
  if (!first) return void fail(ctx, req, res, 'AP_ERR_SETUP_TOKEN_USED');
  if (circuit.closed) return void fail(ctx, req, res, 'AP_ERR_CIRCUIT_CLOSED');
  const timing = { maxExpiresAt: claims.cookieExpiresAt, issuedAt: claims.issuedAt };
  res.writeHead(302, {
    location: next,
    'set-cookie': circuit.legacy
      ? ctx.cookies.issuePermit(circuit.ownerId, timing)
      : ctx.cookies.issue(circuit.id, circuit.ownerId, { grant: claims.grant, ...timing }),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'content-length': 0,
  });
  res.end();
  ctx.countStatus(302);
}

export async function handleLogout(
  ctx: ReservedContext,
  circuit: Circuit,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
): Promise<void> {
  const names = new Set(appCookieNames(req.headers.cookie));
  names.add(circuit.cookieName);
  const setCookie = [...names].map((n) => ctx.cookies.clear(n));
  const nextParam = query.get('next');
  // A same-origin path, or the manager-signed next stop of a logout chain; an absolute URL that
  // the manager did not sign is never followed (no open redirect).
  const next =
    nextParam === null ? null : (safeNext(nextParam) ?? (await ctx.verifier.verifyLogoutNext(nextParam)));
  const common = { 'set-cookie': setCookie, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };
  if (res.destroyed) return;
  if (next !== null) {
    res.writeHead(302, { ...common, location: next, 'content-length': 0 });
    res.end();
    ctx.countStatus(302);
    return;
  }
  const body =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out · AppProxy</title></head>' +
    '<body style="font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem">' +
    `<h1>Signed out of this app</h1><p>Open it again from AppProxy to sign back in.</p>${signInLink(ctx.links.loginUrl)}</body></html>`;
  res.writeHead(200, {
    ...common,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  ctx.countStatus(200);
}
