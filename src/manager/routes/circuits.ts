/** /v1/circuits: thin handlers (parse → service → reply). */
import { type App, type AppDeps, principal } from '../app.ts';
import {
  CircuitActivitySchema,
  CircuitListQuery,
  CircuitListSchema,
  CircuitSchema,
  errorResponses,
  IdParams,
} from '../schemas.ts';

const tags = ['circuits'];

export function registerCircuitRoutes(app: App, d: AppDeps): void {
  app.get(
    '/v1/circuits',
    {
      schema: {
        summary: 'List circuits (admins: all; users: their own).',
        tags,
        querystring: CircuitListQuery,
        response: { 200: CircuitListSchema, ...errorResponses },
      },
    },
    async (req) => ({ items: await d.circuits.list(principal(req), req.query) }),
  );

  app.get(
    '/v1/circuits/:id',
    {
      schema: {
        summary: 'One circuit.',
        tags,
        params: IdParams,
        response: { 200: CircuitSchema, ...errorResponses },
      },
    },
    async (req) => d.circuits.get(principal(req), req.params.id),
  );

  app.delete(
    '/v1/circuits/:id',
    {
      schema: {
        summary:
          'Close a circuit: the worker drops the route and its live connections; the slot is released.',
        tags,
        params: IdParams,
        response: { 200: CircuitSchema, ...errorResponses },
      },
    },
    async (req) => d.circuits.close(principal(req), req.params.id),
  );

  app.get(
    '/v1/circuits/:id/activity',
    {
      schema: {
        summary:
          'Bytes, requests, open connections and last-activity times the workers counted for the circuit.',
        tags,
        params: IdParams,
        response: { 200: CircuitActivitySchema, ...errorResponses },
      },
    },
    async (req) => d.circuits.activity(principal(req), req.params.id),
  );
}
