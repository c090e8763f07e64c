/**
 * What the manager's route plugins share: the app type, the caller of a request, and how the
 * composition root hands a plugin its services (`mount`). Route plugins import this module and
 * their services, never `app.ts`, so the factory can import the plugins without a circle.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyPluginOptions, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AppProxyError } from '../../contracts/errors.ts';
import { errorResponses } from '../schemas.ts';
import type { Principal } from '../services/auth.ts';

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, TypeBoxTypeProvider>;

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
