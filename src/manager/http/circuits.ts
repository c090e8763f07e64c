/** /v1/circuits: thin handlers (parse → service → reply). */
import {
  CircuitActivitySchema,
  CircuitListQuery,
  CircuitListSchema,
  CircuitSchema,
  IdParams,
  LifecycleEventListSchema,
  PatchAccessBody,
  TunnelTokenSchema,
} from '../schemas.ts';
import type { CircuitService } from '../services/circuits.ts';
import type { EventService } from '../services/events.ts';
import { idRoutes, principal, type RoutePlugin, replies } from './context.ts';

const tags = ['circuits'];

export interface CircuitRoutesOptions {
  circuits: CircuitService;
  events: Pick<EventService, 'ofCircuit'>;
}

export const circuitRoutes: RoutePlugin<CircuitRoutesOptions> = async (app, d) => {
  app.get(
    '/v1/circuits',
    {
      schema: {
        summary: 'List circuits (admins: all; users: their own).',
        tags,
        querystring: CircuitListQuery,
        response: replies({ 200: CircuitListSchema }),
      },
    },
    async (req) => ({ items: await d.circuits.list(principal(req), req.query) }),
  );

  const byId = idRoutes(app, tags);

  byId('GET', '/v1/circuits/:id', { summary: 'One circuit.' }, CircuitSchema, (p, id) =>
    d.circuits.get(p, id),
  );

  byId(
    'DELETE',
    '/v1/circuits/:id',
    {
      summary: 'Close a circuit: the worker drops the route and its live connections; the slot is released.',
    },
    CircuitSchema,
    (p, id) => d.circuits.close(p, id),
  );

  byId(
    'GET',
    '/v1/circuits/:id/activity',
    {
      summary:
        'Bytes, requests, open connections and last-activity times the workers counted for the circuit, and the idle policies that apply.',
      description:
        'Activity is bytes moved (HTTP, WebSocket, TCP and tunnels alike); open connections alone do not count. ' +
        '`policies` lists each idle policy that applies (circuit-idle, session-idle) with its timeout, where it came from ' +
        'and when it acts if nothing moves (`actsAt`, null when it cannot act now; `explanation` says why); ' +
        '`policy` is the one that acts first.',
    },
    CircuitActivitySchema,
    (p, id) => d.circuits.activity(p, id),
  );

  app.patch(
    '/v1/circuits/:id/access',
    {
      schema: {
        summary: "Change a live TCP circuit's access (mode, allow-list) in place.",
        description:
          'The worker applies it at once: live connections that no longer pass are closed (reason `revoked`). ' +
          'A mode without `allowFrom` keeps the current list when it stays allow-list. `public` needs `tcp.allowPublic`.',
        tags,
        params: IdParams,
        body: PatchAccessBody,
        response: replies({ 200: CircuitSchema }),
      },
    },
    async (req) => d.circuits.updateAccess(principal(req), req.params.id, req.body),
  );

  byId(
    'POST',
    '/v1/circuits/:id/tunnel-token',
    {
      summary: 'A single-use token for one tunnelled connection to a TCP circuit in tunnel mode.',
      description:
        'Open a WebSocket to `url` with `Authorization: Bearer <token>` and subprotocol `appproxy-tunnel.v1` ' +
        'within the token lifetime (at most 60 s); binary messages carry the bytes. 409 AP_ERR_TUNNEL_NOT_AVAILABLE ' +
        'unless the circuit is ACTIVE, tcp and in tunnel mode. The owner of the circuit or an admin.',
    },
    TunnelTokenSchema,
    (p, id) => d.circuits.tunnelToken(p, id),
  );

  byId(
    'GET',
    '/v1/circuits/:id/events',
    { summary: 'What the lifecycle and the idle policies did to the circuit, oldest first.' },
    LifecycleEventListSchema,
    async (p, id) => ({ items: await d.events.ofCircuit(p, id) }),
  );
};
