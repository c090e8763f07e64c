/** /v1/templates: what the agent can run. */
import type { App, AppDeps } from '../app.ts';
import { errorResponses, TemplateListSchema } from '../schemas.ts';

export function registerTemplateRoutes(app: App, d: AppDeps): void {
  app.get(
    '/v1/templates',
    {
      schema: {
        summary: 'Session templates the agent offers, with availability.',
        tags: ['templates'],
        response: { 200: TemplateListSchema, ...errorResponses },
      },
    },
    async () => ({ items: d.agent.templates() }),
  );
}
