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
import { principal, type RoutePlugin, replies } from './context.ts';

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

  app.get(
    '/v1/circuits/:id',
    {
      schema: {
        summary: 'One circuit.',
        tags,
        params: IdParams,
        response: replies({ 200: CircuitSchema }),
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
        response: replies({ 200: CircuitSchema }),
      },
    },
    async (req) => d.circuits.close(principal(req), req.params.id),
  );

  app.get(
    '/v1/circuits/:id/activity',
    {
      schema: {
        summary:
          'Bytes, requests, open connections and last-activity times the workers counted for the circuit, and the idle policies that apply.',
        description:
          'Activity is bytes moved (HTTP, WebSocket, TCP and tunnels alike); open connections alone do not count. ' +
          '`policies` lists each idle policy that applies (circuit-idle, session-idle) with its timeout, where it came from ' +
          'and when it acts if nothing moves (`actsAt`, null when it cannot act now; `explanation` says why); ' +
          '`policy` is the one that acts first.',
        tags,
        params: IdParams,
        response: replies({ 200: CircuitActivitySchema }),
      },
    },
    async (req) => d.circuits.activity(principal(req), req.params.id),
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

  app.post(
    '/v1/circuits/:id/tunnel-token',
    {
      schema: {
        summary: 'A single-use token for one tunnelled connection to a TCP circuit in tunnel mode.',
        description:
          'Open a WebSocket to `url` with `Authorization: Bearer <token>` and subprotocol `appproxy-tunnel.v1` ' +
          'within the token lifetime (at most 60 s); binary messages carry the bytes. 409 AP_ERR_TUNNEL_NOT_AVAILABLE ' +
          'unless the circuit is ACTIVE, tcp and in tunnel mode. The owner of the circuit or an admin.',
        tags,
        params: IdParams,
        response: replies({ 200: TunnelTokenSchema }),
      },
    },
    async (req) => d.circuits.tunnelToken(principal(req), req.params.id),
  );

  app.get(
    '/v1/circuits/:id/events',
    {
      schema: {
        summary: 'What the lifecycle and the idle policies did to the circuit, oldest first.',
        tags,
        params: IdParams,
        response: replies({ 200: LifecycleEventListSchema }),
      },
    },
    async (req) => ({ items: await d.events.ofCircuit(principal(req), req.params.id) }),
  );
};
