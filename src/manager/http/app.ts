/**
 * The manager's fastify instance: request ids, the error envelope, bearer-token auth, metrics,
 * OpenAPI, and the route plugins the composition root mounts (each with its own services). It
 * never listens; the composition root decides where it is served.
 */
import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import { type TypeBoxTypeProvider, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AppProxyError } from '../../contracts/errors.ts';
import { redactUrl } from '../../core/logger.ts';
import type { ManagerMetrics } from '../metrics.ts';
import type { AuthService } from '../services/auth.ts';
import { acceptJsonBodies } from './body.ts';
import { type App, type Mount, setPrincipal } from './context.ts';
import { MAX_PARAM_LENGTH, onClientError, sendError } from './errors.ts';

export interface AppOptions {
  logger: Logger;
  metrics: Pick<ManagerMetrics, 'httpRequests' | 'httpDuration'>;
  auth: Pick<AuthService, 'authenticate'>;
  /** The route plugins, each bound to the services it uses (see `mount`). */
  routes: Mount[];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The methods an `Allow` header may list (HEAD comes with every GET route). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * A route is public exactly when its OpenAPI entry says it needs no credentials (`security: []`),
 * so the document and the auth hook cannot disagree.
 */
function isPublic(req: FastifyRequest): boolean {
  const security = req.routeOptions.schema?.security;
  return security !== undefined && security.length === 0;
}

export async function buildApp(o: AppOptions): Promise<App> {
  // Route plugins see fastify's logger interface; pino's fits it.
  // Its request serializer is fastify's, but with credentials in the query string (the
  // Backend.AI handshake's token, an identity provider's code) redacted.
  const logger = Object.assign(o.logger.child({}), {
    serializers: {
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: redactUrl(req.url),
        host: req.host,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  }) as unknown as FastifyBaseLogger;
  const app = Fastify({
    loggerInstance: logger,
    // An inbound X-Request-Id is kept when it looks like one (so a caller can correlate), else ours.
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
    },
    requestIdHeader: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors of the router (bad percent-encoding, overlong parameter) and of Node's HTTP parser
    // are answered in the envelope too.
    frameworkErrors: (err, req, reply) => sendError(req, reply, err),
    clientErrorHandler: onClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  acceptJsonBodies(app);
  // Response schemas document the API; bodies are plain JSON of the contract types.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'AppProxy manager API',
        version: '1',
        description:
          'Sessions, circuits (app addresses, TCP access and tunnels, idle policies, events), workers and templates. Errors share one envelope.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    // Unmatched routes fall through to the 404 handler without asking for a token.
    if (req.routeOptions.url === undefined || isPublic(req)) return;
    setPrincipal(req, await o.auth.authenticate(req));
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    o.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    o.metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => sendError(req, reply, err));

  // A path some route serves answers 405 with the methods it takes; any other path is 404.
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    const allow = METHODS.filter((method) => app.findRoute({ method, url: path }) !== null);
    if (allow.length === 0) {
      sendError(req, reply, new AppProxyError('AP_ERR_NOT_FOUND', `No route ${req.method} ${path}.`));
      return;
    }
    void reply.header('allow', allow.join(', '));
    const message = `${path} accepts ${allow.join(', ')}, not ${req.method}.`;
    sendError(req, reply, new AppProxyError('AP_ERR_METHOD_NOT_ALLOWED', message, { allow }));
  });

  for (const m of o.routes) m(app);

  app.get(
    '/openapi.json',
    { schema: { summary: 'This API as an OpenAPI 3.1 document.', tags: ['meta'], security: [] } },
    async () => app.swagger(),
  );

  await app.ready();
  return app;
}
