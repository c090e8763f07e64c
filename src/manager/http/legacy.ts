/**
 * Backend.AI's coordinator API on the manager (`services/legacy-coordinator.ts`), behind the
 * `legacyCoordinatorApi` flag: 503 AP_ERR_FEATURE_DISABLED while it is off. The routes are public
 * to the API's own authentication (Backend.AI sends no AppProxy credential): the calls of
 * Backend.AI's manager carry its shared secret, the browser's carry the `/v2/conf` token.
 * Bodies follow Backend.AI's DTOs (`common/dto/appproxy_coordinator/v2`): fields it adds later are
 * accepted and ignored, `endpoint_id` is taken for `deployment_id` and `group_id` for `project_id`.
 */
import { type TSchema, Type } from 'typebox';
import { AppProxyError } from '../../contracts/errors.ts';
import {
  type CreateEndpointItem,
  type LegacyCoordinator,
  perItem,
  type RouteEntry,
} from '../services/legacy-coordinator.ts';
import { type RoutePlugin, replies } from './context.ts';

const tags = ['backend.ai compatibility'];
const open = { additionalProperties: true } as const;
const Str = (o: object = {}) => Type.String({ minLength: 1, maxLength: 1024, ...o });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const Ok = (props: Record<string, TSchema>) => Type.Object(props, open);

const HealthCheck = Type.Union([
  Type.Object(
    {
      path: Type.Optional(Type.String({ maxLength: 1024 })),
      interval: Type.Optional(Type.Number({ minimum: 0 })),
      max_retries: Type.Optional(Type.Integer({ minimum: 0 })),
      max_wait_time: Type.Optional(Type.Number({ minimum: 0 })),
      expected_status_code: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
      initial_delay: Type.Optional(Type.Number({ minimum: 0 })),
    },
    open,
  ),
  Type.Null(),
]);

const CreateItem = Type.Object(
  {
    deployment_id: Type.Optional(Str()),
    endpoint_id: Type.Optional(Str()),
    version: Type.Optional(Type.String()),
    service_name: Str(),
    tags: Type.Object(
      {
        session: Type.Object({ user_uuid: Str() }, open),
        endpoint: Type.Object({}, open),
      },
      open,
    ),
    open_to_public: Type.Optional(Type.Boolean()),
    health_check: Type.Optional(HealthCheck),
  },
  open,
);

const Route = Type.Object(
  { session_id: Str(), route_id: Str(), kernel_host: Str({ maxLength: 253 }), kernel_port: Port },
  open,
);
const DeploymentRef = { deployment_id: Type.Optional(Str()), endpoint_id: Type.Optional(Str()) };
const RoutesItem = Type.Object({ ...DeploymentRef, routes: Type.Array(Route, { maxItems: 1024 }) }, open);
const RouteIdsItem = Type.Object(
  { ...DeploymentRef, route_ids: Type.Array(Str(), { maxItems: 1024 }) },
  open,
);
const Bulk = <T extends TSchema>(item: T) =>
  Type.Object({ endpoints: Type.Array(item, { maxItems: 1024 }) }, open);
const ItemResult = (extra: Record<string, TSchema> = {}) =>
  Type.Object({
    deployment_id: Type.String(),
    success: Type.Boolean(),
    error: Type.Union([Type.String(), Type.Null()]),
    ...extra,
  });
const EndpointParams = Type.Object({ id: Str({ maxLength: 128 }) });

/** `deployment_id`, or its older name `endpoint_id`. */
function deploymentIdOf(item: { deployment_id?: string; endpoint_id?: string }, index: number): string {
  const id = item.deployment_id ?? item.endpoint_id;
  if (id === undefined) {
    const field = `/endpoints/${index}/deployment_id`;
    throw new AppProxyError('AP_ERR_VALIDATION', 'deployment_id is required.', [
      { field, in: 'body', message: 'is required' },
    ]);
  }
  return id;
}

export interface LegacyRoutesOptions {
  legacy: LegacyCoordinator;
}

export const legacyRoutes: RoutePlugin<LegacyRoutesOptions> = async (app, { legacy }) => {
  // Every route: the flag first (its 503 says what to turn on), then the secret where one is due.
  const secret = { security: [], tags };
  app.addHook('onRequest', async () => legacy.checkEnabled());
  const guarded = async (req: { headers: Record<string, string | string[] | undefined> }) =>
    legacy.checkSecret(req.headers);

  app.get(
    '/status',
    {
      schema: {
        summary: "Backend.AI's coordinator status: the API version and where browsers reach it.",
        ...secret,
        response: replies({ 200: Ok({ api_version: Type.String(), advertise_address: Type.String() }) }),
      },
    },
    async () => legacy.status(),
  );

  app.post(
    '/v2/conf',
    {
      schema: {
        summary:
          "Backend.AI's handshake, step 1 (its manager): registers the session and app, answers a token.",
        description:
          'Needs the shared secret (X-BackendAI-Token) unless legacy.allowUnauthenticatedConf is set. The token ' +
          'expires after legacy.confTokenTtl.',
        ...secret,
        body: Type.Object(
          {
            login_session_token: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])),
            kernel_host: Str({ maxLength: 253 }),
            kernel_port: Port,
            session: Type.Object({ id: Str(), user_uuid: Str() }, open),
          },
          open,
        ),
        response: replies({ 200: Ok({ token: Type.String() }) }),
      },
      preHandler: async (req) => {
        if (!legacy.allowsUnauthenticatedConf()) await guarded(req);
      },
    },
    async (req) => legacy.conf(req.body),
  );

  app.get(
    '/v2/proxy/auth',
    {
      schema: {
        summary: "Backend.AI's handshake, step 2 (the browser): opens or reuses the app's circuit.",
        description:
          'With Accept: application/json, {redirect_url, reuse}; otherwise a 308 redirect to the setup link. ' +
          'TCP apps answer their address.',
        ...secret,
        querystring: Type.Object(
          {
            token: Str({ maxLength: 128 }),
            session_id: Str({ maxLength: 128 }),
            app: Str({ maxLength: 63 }),
            protocol: Type.Optional(Type.String({ maxLength: 16 })),
            redirect: Type.Optional(Type.String({ maxLength: 2048 })),
            no_reuse: Type.Optional(Type.String({ maxLength: 8 })),
            open_to_public: Type.Optional(Type.String({ maxLength: 8 })),
            allowed_client_ips: Type.Optional(Type.String({ maxLength: 4096 })),
          },
          open,
        ),
        response: replies({ 200: Ok({ redirect_url: Type.String(), reuse: Type.Boolean() }) }),
      },
    },
    async (req, reply) => {
      const out = await legacy.proxyAuth(req.query);
      // The WebUI fetches this from its own origin; the token in the query is the credential.
      void reply.header('access-control-allow-origin', '*').header('cache-control', 'no-store');
      if ((req.headers.accept ?? '').includes('application/json')) return out;
      return reply.redirect(out.redirect_url, 308);
    },
  );

  const epSchema = <S extends object>(summary: string, extra: S) => ({
    schema: { summary, ...secret, ...extra },
    preHandler: guarded,
  });

  app.post(
    '/v2/endpoints/bulk',
    epSchema('Creates or syncs many inference endpoints (ids are deployment ids); answers in input order.', {
      body: Bulk(CreateItem),
      response: replies({
        200: Ok({
          endpoints: Type.Array(
            Type.Object({
              deployment_id: Type.String(),
              url: Type.String(),
              health_check_enabled: Type.Boolean(),
            }),
          ),
        }),
      }),
    }),
    async (req) => {
      const out = [];
      for (const [i, item] of req.body.endpoints.entries())
        out.push(await legacy.createEndpoint(deploymentIdOf(item, i), item as CreateEndpointItem));
      return { endpoints: out };
    },
  );

  app.delete(
    '/v2/endpoints/bulk',
    epSchema('Removes many endpoints; each one on its own (already gone counts as success).', {
      body: Bulk(Type.Object(DeploymentRef, open)),
      response: replies({ 200: Ok({ endpoints: Type.Array(ItemResult()) }) }),
    }),
    async (req) => {
      const out = [];
      for (const [i, item] of req.body.endpoints.entries()) {
        const id = deploymentIdOf(item, i);
        out.push(await perItem(id, () => legacy.deleteEndpoint(id).then(() => ({}))));
      }
      return { endpoints: out };
    },
  );

  app.post(
    '/v2/endpoints/bulk/routes',
    epSchema("Replaces many endpoints' routes (the authoritative set); per-item success.", {
      body: Bulk(RoutesItem),
      response: replies({ 200: Ok({ endpoints: Type.Array(ItemResult()) }) }),
    }),
    async (req) => {
      const out = [];
      for (const [i, item] of req.body.endpoints.entries()) {
        const id = deploymentIdOf(item, i);
        out.push(
          await perItem(id, () => legacy.replaceRoutes(id, item.routes as RouteEntry[]).then(() => ({}))),
        );
      }
      return { endpoints: out };
    },
  );

  app.post(
    '/v2/endpoints/bulk/routes/register',
    epSchema('Adds routes to many endpoints (a route id already there is a no-op).', {
      body: Bulk(RoutesItem),
      response: replies({
        200: Ok({
          endpoints: Type.Array(
            ItemResult({
              registered_route_ids: Type.Array(Type.String()),
              already_registered_route_ids: Type.Array(Type.String()),
            }),
          ),
        }),
      }),
    }),
    async (req) => {
      const out = [];
      for (const [i, item] of req.body.endpoints.entries()) {
        const id = deploymentIdOf(item, i);
        const r = await perItem(id, () => legacy.registerRoutes(id, item.routes as RouteEntry[]));
        out.push(r.success ? r : { ...r, registered_route_ids: [], already_registered_route_ids: [] });
      }
      return { endpoints: out };
    },
  );

  app.post(
    '/v2/endpoints/bulk/routes/unregister',
    epSchema('Removes routes from many endpoints by route id (an absent one is a no-op).', {
      body: Bulk(RouteIdsItem),
      response: replies({
        200: Ok({
          endpoints: Type.Array(
            ItemResult({
              unregistered_route_ids: Type.Array(Type.String()),
              already_absent_route_ids: Type.Array(Type.String()),
            }),
          ),
        }),
      }),
    }),
    async (req) => {
      const out = [];
      for (const [i, item] of req.body.endpoints.entries()) {
        const id = deploymentIdOf(item, i);
        const r = await perItem(id, () => legacy.unregisterRoutes(id, item.route_ids));
        out.push(r.success ? r : { ...r, unregistered_route_ids: [], already_absent_route_ids: [] });
      }
      return { endpoints: out };
    },
  );

  app.post(
    '/v2/endpoints/:id',
    epSchema('Creates or syncs one inference endpoint (its id is the deployment id).', {
      params: EndpointParams,
      body: CreateItem,
      response: replies({
        200: Ok({ success: Type.Boolean(), endpoint: Type.String(), health_check_enabled: Type.Boolean() }),
      }),
    }),
    async (req) => {
      const r = await legacy.createEndpoint(req.params.id, req.body as CreateEndpointItem);
      return { success: true, endpoint: r.url, health_check_enabled: r.health_check_enabled };
    },
  );

  app.delete(
    '/v2/endpoints/:id',
    epSchema('Removes one endpoint (its URL closes, its keys are revoked); already gone is success.', {
      params: EndpointParams,
      response: replies({ 200: Ok({ success: Type.Boolean() }) }),
    }),
    async (req) => {
      await legacy.deleteEndpoint(req.params.id);
      return { success: true };
    },
  );

  app.put(
    '/v2/endpoints/:id/health-check',
    epSchema("Sets or clears an endpoint's health check (Backend.AI's ModelHealthCheck, in seconds).", {
      params: EndpointParams,
      body: Type.Object({ health_check: HealthCheck }, open),
      response: replies({ 200: Ok({ success: Type.Boolean(), health_check_enabled: Type.Boolean() }) }),
    }),
    async (req) => ({
      success: true,
      ...(await legacy.setHealthCheck(req.params.id, req.body.health_check)),
    }),
  );

  app.post(
    '/v2/endpoints/:id/token',
    epSchema('Mints a key for a user until exp (sent as "BackendAI <token>" or "Bearer <token>").', {
      params: EndpointParams,
      body: Type.Object(
        { user_uuid: Str(), exp: Type.Union([Type.String({ maxLength: 64 }), Type.Number()]) },
        open,
      ),
      response: replies({ 200: Ok({ token: Type.String() }) }),
    }),
    async (req) => legacy.mintToken(req.params.id, req.body.user_uuid, req.body.exp),
  );
};
