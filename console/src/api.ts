/**
 * The console's client of the manager's REST API, typed by the API's own OpenAPI document
 * (api.gen.ts). Same origin, the login cookie authenticates; state changes carry the login
 * session's anti-forgery token (`x-csrf-token`, from `/v1/auth/whoami`). Errors are the API's
 * envelope as an `ApiError` with its stable code.
 */
import type { paths } from './api.gen.ts';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Json<T> = T extends { content: { 'application/json': infer J } } ? J : undefined;
type Ok<O> = O extends { responses: infer R }
  ? 200 extends keyof R
    ? Json<R[200]>
    : 201 extends keyof R
      ? Json<R[201]>
      : 202 extends keyof R
        ? Json<R[202]>
        : undefined
  : never;
type Body<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
type Query<O> = O extends { parameters: { query?: infer Q } } ? Q : never;

export type Session = Ok<paths['/v1/sessions/{id}']['get']>;
export type Template = NonNullable<Ok<paths['/v1/templates']['get']>>['items'][number];
export type SessionEvent = NonNullable<Ok<paths['/v1/sessions/{id}/events']['get']>>['items'][number];
export type Circuit = Ok<paths['/v1/circuits/{id}']['get']>;
export type EndpointRoute = NonNullable<Ok<paths['/v1/endpoints/{id}']['get']>>['routes'][number];
export type Worker = NonNullable<Ok<paths['/v1/workers']['get']>>['items'][number];
export type ApiToken = NonNullable<Ok<paths['/v1/tokens']['get']>>['items'][number];
export type LoginSession = NonNullable<Ok<paths['/v1/login-sessions']['get']>>['items'][number];
export type WhoAmI = Ok<paths['/v1/auth/whoami']['get']>;

/** An error answer of the API (or of the network), with the API's stable code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = '';

/** The signed-in user (and the anti-forgery token every change needs). */
export async function whoami(): Promise<WhoAmI> {
  const me = await call('get', '/v1/auth/whoami', {});
  csrfToken = me.csrfToken ?? '';
  return me;
}

export function csrf(): string {
  return csrfToken;
}

export async function call<P extends keyof paths, M extends Method & keyof paths[P]>(
  method: M,
  path: P,
  opts: {
    path?: Record<string, string>;
    query?: Query<paths[P][M]>;
    body?: Body<paths[P][M]>;
    signal?: AbortSignal;
  },
): Promise<Ok<paths[P][M]>> {
  let url = String(path).replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(opts.path?.[k] ?? ''));
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries((opts.query ?? {}) as Record<string, unknown>))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  if ([...q].length > 0) url += `?${q}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'get') headers['x-csrf-token'] = csrfToken;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, {
      method: method.toUpperCase(),
      headers,
      credentials: 'same-origin',
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'AP_ERR_NETWORK', 'The manager cannot be reached. Is it running?');
  }
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    // The API's error envelope: { code, message, requestId, detail? }.
    const e = data as { code?: string; message?: string } | undefined;
    if (res.status === 401 && location.pathname === '/' && !leaving) {
      // The login session ended (signed out elsewhere, expired): back to the sign-in page.
      location.assign(`/login?next=${encodeURIComponent(`/${location.hash}`)}`);
    }
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText);
  }
  return data as Ok<paths[P][M]>;
}

/**
 * Set once the page is being left on purpose (the sign-out form was sent): a 401 of a refresh
 * still in flight must not send the browser to the sign-in page instead of the logout chain.
 */
let leaving = false;

export function markLeaving(): void {
  leaving = true;
}

export type LiveEvent = SessionEvent;
type Listener = (e: LiveEvent) => void;
const listeners = new Set<Listener>();
let source: EventSource | null = null;

/**
 * Lifecycle events as they happen (the manager's `/v1/events/stream`, one EventSource for the
 * whole console; it reconnects by itself and resumes after the last event it got). Returns the
 * unsubscription.
 */
export function onLiveEvent(fn: Listener): () => void {
  listeners.add(fn);
  if (source === null && typeof EventSource !== 'undefined') {
    source = new EventSource('/v1/events/stream');
    source.addEventListener('lifecycle', (m) => {
      const e = JSON.parse((m as MessageEvent<string>).data) as LiveEvent;
      for (const l of listeners) l(e);
    });
  }
  return () => listeners.delete(fn);
}
