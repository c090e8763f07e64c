/** /v1/logout-uris: the logout URIs admins add to every logout (changes apply to the next logout). */
import { CreateLogoutUriBody, LogoutUriListSchema, LogoutUriSchema } from '../auth-schemas.ts';
import type { LogoutService } from '../services/logout.ts';
import { idRoutes, principal, type RoutePlugin, replies } from './context.ts';

const tags = ['logout URIs'];

export interface LogoutUriRoutesOptions {
  logout: Pick<LogoutService, 'list' | 'add' | 'remove'>;
}

export const logoutUriRoutes: RoutePlugin<LogoutUriRoutesOptions> = async (app, d) => {
  app.get(
    '/v1/logout-uris',
    {
      schema: {
        summary:
          'Logout URIs added by admins (visited after the worker origins of the signing-out login session). Admins only.',
        tags,
        response: replies({ 200: LogoutUriListSchema }),
      },
    },
    async (req) => ({ items: await d.logout.list(principal(req)) }),
  );
  app.post(
    '/v1/logout-uris',
    {
      schema: {
        summary: 'Add a logout URI (the platform web server, another app). Admins only.',
        tags,
        body: CreateLogoutUriBody,
        response: replies({ 201: LogoutUriSchema }),
      },
    },
    async (req, reply) => {
      void reply.code(201);
      return d.logout.add(principal(req), req.body);
    },
  );
  idRoutes(app, tags)(
    'DELETE',
    '/v1/logout-uris/:id',
    { summary: 'Remove a logout URI. Admins only.' },
    LogoutUriSchema,
    (p, id) => d.logout.remove(p, id),
  );
};
