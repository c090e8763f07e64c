/** /v1/workers and /v1/doctor (admins only). */
import { type App, type AppDeps, principal } from '../app.ts';
import {
  DoctorReportSchema,
  errorResponses,
  WorkerInfoSchema,
  WorkerListSchema,
  WorkerParams,
} from '../schemas.ts';

export function registerWorkerRoutes(app: App, d: AppDeps): void {
  app.get(
    '/v1/workers',
    {
      schema: {
        summary:
          'Known workers; healthy = registered now; draining = gets no new circuits; circuits = live circuits on it. Admins only.',
        tags: ['workers'],
        response: { 200: WorkerListSchema, ...errorResponses },
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
          tags: ['workers'],
          params: WorkerParams,
          response: { 200: WorkerInfoSchema, ...errorResponses },
        },
      },
      async (req) => d.workers.setDraining(principal(req), req.params.authority, draining),
    );
  }

  app.get(
    '/v1/doctor',
    {
      schema: {
        summary:
          'Checks the invariants between SQL (the truth) and KV (its projection and the workers’ keys); lists every violation. Admins only.',
        tags: ['workers'],
        response: { 200: DoctorReportSchema, ...errorResponses },
      },
    },
    async (req) => d.doctor.report(principal(req)),
  );
}
