/**
 * Liveness, readiness (the stores answer) and Prometheus metrics. All public: `security: []`
 * is what makes the app's auth hook let a route through.
 */
import type { Registry } from 'prom-client';
import { HealthSchema, ReadySchema } from '../schemas.ts';
import type { Readiness } from '../services/readiness.ts';
import type { RoutePlugin } from './context.ts';

export interface HealthRoutesOptions {
  readiness: Pick<Readiness, 'check'>;
  registry: Pick<Registry, 'metrics' | 'contentType'>;
}

export const healthRoutes: RoutePlugin<HealthRoutesOptions> = async (app, d) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is alive.',
        tags: ['meta'],
        security: [],
        response: { 200: HealthSchema },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary:
          'The stores answer: 503 unavailable without SQL or KV, 200 degraded without counters; also who leads the background loops.',
        tags: ['meta'],
        security: [],
        response: { 200: ReadySchema, 503: ReadySchema },
      },
    },
    async (_req, reply) => {
      const report = await d.readiness.check();
      return reply.code(report.status === 'unavailable' ? 503 : 200).send(report);
    },
  );

  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics (text format).', tags: ['meta'], security: [] } },
    async (_req, reply) => {
      const body = await d.registry.metrics();
      return reply.type(d.registry.contentType).send(body);
    },
  );
};
