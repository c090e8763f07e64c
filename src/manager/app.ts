/**
 * The manager's fastify instance: request ids, the error envelope, bearer-token auth, metrics,
 * OpenAPI, and the routes. It never listens; the composition root decides where it is served.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import { type TypeBoxTypeProvider, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AgentDriver } from '../contracts/agent.ts';
import { AppProxyError, errorEnvelope } from '../contracts/errors.ts';
import type { LeaderElector } from './loops/leader.ts';
import type { ManagerMetrics } from './metrics.ts';
import type { EventLog } from './repos/events.ts';
import { registerCircuitRoutes } from './routes/circuits.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerSessionRoutes } from './routes/sessions.ts';
import { registerTemplateRoutes } from './routes/templates.ts';
import { registerWorkerRoutes } from './routes/workers.ts';
import type { AuthService, Principal } from './services/auth.ts';
import type { CircuitService } from './services/circuits.ts';
import type { Doctor } from './services/doctor.ts';
import type { Readiness } from './services/readiness.ts';
import type { SessionService } from './services/sessions.ts';
import type { WorkerService } from './services/workers.ts';

/** Routes served without an API token. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
]);

// Kept beside the request rather than declared on FastifyRequest, so that no global type
// augmentation leaks into the worker's fastify instances.
const principals = new WeakMap<FastifyRequest, Principal>();

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, TypeBoxTypeProvider>;

export interface AppDeps {
  logger: Logger;
  registry: Registry;
  metrics: ManagerMetrics;
  readiness: Readiness;
  agent: AgentDriver;
  auth: AuthService;
  sessions: SessionService;
  circuits: CircuitService;
  workers: WorkerService;
  doctor: Doctor;
  leader: LeaderElector;
  events: EventLog;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The authenticated caller of a non-public route (set by the auth hook). */
export function principal(req: FastifyRequest): Principal {
  const p = principals.get(req);
  if (!p) throw new AppProxyError('AP_ERR_UNAUTHENTICATED');
  return p;
}

export async function buildApp(d: AppDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: d.logger,
    // An inbound X-Request-Id is kept when it looks like one (so a caller can correlate), else ours.
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
    },
    requestIdHeader: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(TypeBoxValidatorCompiler);
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
    const route = req.routeOptions.url;
    if (route === undefined || PUBLIC_ROUTES.has(route)) return;
    principals.set(req, await d.auth.authenticate(req.headers.authorization));
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    d.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    d.metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = toAppError(err);
    if (e.code === 'AP_ERR_INTERNAL' || e.code === 'AP_ERR_STORE_UNAVAILABLE') {
      req.log.error({ err, requestId: req.id }, 'request failed');
    }
    void reply.code(e.status).type('application/json').send(errorEnvelope(e, req.id));
  });

  app.setNotFoundHandler((req, reply) => {
    const e = new AppProxyError('AP_ERR_NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}.`);
    void reply.code(404).type('application/json').send(errorEnvelope(e, req.id));
  });

  registerHealthRoutes(app, d);
  registerSessionRoutes(app, d);
  registerCircuitRoutes(app, d);
  registerWorkerRoutes(app, d);
  registerTemplateRoutes(app, d);

  app.get(
    '/openapi.json',
    { schema: { summary: 'This API as an OpenAPI 3.1 document.', tags: ['meta'], security: [] } },
    async () => app.swagger(),
  );

  await app.ready();
  return app;
}

interface ValidationItem {
  keyword: string;
  instancePath: string;
  schemaPath?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** Maps whatever a handler or fastify threw to a registry error (never leaking internals). */
export function toAppError(err: FastifyError | Error): AppProxyError {
  if (err instanceof AppProxyError) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    return new AppProxyError(
      'AP_ERR_VALIDATION',
      'The request is malformed; see detail for the fields.',
      validationDetail(fe),
    );
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new AppProxyError('AP_ERR_VALIDATION', 'The request body is not valid JSON.');
  }
  if (fe.statusCode === 415)
    return new AppProxyError('AP_ERR_VALIDATION', 'Send a JSON body (Content-Type: application/json).');
  if (fe.statusCode === 413) return new AppProxyError('AP_ERR_VALIDATION', 'The request body is too large.');
  if (fe.statusCode === 404) return new AppProxyError('AP_ERR_NOT_FOUND');
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppProxyError('AP_ERR_VALIDATION', 'The request is malformed.');
  }
  return new AppProxyError('AP_ERR_INTERNAL', undefined, undefined, { cause: err });
}

/** `[{field, in, message}]`, one entry per offending field (JSON pointer into the request part). */
function validationDetail(fe: FastifyError): { field: string; in: string; message: string }[] {
  const part = fe.validationContext ?? 'body';
  const byField = new Map<string, string>();
  for (const v of (fe.validation ?? []) as unknown as ValidationItem[]) {
    if (v.keyword === 'boolean' && v.schemaPath?.endsWith('additionalProperties')) continue; // reported below
    if (v.keyword === 'additionalProperties') {
      const extra = (v.params?.additionalProperties as string[] | undefined) ?? [];
      for (const f of extra) byField.set(`${v.instancePath}/${f}`, 'is not a known field');
    } else if (v.keyword === 'required') {
      const missing = (v.params?.requiredProperties as string[] | undefined) ?? [];
      for (const f of missing) byField.set(`${v.instancePath}/${f}`, 'is required');
    } else {
      const field = v.instancePath || '/';
      // For unions the last error is the summary ("must match a schema in anyOf"): keep it.
      byField.set(field, v.message ?? v.keyword);
    }
  }
  return [...byField].map(([field, message]) => ({ field, in: part, message }));
}
