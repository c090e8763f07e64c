/**
 * The worker's reserved paths on every circuit origin:
 * - `GET /_appproxy/setup?token=…&next=/path`: checks the setup token (signature, audience =
 *   circuit, expiry, owner), marks it used (single use, in the counters role), sets the app
 *   cookie and redirects to a same-origin path.
 * - `GET /_appproxy/logout[?next=/path]`: clears every app cookie this origin received.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AppProxyError, type ErrorCode } from '../../contracts/errors.ts';
import type { SetupTokenVerifier } from '../../core/setup-token.ts';
import type { CounterStore } from '../../stores/types.ts';
import { sendError } from '../observe/error-pages.ts';
import type { Circuit } from '../routing/circuit.ts';
import { type AppCookies, appCookieNames } from './app-cookie.ts';
import { markTokenUsed } from './single-use.ts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects.
const UNSAFE = /[\u0000-\u001f\u007f\\]/;

function unsafePath(p: string): boolean {
  return p.charCodeAt(0) !== 47 /* / */ || p.charCodeAt(1) === 47 || p.charCodeAt(1) === 92 || UNSAFE.test(p);
}

/**
 * `next` as a same-origin relative path, or null when it is anything else. The query string was
 * decoded once already; the path is checked again after each further decoding (up to 3), so
 * `/%2F/evil.com` and friends are refused too. Absent ⇒ `/`.
 */
export function safeNext(next: string | null): string | null {
  if (next === null) return '/';
  let p = next;
  for (let i = 0; i < 4; i++) {
    if (unsafePath(p)) return null;
    let decoded: string;
    try {
      decoded = decodeURIComponent(p);
    } catch {
      return null;
    }
    if (decoded === p) break;
    p = decoded;
    if (i === 3) return null;
  }
  // Percent-encode what a Location header cannot carry (non-ASCII, spaces); the path stays the same.
  return next.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
}

export interface ReservedContext {
  cookies: AppCookies;
  verifier: SetupTokenVerifier;
  counters: CounterStore;
  logger: Logger;
  countStatus(status: number): void;
}

function fail(
  ctx: ReservedContext,
  req: IncomingMessage,
  res: ServerResponse,
  code: ErrorCode,
  message?: string,
) {
  const requestId = sendError(req, res, code, message);
  ctx.countStatus(res.statusCode);
  return requestId;
}

export async function handleSetup(
  ctx: ReservedContext,
  circuit: Circuit,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
): Promise<void> {
  // HEAD (link prefetchers) must not burn the token.
  if (req.method !== 'GET')
    return void fail(ctx, req, res, 'AP_ERR_BAD_REQUEST', 'Use GET for the setup link.');
  const next = safeNext(query.get('next'));
  if (next === null) return void fail(ctx, req, res, 'AP_ERR_REDIRECT_NOT_ALLOWED');
  const token = query.get('token');
  if (!token) return void fail(ctx, req, res, 'AP_ERR_SETUP_TOKEN_INVALID', 'The setup link has no token.');
  let jti: string;
  let expiresAt: number;
  try {
    const claims = await ctx.verifier.verify(token, circuit.id);
    if (claims.userId !== circuit.ownerId) {
      throw new AppProxyError('AP_ERR_SETUP_TOKEN_INVALID', 'The setup link was issued to another user.');
    }
    jti = claims.jti;
    expiresAt = claims.expiresAt;
  } catch (err) {
    const code = err instanceof AppProxyError ? err.code : 'AP_ERR_SETUP_TOKEN_INVALID';
    const requestId = fail(ctx, req, res, code, err instanceof AppProxyError ? err.message : undefined);
    ctx.logger.info({ requestId, circuitId: circuit.id, code, err }, 'setup token refused');
    return;
  }
  let first: boolean;
  try {
    first = await markTokenUsed(ctx.counters, jti, expiresAt, circuit.id);
  } catch (err) {
    // Fail closed: without the single-use mark a leaked link could be replayed.
    const requestId = fail(ctx, req, res, 'AP_ERR_STORE_UNAVAILABLE');
    ctx.logger.warn({ requestId, circuitId: circuit.id, err }, 'cannot mark setup token used');
    return;
  }
  if (!first) return void fail(ctx, req, res, 'AP_ERR_SETUP_TOKEN_USED');
  if (circuit.closed) return void fail(ctx, req, res, 'AP_ERR_CIRCUIT_CLOSED');
  res.writeHead(302, {
    location: next,
    'set-cookie': ctx.cookies.issue(circuit.id, circuit.ownerId),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'content-length': 0,
  });
  res.end();
  ctx.countStatus(302);
}

export function handleLogout(
  ctx: ReservedContext,
  circuit: Circuit,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
): void {
  const names = new Set(appCookieNames(req.headers.cookie));
  names.add(circuit.cookieName);
  const setCookie = [...names].map((n) => ctx.cookies.clear(n));
  const nextParam = query.get('next');
  const next = nextParam === null ? null : safeNext(nextParam);
  const common = { 'set-cookie': setCookie, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };
  if (next !== null) {
    res.writeHead(302, { ...common, location: next, 'content-length': 0 });
    res.end();
    ctx.countStatus(302);
    return;
  }
  const body =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out · AppProxy</title></head>' +
    '<body style="font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem">' +
    '<h1>Signed out of this app</h1><p>Open it again from AppProxy to sign back in.</p></body></html>';
  res.writeHead(200, {
    ...common,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  ctx.countStatus(200);
}
