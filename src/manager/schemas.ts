/**
 * TypeBox schemas of every request and response of the manager API: the single source for request
 * validation and for `/openapi.json`. Every object is closed (`additionalProperties: false`).
 * The compile-time checks at the end keep the response schemas equal to the wire types of
 * `contracts/records.ts`.
 */
import { type Static, type TSchema, Type } from 'typebox';
import type { TemplateInfo } from '../contracts/agent.ts';
import type {
  Circuit,
  CircuitActivity,
  DoctorReport,
  Session,
  StartServiceResult,
  WorkerInfo,
} from '../contracts/records.ts';

const closed = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });
const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' });

export const SessionStateSchema = Type.Union([
  Type.Literal('PENDING'),
  Type.Literal('RUNNING'),
  Type.Literal('TERMINATING'),
  Type.Literal('TERMINATED'),
  Type.Literal('ERROR'),
]);
export const CircuitStateSchema = Type.Union([
  Type.Literal('PENDING'),
  Type.Literal('ACTIVE'),
  Type.Literal('UNAVAILABLE'),
  Type.Literal('CLOSING'),
  Type.Literal('CLOSED'),
]);
export const ProtocolSchema = Type.Union([Type.Literal('http'), Type.Literal('tcp')]);
export const FrontendModeSchema = Type.Union([Type.Literal('port'), Type.Literal('wildcard')]);
const Backend = Type.Object(
  { host: Type.String(), port: Type.Integer({ minimum: 1, maximum: 65535 }) },
  closed,
);

export const ErrorEnvelopeSchema = Type.Object(
  {
    code: Type.String({ description: 'Stable error code (AP_ERR_*); clients match on it.' }),
    message: Type.String(),
    detail: Type.Optional(Type.Unknown()),
    requestId: Type.String(),
  },
  closed,
);

// ---------------------------------------------------------------- sessions

export const ServiceInfoSchema = Type.Object(
  { name: Type.String(), protocol: ProtocolSchema, backend: Nullable(Backend) },
  closed,
);

export const SessionSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    template: Type.String(),
    ownerId: Type.String(),
    state: SessionStateSchema,
    stateReason: Nullable(Type.String()),
    services: Type.Array(ServiceInfoSchema),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  closed,
);

/** A service of an external session: where it already listens (a pod, a container, a VM). */
export const ExternalServiceSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z][a-z0-9-]*$' }),
    protocol: Type.Union([Type.Literal('http'), Type.Literal('tcp')]),
    host: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\\[[0-9A-Fa-f:.]+\\])$',
      description: 'Host name or IP address of the backend (IPv6 in brackets).',
    }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
  },
  closed,
);

export const CreateSessionBody = Type.Object(
  {
    template: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: 'A template of the agent. Give this or `external`.',
      }),
    ),
    external: Type.Optional(
      Type.Object(
        { services: Type.Array(ExternalServiceSchema, { minItems: 1, maxItems: 32 }) },
        {
          ...closed,
          description:
            'Register a session that runs elsewhere, by the addresses of its services (admins only). It is RUNNING at once; terminating it closes its circuits and stops nothing else.',
        },
      ),
    ),
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 63,
        pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
        description: 'Default: <template>-<4 hex> (external: external-<4 hex>).',
      }),
    ),
  },
  closed,
);

export const IdParams = Type.Object({ id: Id }, closed);
export const SessionListQuery = Type.Object({ state: Type.Optional(SessionStateSchema) }, closed);
export const DeleteSessionQuery = Type.Object(
  { wait: Type.Optional(Type.Boolean({ description: 'Answer once the session is final (at most ~30 s).' })) },
  closed,
);
export const SessionListSchema = Type.Object({ items: Type.Array(SessionSchema) }, closed);

export const StartServiceBody = Type.Object(
  {
    service: Type.String({ minLength: 1, maxLength: 128 }),
    frontend: Type.Optional(FrontendModeSchema),
    next: Type.Optional(
      Type.String({
        maxLength: 2048,
        // Same-origin relative path only: one leading slash, no scheme, no `//` or `/\` host.
        pattern: '^/(?![/\\\\])[^\\s]*$',
        description: 'Path on the app to land on after setup (default /).',
      }),
    ),
  },
  closed,
);

export const StartServiceResultSchema = Type.Object(
  {
    circuitId: Type.String(),
    appUrl: Type.String(),
    setupUrl: Type.String(),
    expiresAt: DateTime,
    reused: Type.Boolean(),
  },
  closed,
);

// ---------------------------------------------------------------- circuits

export const CircuitSchema = Type.Object(
  {
    id: Type.String(),
    sessionId: Type.String(),
    service: Type.String(),
    protocol: ProtocolSchema,
    ownerId: Type.String(),
    worker: Type.String(),
    frontendMode: FrontendModeSchema,
    slot: Type.Union([
      Type.Object({ port: Type.Integer() }, closed),
      Type.Object({ subdomain: Type.String() }, closed),
    ]),
    appUrl: Type.String(),
    backends: Type.Array(Backend),
    state: CircuitStateSchema,
    stateReason: Nullable(Type.String()),
    createdAt: DateTime,
    closedAt: Nullable(DateTime),
  },
  closed,
);
export const CircuitListQuery = Type.Object(
  { sessionId: Type.Optional(Id), state: Type.Optional(CircuitStateSchema) },
  closed,
);
export const CircuitListSchema = Type.Object({ items: Type.Array(CircuitSchema) }, closed);

export const CircuitActivitySchema = Type.Object(
  {
    circuitId: Type.String(),
    bytesIn: Type.Number(),
    bytesOut: Type.Number(),
    requests: Type.Number(),
    openConnections: Type.Number(),
    lastClientAt: Nullable(DateTime),
    lastBackendAt: Nullable(DateTime),
    lastActivityAt: Nullable(DateTime),
    idleSince: Nullable(DateTime),
    policy: Type.Null({ description: 'Idle policies are not implemented yet.' }),
  },
  closed,
);

// ---------------------------------------------------------------- workers, templates, health

export const WorkerInfoSchema = Type.Object(
  {
    authority: Type.String(),
    frontendMode: FrontendModeSchema,
    protocols: Type.Array(ProtocolSchema),
    portRange: Nullable(Type.Tuple([Type.Integer(), Type.Integer()])),
    wildcardDomain: Nullable(Type.String()),
    publicScheme: Type.Union([Type.Literal('http'), Type.Literal('https')]),
    publicHost: Type.String(),
    publicPort: Nullable(Type.Integer()),
    healthy: Type.Boolean(),
    draining: Type.Optional(
      Type.Boolean({ description: 'No new circuits go to a draining worker; its circuits keep running.' }),
    ),
    circuits: Type.Integer(),
    lastSeenAt: Nullable(DateTime),
  },
  closed,
);
export const WorkerListSchema = Type.Object({ items: Type.Array(WorkerInfoSchema) }, closed);
export const WorkerParams = Type.Object(
  { authority: Type.String({ minLength: 1, maxLength: 253, pattern: '^[^/\\s]+$' }) },
  closed,
);

export const InvariantViolationSchema = Type.Object(
  {
    kind: Type.String({ description: 'Stable kind, e.g. route-missing, route-orphan, worker-gone.' }),
    subject: Type.String({ description: 'What it is about: circuit/<id>, route/<worker>/<id>, …' }),
    detail: Type.String(),
  },
  closed,
);
export const DoctorReportSchema = Type.Object(
  { violations: Type.Array(InvariantViolationSchema), checkedAt: DateTime },
  closed,
);

export const TemplateInfoSchema = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    available: Type.Boolean(),
    unavailableReason: Nullable(Type.String()),
    services: Type.Array(Type.Object({ name: Type.String(), protocol: ProtocolSchema }, closed)),
  },
  closed,
);
export const TemplateListSchema = Type.Object({ items: Type.Array(TemplateInfoSchema) }, closed);

export const HealthSchema = Type.Object({ status: Type.Literal('ok') }, closed);
export const ReadySchema = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
    stores: Type.Object({ sql: Type.Boolean(), kv: Type.Boolean() }, closed),
    leader: Type.Object(
      {
        id: Nullable(Type.String({ description: 'The leader manager as this one knows it.' })),
        self: Type.Boolean({ description: 'This manager runs the background loops.' }),
      },
      closed,
    ),
  },
  closed,
);

/** Error responses documented on every API route. */
export const errorResponses = {
  400: ErrorEnvelopeSchema,
  401: ErrorEnvelopeSchema,
  403: ErrorEnvelopeSchema,
  404: ErrorEnvelopeSchema,
  409: ErrorEnvelopeSchema,
  500: ErrorEnvelopeSchema,
  502: ErrorEnvelopeSchema,
  503: ErrorEnvelopeSchema,
  504: ErrorEnvelopeSchema,
} as const;

// ---------------------------------------------------------------- drift checks (compile time)

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function assertSame<_T extends true>(): void {}
assertSame<Same<Static<typeof SessionSchema>, Session>>();
assertSame<Same<Static<typeof CircuitSchema>, Circuit>>();
assertSame<Same<Static<typeof StartServiceResultSchema>, StartServiceResult>>();
assertSame<Same<Static<typeof WorkerInfoSchema>, WorkerInfo>>();
assertSame<Same<Static<typeof TemplateInfoSchema>, TemplateInfo>>();
assertSame<Same<Static<typeof CircuitActivitySchema>, CircuitActivity>>();
assertSame<Same<Static<typeof DoctorReportSchema>, DoctorReport>>();
