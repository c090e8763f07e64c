/** /v1/endpoints: inference endpoints and their routes (replicas). Thin handlers. */
import { type Static, type TOptional, type TSchema, Type } from 'typebox';
import type { Endpoint } from '../../contracts/endpoint.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import type { EventLog } from '../repos/events.ts';
import { FrontendModeSchema, IdParams, LifecycleEventListSchema, Nullable } from '../schemas.ts';
import type { EndpointService } from '../services/endpoints.ts';
import { durationMs, idRoutes, principal, type RoutePlugin, replies } from './context.ts';

const tags = ['endpoints'];
const closed = { additionalProperties: false } as const;
const Balancing = Type.Union([
  Type.Literal('round-robin'),
  Type.Literal('random'),
  Type.Literal('weighted'),
  Type.Literal('least-inflight'),
  Type.Literal('prefix'),
  Type.Literal('llm'),
]);
const RouteId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' });

const ms = (min: number, max: number, description?: string) =>
  Type.Integer({ minimum: min, maximum: max, ...(description ? { description } : {}) });
const HOUR = 3_600_000;

const HealthCheckFields = {
  path: Type.String({
    minLength: 1,
    maxLength: 512,
    pattern: '^/[^\\s\\p{Cc}]*$',
    description: 'Probed with GET.',
  }),
  expectedStatus: Type.Integer({ minimum: 100, maximum: 599 }),
  intervalMs: ms(100, HOUR),
  timeoutMs: ms(50, 60_000),
  healthyThreshold: Type.Integer({ minimum: 1, maximum: 100 }),
  unhealthyThreshold: Type.Integer({ minimum: 1, maximum: 100 }),
  initialDelayMs: ms(0, HOUR, 'A new route is not probed (nor served) before this.'),
};
const RetryFields = {
  attempts: Type.Integer({ minimum: 0, maximum: 10, description: 'Tries after the first; 0 = never.' }),
  bufferBytes: Type.Integer({ minimum: 0, maximum: 64 * 1024 * 1024 }),
  budgetPercent: Type.Integer({ minimum: 0, maximum: 100 }),
  minRetries: Type.Integer({ minimum: 0, maximum: 10_000 }),
};
const PassiveFields = {
  consecutiveFailures: Type.Integer({ minimum: 1, maximum: 1000 }),
  baseEjectionMs: ms(100, HOUR),
  maxEjectionMs: ms(100, 24 * HOUR),
  maxEjectedPercent: Type.Integer({ minimum: 0, maximum: 100 }),
};
const HoldFields = {
  timeoutMs: ms(0, HOUR, '0 = answer 503 at once while no route is ready.'),
  maxRequests: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  heartbeatMs: ms(100, 600_000),
};
const Limit = (description: string) =>
  Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000_000 }), Type.Null()], { description });
const LimitsFields = {
  maxConcurrent: Limit('Requests in flight per worker process; null = unbounded.'),
  queue: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  rpm: Limit('Per key, requests per minute; null = none.'),
  tpm: Limit('Per key, prompt + completion tokens per minute; null = none.'),
};
const EngineMetricsFields = {
  path: Type.String({ minLength: 1, maxLength: 512, pattern: '^/[^\\s\\p{Cc}]*$' }),
  intervalMs: ms(100, 600_000),
  staleMs: ms(100, HOUR),
};
const HeaderName = Type.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" });
// Each field optional, unknown fields refused (a Partial of a closed object would accept them).
const partial = <T extends Record<string, TSchema>>(fields: T) =>
  Type.Object(
    Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, Type.Optional(v)])) as {
      [K in keyof T]: TOptional<T[K]>;
    },
    closed,
  );
const full = <
  T extends Record<
    string,
    ReturnType<typeof Type.Integer> | ReturnType<typeof Type.String> | ReturnType<typeof Limit>
  >,
>(
  fields: T,
) => Type.Object(fields, closed);

const settingsFields = (part: boolean) => ({
  access: Type.Optional(Type.Union([Type.Literal('token'), Type.Literal('public')])),
  balancing: Type.Optional(Balancing),
  headersTimeoutMs: Type.Optional(ms(1000, HOUR, 'Longest wait for a response head (time to first token).')),
  healthCheck: Type.Optional(
    Type.Union([part ? partial(HealthCheckFields) : full(HealthCheckFields), Type.Null()], {
      description: 'Active probes of every route; null = passive health only.',
    }),
  ),
  retry: Type.Optional(part ? partial(RetryFields) : full(RetryFields)),
  passive: Type.Optional(part ? partial(PassiveFields) : full(PassiveFields)),
  hold: Type.Optional(part ? partial(HoldFields) : full(HoldFields)),
  limits: Type.Optional(part ? partial(LimitsFields) : full(LimitsFields)),
  streamIdleTimeoutMs: Type.Optional(ms(1000, 24 * HOUR, 'Longest quiet gap between response chunks.')),
  maxBodyBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024 })),
  slowStartMs: Type.Optional(ms(0, HOUR)),
  drainGraceMs: Type.Optional(ms(0, 24 * HOUR)),
  affinityHeader: Type.Optional(Type.Union([HeaderName, Type.Null()])),
  engineMetrics: Type.Optional(
    Type.Union([part ? partial(EngineMetricsFields) : full(EngineMetricsFields), Type.Null()]),
  ),
});
const SettingsBody = Type.Object(settingsFields(true), closed);

const RouteBody = Type.Object(
  {
    id: Type.Optional(RouteId),
    session: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' })),
    service: Type.Optional(Type.String({ minLength: 1, maxLength: 63, pattern: '^[^\\s\\p{Cc}\\p{Cs}]+$' })),
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 253, pattern: '^[^\\s\\p{Cc}\\p{Cs}/]+$' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    weight: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 10_000, description: 'Traffic share; 0 = staged.' }),
    ),
  },
  closed,
);

const RouteSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('session'), Type.Literal('address')]),
    sessionId: Nullable(Type.String()),
    service: Nullable(Type.String()),
    backend: Type.Union([Type.Object({ host: Type.String(), port: Type.Integer() }, closed), Type.Null()]),
    weight: Type.Integer(),
    state: Type.Union([Type.Literal('serving'), Type.Literal('staged'), Type.Literal('unresolved')]),
    health: Type.Optional(
      Type.Object(
        {
          state: Type.Union([
            Type.Literal('starting'),
            Type.Literal('healthy'),
            Type.Literal('unhealthy'),
            Type.Literal('ejected'),
          ]),
          reporters: Type.Integer({ description: 'Worker processes whose fresh report counted.' }),
          lastProbeAt: Nullable(Type.String({ format: 'date-time' })),
          lastError: Nullable(Type.String()),
          ejections: Type.Integer(),
        },
        {
          ...closed,
          description: 'As the workers serving the endpoint see the route: the worst state any reports.',
        },
      ),
    ),
    traffic: Type.Optional(
      Type.Object(
        {
          windowS: Type.Integer({ description: 'How far back requests, errors and latencies reach.' }),
          inflight: Type.Integer({ description: 'Requests with an attempt on the route now.' }),
          requests: Type.Integer({ description: 'Attempts the route answered or failed in the window.' }),
          errors: Type.Integer({
            description: '5xx answers, failed attempts and streams ended by an error.',
          }),
          errorRate: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
          latencyMs: Type.Object(
            { p50: Nullable(Type.Number()), p90: Nullable(Type.Number()), p99: Nullable(Type.Number()) },
            { ...closed, description: 'Arrival to last byte; each figure exact to ±12% (bucketed).' },
          ),
          ttftMs: Type.Object(
            { p50: Nullable(Type.Number()), p99: Nullable(Type.Number()) },
            { ...closed, description: 'Arrival to the first generated token (streams).' },
          ),
        },
        {
          ...closed,
          description:
            "The route's traffic as the worker processes serving the endpoint report it, summed: in flight now, and the last minute.",
        },
      ),
    ),
  },
  closed,
);

export const EndpointSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    ownerId: Type.String(),
    state: Type.Union([Type.Literal('ACTIVE'), Type.Literal('DELETING'), Type.Literal('DELETED')]),
    url: Nullable(Type.String()),
    circuitId: Nullable(Type.String()),
    settings: Type.Object(
      {
        ...settingsFields(false),
        access: Type.Union([Type.Literal('token'), Type.Literal('public')]),
        balancing: Balancing,
        headersTimeoutMs: Type.Integer(),
        healthCheck: Type.Union([full(HealthCheckFields), Type.Null()]),
      },
      closed,
    ),
    routes: Type.Array(RouteSchema),
    revision: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  closed,
);
const UsageFields = {
  requests: Type.Integer(),
  promptTokens: Type.Integer(),
  completionTokens: Type.Integer(),
  cachedTokens: Type.Integer({ description: 'Prompt tokens the engine served from its prefix cache.' }),
  estimatedRequests: Type.Integer({ description: 'Requests whose counts are estimates (stream cut).' }),
};
const UsageSchema = Type.Object(
  {
    endpointId: Type.String(),
    total: Type.Object(UsageFields, closed),
    keys: Type.Array(
      Type.Object({ keyId: Nullable(Type.String()), name: Nullable(Type.String()), ...UsageFields }, closed),
    ),
  },
  closed,
);
const EndpointListSchema = Type.Object({ items: Type.Array(EndpointSchema) }, closed);

const CreateEndpointBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    frontend: Type.Optional(FrontendModeSchema),
    settings: Type.Optional(SettingsBody),
    routes: Type.Optional(Type.Array(RouteBody, { maxItems: 256 })),
  },
  closed,
);
const PatchEndpointBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    settings: Type.Optional(SettingsBody),
  },
  closed,
);
const PutRoutesBody = Type.Object({ routes: Type.Array(RouteBody, { maxItems: 256 }) }, closed);
const RouteParams = Type.Object({ id: IdParams.properties.id, route: RouteId }, closed);

const KeySchema = Type.Object(
  {
    id: Type.String(),
    endpointId: Type.String(),
    name: Type.String(),
    models: Type.Array(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    expiresAt: Nullable(Type.String({ format: 'date-time' })),
    revokedAt: Nullable(Type.String({ format: 'date-time' })),
    state: Type.Union([Type.Literal('live'), Type.Literal('expired'), Type.Literal('revoked')]),
    rpm: Type.Union([Type.Integer(), Type.Null()]),
    tpm: Type.Union([Type.Integer(), Type.Null()]),
  },
  closed,
);
const NewKeySchema = Type.Object(
  { ...KeySchema.properties, key: Type.String({ description: 'The bearer key: shown this once.' }) },
  closed,
);
const KeyListSchema = Type.Object({ items: Type.Array(KeySchema) }, closed);
const CreateKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    expiresIn: Type.Optional(
      Type.Union([Type.String({ maxLength: 32 }), Type.Integer({ minimum: 1000 })], {
        description: 'Lifetime ("30d", or milliseconds); absent = until revoked.',
      }),
    ),
    models: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
        maxItems: 64,
        description: 'Model names the key may ask for; absent or empty = any.',
      }),
    ),
    rpm: Type.Optional(Limit("This key's requests per minute, across every worker (else the endpoint's).")),
    tpm: Type.Optional(Limit("This key's tokens per minute, across every worker (else the endpoint's).")),
  },
  closed,
);
const KeyParams = Type.Object({ id: IdParams.properties.id, key: RouteId }, closed);

// The response schema says what the service returns.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same: Same<Omit<Static<typeof EndpointSchema>, 'settings'>, Omit<Endpoint, 'settings'>> = true;
void same;

export interface EndpointRoutesOptions {
  endpoints: EndpointService;
  events: Pick<EventLog, 'ofEndpoint'>;
}

/** `If-Match: "<revision>"` (or a bare number) → the revision; undefined when absent. */
function ifRevision(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (!m) throw new AppProxyError('AP_ERR_VALIDATION', 'If-Match must be the endpoint revision, e.g. "7".');
  return Number(m[1]);
}

export const endpointRoutes: RoutePlugin<EndpointRoutesOptions> = async (app, d) => {
  app.get(
    '/v1/endpoints',
    {
      schema: {
        summary: 'Inference endpoints (admins: all; users: their own).',
        tags,
        response: replies({ 200: EndpointListSchema }),
      },
    },
    async (req) => ({ items: await d.endpoints.list(principal(req)) }),
  );
  app.post(
    '/v1/endpoints',
    {
      schema: {
        summary: 'Create an inference endpoint: a stable URL whose routes (replicas) change in real time.',
        description:
          'Answers once the worker serves the URL. Routes are session services (bound to the session: its end removes them) or addresses (admins).',
        tags,
        body: CreateEndpointBody,
        response: replies({ 201: EndpointSchema }),
      },
    },
    async (req, reply) => {
      const e = await d.endpoints.create(principal(req), req.body);
      void reply.code(201).header('etag', `"${e.revision}"`);
      return e;
    },
  );
  const byId = idRoutes(app, tags);
  byId('GET', '/v1/endpoints/:id', { summary: 'One endpoint, with its routes.' }, EndpointSchema, (p, id) =>
    d.endpoints.get(p, id),
  );
  byId(
    'DELETE',
    '/v1/endpoints/:id',
    { summary: 'Delete an endpoint: its URL stops answering.' },
    EndpointSchema,
    (p, id) => d.endpoints.delete(p, id),
  );
  byId(
    'GET',
    '/v1/endpoints/:id/usage',
    {
      summary:
        'Token usage of the endpoint, total and per key, as the engines reported it (cumulative; requests whose stream was cut count estimated tokens and are flagged).',
    },
    UsageSchema,
    (p, id) => d.endpoints.usage(p, id),
  );
  byId(
    'GET',
    '/v1/endpoints/:id/events',
    { summary: 'What happened to the endpoint and its circuit, oldest first.' },
    LifecycleEventListSchema,
    async (p, id) => {
      await d.endpoints.get(p, id);
      return { items: await d.events.ofEndpoint(id) };
    },
  );
  app.patch(
    '/v1/endpoints/:id',
    {
      schema: {
        summary: 'Change an endpoint: name, settings (applied in place; no request in flight is cut).',
        tags,
        params: IdParams,
        body: PatchEndpointBody,
        response: replies({ 200: EndpointSchema }),
      },
    },
    async (req) => d.endpoints.update(principal(req), req.params.id, req.body),
  );
  app.put(
    '/v1/endpoints/:id/routes',
    {
      schema: {
        summary: 'Replace the routes of an endpoint with the full desired set (idempotent).',
        description:
          'With `If-Match: "<revision>"` nothing changes unless the endpoint is still at that revision (412 AP_ERR_REVISION_MISMATCH otherwise).',
        tags,
        params: IdParams,
        body: PutRoutesBody,
        response: replies({ 200: EndpointSchema }),
      },
    },
    async (req) => {
      const rev = ifRevision(req.headers['if-match']);
      return d.endpoints.changeRoutes(principal(req), req.params.id, {
        replace: req.body.routes,
        ...(rev !== undefined ? { ifRevision: rev } : {}),
      });
    },
  );
  app.post(
    '/v1/endpoints/:id/routes',
    {
      schema: {
        summary: 'Add a route to an endpoint.',
        tags,
        params: IdParams,
        body: RouteBody,
        response: replies({ 200: EndpointSchema }),
      },
    },
    async (req) => d.endpoints.changeRoutes(principal(req), req.params.id, { add: [req.body] }),
  );
  app.post(
    '/v1/endpoints/:id/tokens',
    {
      schema: {
        summary:
          'Create a bearer key of the endpoint (optionally limited to models and a lifetime); shown once.',
        tags,
        params: IdParams,
        body: CreateKeyBody,
        response: replies({ 201: NewKeySchema }),
      },
    },
    async (req, reply) => {
      const { expiresIn, ...rest } = req.body;
      const expiresInMs = durationMs(expiresIn, '/expiresIn');
      void reply.code(201);
      return d.endpoints.createKey(principal(req), req.params.id, {
        ...rest,
        ...(expiresInMs ? { expiresInMs } : {}),
      });
    },
  );
  byId(
    'GET',
    '/v1/endpoints/:id/tokens',
    { summary: "The endpoint's keys (never their secrets)." },
    KeyListSchema,
    async (p, id) => ({
      items: await d.endpoints.listKeys(p, id),
    }),
  );
  app.delete(
    '/v1/endpoints/:id/tokens/:key',
    {
      schema: {
        summary: 'Revoke an endpoint key: every worker refuses it as soon as the change reaches it.',
        tags,
        params: KeyParams,
        response: replies({ 200: KeySchema }),
      },
    },
    async (req) => d.endpoints.revokeKey(principal(req), req.params.id, req.params.key),
  );
  app.delete(
    '/v1/endpoints/:id/routes/:route',
    {
      schema: {
        summary: 'Remove a route from an endpoint: it gets no new request; requests in flight finish.',
        tags,
        params: RouteParams,
        response: replies({ 200: EndpointSchema }),
      },
    },
    async (req) => d.endpoints.changeRoutes(principal(req), req.params.id, { remove: [req.params.route] }),
  );
};
