/**
 * What the manager's route plugins share: the app type, the caller of a request, and how the
 * composition root hands a plugin its services (`mount`). Route plugins import this module and
 * their services, never `app.ts`, so the factory can import the plugins without a circle.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginOptions, FastifyRequest } from 'fastify';
import type { Static, TSchema } from 'typebox';
import { AppProxyError } from '../../contracts/errors.ts';
import { parseDuration } from '../../core/duration.ts';
import { errorResponses, IdParams } from '../schemas.ts';
import type { Principal } from '../services/auth.ts';

/** The manager's fastify instance, as the app factory and every route plugin see it. */
export type App = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** A group of routes: an encapsulated plugin whose options are exactly the services it uses. */
export type RoutePlugin<Options extends FastifyPluginOptions> = FastifyPluginAsyncTypebox<Options, Server>;

/** A route plugin bound to its services, ready to be registered by the app factory. */
export type Mount = (app: App) => void;

export function mount<Options extends FastifyPluginOptions>(
  plugin: RoutePlugin<Options>,
  options: Options,
): Mount {
  return (app) => {
    void app.register(plugin, options);
  };
}

// Kept beside the request rather than declared on FastifyRequest: a declaration would type the
// caller as present on every request, public routes included, while `principal(req)` refuses
// (401) whenever the auth hook did not set one.
const principals = new WeakMap<FastifyRequest, Principal>();

/** Set by the app's auth hook once the bearer token checked out. */
export function setPrincipal(req: FastifyRequest, p: Principal): void {
  principals.set(req, p);
}

/** The authenticated caller of a non-public route (set by the auth hook). */
export function principal(req: FastifyRequest): Principal {
  const p = principals.get(req);
  if (!p) throw new AppProxyError('AP_ERR_UNAUTHENTICATED');
  return p;
}

/** The documented responses of an API route: its success schema(s) plus every error envelope. */
export function replies<Ok extends Record<number, unknown>>(ok: Ok): Ok & typeof errorResponses {
  return { ...errorResponses, ...ok };
}

/** What the OpenAPI document says of a route. */
export interface RouteDoc {
  summary: string;
  description?: string;
}

/**
 * Declares routes on one resource by its id (`:id`) that take nothing else and answer 200 with
 * `call(caller, id)` — most of the API's reads and actions; routes with a body, a query or another
 * status are declared in full.
 */
export function idRoutes(app: App, tags: string[]) {
  return <Ok extends TSchema>(
    method: 'GET' | 'POST' | 'DELETE',
    url: `${string}/:id${string}`,
    doc: RouteDoc,
    ok: Ok,
    call: (caller: Principal, id: string) => Promise<Static<Ok>>,
  ): void => {
    app.route({
      method,
      url,
      // `call` is typed against `ok` already; fastify need not re-derive it from a generic.
      schema: { ...doc, tags, params: IdParams, response: replies({ 200: ok as TSchema }) },
      handler: async (req) => call(principal(req), req.params.id),
    });
  };
}

/** A duration from the API ("30d" or milliseconds), with the field named when it is malformed. */
export function durationMs(v: string | number | null | undefined, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  try {
    const ms = parseDuration(v);
    if (ms < 1000) throw new RangeError('shorter than a second');
    return ms;
  } catch (err) {
    const message = `${field.slice(1)}: ${(err as Error).message}`;
    throw new AppProxyError('AP_ERR_VALIDATION', message, [{ field, in: 'body', message }]);
  }
}
