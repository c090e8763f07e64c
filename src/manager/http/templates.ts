/** /v1/templates: what the agent can run. */
import type { AgentDriver } from '../../contracts/agent.ts';
import { TemplateListSchema } from '../schemas.ts';
import { type RoutePlugin, replies } from './context.ts';

export interface TemplateRoutesOptions {
  agent: Pick<AgentDriver, 'templates'>;
}

export const templateRoutes: RoutePlugin<TemplateRoutesOptions> = async (app, d) => {
  app.get(
    '/v1/templates',
    {
      schema: {
        summary: 'Session templates the agent offers, with availability.',
        tags: ['templates'],
        response: replies({ 200: TemplateListSchema }),
      },
    },
    async () => ({ items: d.agent.templates() }),
  );
};
