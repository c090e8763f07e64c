/**
 * How the worker answers with an error: the registry code and a request id, as a small HTML page
 * for browsers or the JSON envelope when the client prefers JSON. Internals go to the log only.
 * Refusals that a new sign-in cures (a missing, invalid, revoked or unconfirmed app cookie, a
 * revoked credential) link to the manager's sign-in page when the worker knows it (KV
 * `managers/info`), in the page and as `detail.loginUrl` in the envelope.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, type ErrorCode, type ErrorEnvelope } from '../../contracts/errors.ts';

export function newRequestId(): string {
  return randomUUID();
}

/** True when `Accept` ranks application/json above text/html (ties go to whichever is listed first). */
export function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false;
  let jsonQ = -1;
  let htmlQ = -1;
  let jsonFirst = false;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';');
    const t = type.trim().toLowerCase();
    if (t !== 'application/json' && t !== 'text/html') continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k?.trim() === 'q' && v !== undefined) q = Number(v.trim()) || 0;
    }
    if (t === 'application/json') {
      if (jsonQ < 0 && htmlQ < 0) jsonFirst = true;
      jsonQ = q;
    } else htmlQ = q;
  }
  if (jsonQ <= 0) return false;
  return jsonQ > htmlQ || (jsonQ === htmlQ && jsonFirst);
}

const HEADLINES: Record<number, string> = {
  400: 'This request cannot be served',
  401: 'Access needed',
  404: 'No app here',
  410: 'This app address is closed',
  502: 'The app is not answering',
  503: 'Temporarily unavailable',
  504: 'The app is not answering',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Codes whose page offers "Sign in again". */
const SIGN_IN_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'AP_ERR_APP_COOKIE_MISSING',
  'AP_ERR_APP_COOKIE_INVALID',
  'AP_ERR_APP_COOKIE_REVOKED',
  'AP_ERR_APP_COOKIE_UNCONFIRMED',
  'AP_ERR_CREDENTIAL_REVOKED',
]);

/** The "Sign in again" paragraph of a worker page ('' when the sign-in page is not known). */
export function signInLink(loginUrl: string | null | undefined): string {
  return loginUrl ? `<p><a href="${escapeHtml(loginUrl)}">Sign in again</a></p>` : '';
}

export function errorBody(
  code: ErrorCode,
  requestId: string,
  json: boolean,
  message?: string,
  loginUrl?: string | null,
): string {
  const msg = message ?? ERRORS[code].message;
  const signIn = loginUrl && SIGN_IN_CODES.has(code) ? loginUrl : null;
  if (json) {
    const env: ErrorEnvelope = { code, message: msg, requestId };
    if (signIn) env.detail = { loginUrl: signIn };
    return JSON.stringify(env);
  }
  const status = ERRORS[code].status;
  const hint =
    (status === 401 || status === 410
      ? '<p>Open the app again where you got its link (for example <code>appproxy app open</code>) to get a fresh one.</p>'
      : '') + signInLink(signIn);
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<title>${status} · AppProxy</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;` +
    'margin:4rem auto;padding:0 1rem;color:#222}small,code{color:#666}</style></head><body>' +
    `<h1>${HEADLINES[status] ?? 'Something went wrong'}</h1><p>${escapeHtml(msg)}</p>${hint}` +
    `<p><small>Error <code>${code}</code> · request <code>${requestId}</code></small></p></body></html>`
  );
}

const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'";

/**
 * Answers `res` with the error. Once headers are out nothing can be said any more, so the
 * client connection is destroyed instead (the client sees a truncated response, not a lie).
 */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  code: ErrorCode,
  message?: string,
  extraHeaders?: Record<string, string | string[]>,
  loginUrl?: string | null,
): string {
  const requestId = newRequestId();
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return requestId;
  }
  const json = prefersJson(req.headers.accept);
  const body = errorBody(code, requestId, json, message, loginUrl);
  res.writeHead(ERRORS[code].status, {
    ...extraHeaders,
    'content-type': json ? JSON_TYPE : HTML_TYPE,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': PAGE_CSP,
    'x-request-id': requestId,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return requestId;
}

/** The same answer written raw on a socket (upgrade requests and parser errors), then closed. */
export function writeSocketError(
  socket: Duplex,
  code: ErrorCode,
  accept: string | undefined,
  message?: string,
  loginUrl?: string | null,
): string {
  const requestId = newRequestId();
  if (!socket.writable) {
    socket.destroy();
    return requestId;
  }
  const { status } = ERRORS[code];
  const json = prefersJson(accept);
  const body = errorBody(code, requestId, json, message, loginUrl);
  socket.end(
    `HTTP/1.1 ${status} ${HEADLINES[status] ?? 'Error'}\r\n` +
      `content-type: ${json ? JSON_TYPE : HTML_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `cache-control: no-store\r\nx-content-type-options: nosniff\r\nx-request-id: ${requestId}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
  // A client that never reads must not pin the socket.
  setTimeout(destroySocket, 2000, socket).unref();
  return requestId;
}

function destroySocket(socket: Duplex): void {
  socket.destroy();
}
