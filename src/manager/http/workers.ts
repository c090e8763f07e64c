/** /v1/workers: the data-plane workers the manager knows, and draining them (admins only). */
import { WorkerInfoSchema, WorkerListSchema, WorkerParams } from '../schemas.ts';
import type { WorkerService } from '../services/workers.ts';
import { principal, type RoutePlugin, replies } from './context.ts';

const tags = ['workers'];

export interface WorkerRoutesOptions {
  workers: Pick<WorkerService, 'list' | 'setDraining'>;
}

export const workerRoutes: RoutePlugin<WorkerRoutesOptions> = async (app, d) => {
  app.get(
    '/v1/workers',
    {
      schema: {
        summary:
          'Known workers; healthy = registered now; draining = gets no new circuits; circuits = live circuits on it. Admins only.',
        tags,
        response: replies({ 200: WorkerListSchema }),
      },
    },
    async (req) => ({ items: await d.workers.list(principal(req)) }),
  );

  for (const [action, draining] of [
    ['drain', true],
    ['undrain', false],
  ] as const) {
    app.post(
      `/v1/workers/:authority/${action}`,
      {
        schema: {
          summary: draining
            ? 'Drain a worker: no new circuits are allocated to it; its circuits keep running. Admins only.'
            : 'Undrain a worker: it gets new circuits again. Admins only.',
          tags,
          params: WorkerParams,
          response: replies({ 200: WorkerInfoSchema }),
        },
      },
      async (req) => d.workers.setDraining(principal(req), req.params.authority, draining),
    );
  }
};
