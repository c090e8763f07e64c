/** /v1/doctor: the invariants between SQL and KV that do not hold now (admins only). */
import { DoctorReportSchema } from '../schemas.ts';
import type { Doctor } from '../services/doctor.ts';
import { principal, type RoutePlugin, replies } from './context.ts';

export interface DoctorRoutesOptions {
  doctor: Pick<Doctor, 'report'>;
}

export const doctorRoutes: RoutePlugin<DoctorRoutesOptions> = async (app, d) => {
  app.get(
    '/v1/doctor',
    {
      schema: {
        summary:
          'Checks the invariants between SQL (the truth) and KV (its projection and the workers’ keys); lists every violation. Admins only.',
        tags: ['workers'],
        response: replies({ 200: DoctorReportSchema }),
      },
    },
    async (req) => d.doctor.report(principal(req)),
  );
};
