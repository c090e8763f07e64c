/** /v1/workers (admins only). */
import { AppProxyError } from '../../contracts/errors.ts';
import { type App, type AppDeps, principal } from '../app.ts';
import { errorResponses, WorkerListSchema } from '../schemas.ts';

export function registerWorkerRoutes(app: App, d: AppDeps): void {
  app.get(
    '/v1/workers',
    {
      schema: {
        summary: 'Known workers; healthy = registered now; circuits = live circuits on it. Admins only.',
        tags: ['workers'],
        response: { 200: WorkerListSchema, ...errorResponses },
      },
    },
    async (req) => {
      if (principal(req).role !== 'admin') throw new AppProxyError('AP_ERR_FORBIDDEN');
      return { items: await d.workers.list() };
    },
  );
}
