/** /v1/sessions: thin handlers (parse → service → reply). */
import { isSessionFinal } from '../../core/state-machines.ts';
import {
  CreateSessionBody,
  DeleteSessionQuery,
  IdParams,
  LifecycleEventListSchema,
  SessionListQuery,
  SessionListSchema,
  SessionSchema,
  StartServiceBody,
  StartServiceResultSchema,
} from '../schemas.ts';
import type { CircuitService } from '../services/circuits.ts';
import type { EventService } from '../services/events.ts';
import type { SessionService } from '../services/sessions.ts';
import { idRoutes, principal, type RoutePlugin, replies } from './context.ts';

const tags = ['sessions'];

export interface SessionRoutesOptions {
  sessions: SessionService;
  /** start-service lives under the session's path; the circuit service opens the circuit. */
  circuits: Pick<CircuitService, 'startService'>;
  events: Pick<EventService, 'ofSession'>;
}

export const sessionRoutes: RoutePlugin<SessionRoutesOptions> = async (app, d) => {
  app.post(
    '/v1/sessions',
    {
      schema: {
        summary: 'Create a session from a template; it starts PENDING and the agent launches it.',
        description:
          '`idle` sets the session idle policy and the defaults of its circuits (ms; null = never), within the ' +
          "administrator's limits (400 AP_ERR_POLICY_OUT_OF_RANGE with detail {field, min, max}); absent fields " +
          'come from the template, then the configuration.',
        tags,
        body: CreateSessionBody,
        response: replies({ 201: SessionSchema }),
      },
    },
    async (req, reply) => reply.code(201).send(await d.sessions.create(principal(req), req.body)),
  );

  app.get(
    '/v1/sessions',
    {
      schema: {
        summary: 'List sessions (admins: all; users: their own).',
        tags,
        querystring: SessionListQuery,
        response: replies({ 200: SessionListSchema }),
      },
    },
    async (req) => ({ items: await d.sessions.list(principal(req), req.query) }),
  );

  const byId = idRoutes(app, tags);

  byId('GET', '/v1/sessions/:id', { summary: 'One session, with its services.' }, SessionSchema, (p, id) =>
    d.sessions.get(p, id),
  );

  app.delete(
    '/v1/sessions/:id',
    {
      schema: {
        summary: 'Terminate a session: its circuits close first, then its processes stop.',
        description:
          '202 with the session TERMINATING while the flow continues; 200 when the session is already final ' +
          '(or became final within the wait with ?wait=true). Repeating it is harmless.',
        tags,
        params: IdParams,
        querystring: DeleteSessionQuery,
        response: replies({ 200: SessionSchema, 202: SessionSchema }),
      },
    },
    async (req, reply) => {
      const s = await d.sessions.terminate(principal(req), req.params.id, req.query.wait === true);
      return reply.code(isSessionFinal(s.state) ? 200 : 202).send(s);
    },
  );

  app.post(
    '/v1/sessions/:id/start-service',
    {
      schema: {
        summary:
          "Open (or reuse) a circuit to one of the session's services and get a setup URL for the browser.",
        description:
          'Without `frontend`, port mode is used when a live worker offers it for the protocol, else wildcard. ' +
          'The worker serves the route before this answers. The setup URL is single-use and expires within 60 s. ' +
          'TCP services: port mode only; `access` {mode: tunnel (default) | allow-list | public, allowFrom}; no setup URL ' +
          '(appUrl is tcp://host:port, or the origin that carries tunnels). A live circuit is re-used; a different ' +
          '`access` is applied to it in place. `idle` applies to a new circuit only.',
        tags,
        params: IdParams,
        body: StartServiceBody,
        response: replies({ 200: StartServiceResultSchema }),
      },
    },
    async (req) => d.circuits.startService(principal(req), req.params.id, req.body),
  );

  byId(
    'GET',
    '/v1/sessions/:id/events',
    {
      summary: 'What the lifecycle and the idle policies did to the session and its circuits, oldest first.',
    },
    LifecycleEventListSchema,
    async (p, id) => ({ items: await d.events.ofSession(p, id) }),
  );
};
