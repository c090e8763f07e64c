/** Liveness, readiness (`services/readiness.ts`) and Prometheus metrics; all public. */
import type { App, AppDeps } from '../app.ts';
import { HealthSchema, ReadySchema } from '../schemas.ts';

export function registerHealthRoutes(app: App, d: AppDeps): void {
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
          'The stores the manager needs answer (SQL and KV: 503 without them; counters: degraded); also who leads the background loops.',
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
}
