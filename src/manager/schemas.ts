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
  LifecycleEvent,
  Session,
  StartServiceResult,
  TunnelToken,
  WorkerInfo,
} from '../contracts/records.ts';
import type { ReadinessReport } from './services/readiness.ts';

const closed = { additionalProperties: false } as const;
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });
const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' });
/**
 * A character of a name, path or address a request may carry: no whitespace, no control
 * character (C0, DEL, C1: PostgreSQL refuses NUL in text, and none belongs in a name) and no lone
 * surrogate (it has no UTF-8 form). Patterns are checked as Unicode regular expressions.
 */
const NAME_CHAR = '[^\\s\\p{Cc}\\p{Cs}]';
/** A request-supplied name (template, service): printable, no spaces. */
const Name = (maxLength: number, description?: string) =>
  Type.String({
    minLength: 1,
    maxLength,
    pattern: `^${NAME_CHAR}+$`,
    ...(description ? { description } : {}),
  });

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
export const TcpAccessModeSchema = Type.Union([
  Type.Literal('tunnel'),
  Type.Literal('allow-list'),
  Type.Literal('public'),
]);
const IdleSourceSchema = Type.Union([
  Type.Literal('template'),
  Type.Literal('session'),
  Type.Literal('request'),
  Type.Literal('config'),
]);
/** A requested idle timeout (ms); the administrator's limits are checked by the service (AP_ERR_POLICY_OUT_OF_RANGE). */
const TimeoutMs = (description: string) => Type.Integer({ minimum: 0, description });
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
    idleTimeoutMs: Nullable(
      Type.Integer({
        description:
          'Session idle policy: terminated once every live circuit moved no byte for this long (null = never).',
      }),
    ),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  closed,
);

export const SessionIdleBody = Type.Object(
  {
    sessionIdleTimeoutMs: Type.Optional(
      Nullable(TimeoutMs('Terminate the session once every live circuit was idle this long (null = never).')),
    ),
    circuitIdleTimeoutMs: Type.Optional(
      Nullable(
        TimeoutMs(
          "Default for the session's circuits: closed after this long without a byte (null = never).",
        ),
      ),
    ),
    connectionIdleTimeoutMs: Type.Optional(
      TimeoutMs(
        "Default for the session's circuits: a TCP/tunnel/WebSocket connection idle this long is closed.",
      ),
    ),
  },
  {
    ...closed,
    description:
      "Idle settings of the session (they win over the template's and the configuration's; within the administrator's limits).",
  },
);
export const CircuitIdleBody = Type.Object(
  {
    circuitIdleTimeoutMs: Type.Optional(
      Nullable(TimeoutMs('Close the circuit after this long without a byte (null = never).')),
    ),
    connectionIdleTimeoutMs: Type.Optional(
      TimeoutMs('A TCP/tunnel/WebSocket connection with no byte either way for this long is closed.'),
    ),
  },
  {
    ...closed,
    description:
      "Idle settings of a new circuit (they win over the session's; within the administrator's limits). A re-used circuit keeps its own.",
  },
);
// Entries are trimmed by the service, so spaces around one are fine; control characters are not.
const AllowFrom = Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\p{Cc}\\p{Cs}]+$' }), {
  maxItems: 256,
  description: 'Client IPv4/IPv6 addresses or CIDRs admitted in allow-list mode (e.g. "10.0.0.0/8").',
});
export const AccessBody = Type.Object(
  { mode: Type.Optional(TcpAccessModeSchema), allowFrom: Type.Optional(AllowFrom) },
  {
    ...closed,
    description:
      'TCP services only. "tunnel" (default): only authenticated tunnels (`appproxy tunnel`); "allow-list": raw TCP from the listed addresses; "public": raw TCP for anyone, when the configuration permits it.',
  },
);
export const PatchAccessBody = Type.Object(
  { mode: Type.Optional(TcpAccessModeSchema), allowFrom: Type.Optional(AllowFrom) },
  { ...closed, minProperties: 1 },
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
    template: Type.Optional(Name(128, 'A template of the agent. Give this or `external`.')),
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
    idle: Type.Optional(SessionIdleBody),
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
    service: Name(128),
    frontend: Type.Optional(FrontendModeSchema),
    next: Type.Optional(
      Type.String({
        maxLength: 2048,
        // Same-origin relative path only: one leading slash, no scheme, no `//` or `/\` host.
        pattern: `^/(?![/\\\\])${NAME_CHAR}*$`,
        description: 'Path on the app to land on after setup (default /).',
      }),
    ),
    access: Type.Optional(AccessBody),
    idle: Type.Optional(CircuitIdleBody),
  },
  closed,
);

export const StartServiceResultSchema = Type.Object(
  {
    circuitId: Type.String(),
    appUrl: Type.String({
      description:
        "http: the app's origin. tcp: tcp://host:port (allow-list, public), or the circuit's origin that carries tunnels (tunnel).",
    }),
    setupUrl: Nullable(Type.String({ description: 'http circuits only (null for tcp).' })),
    expiresAt: Nullable(DateTime),
    reused: Type.Boolean(),
  },
  closed,
);

// ---------------------------------------------------------------- circuits

export const CircuitSchema = Type.Object(
  {
    id: Type.String(),
    sessionId: Nullable(
      Type.String({ description: 'The session it belongs to; null for an endpoint circuit.' }),
    ),
    endpointId: Nullable(
      Type.String({ description: 'The inference endpoint it belongs to; null for a session circuit.' }),
    ),
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
    access: Nullable(
      Type.Object(
        { mode: TcpAccessModeSchema, allowFrom: Type.Array(Type.String()) },
        { ...closed, description: 'TCP circuits: how the port is reached (null for http).' },
      ),
    ),
    idle: Type.Object(
      {
        connectionIdleTimeoutMs: Type.Integer(),
        circuitIdleTimeoutMs: Nullable(Type.Integer({ description: 'null = never' })),
      },
      closed,
    ),
    flow: Type.Union([Type.Literal('integrated'), Type.Literal('legacy')], {
      description:
        "integrated: a per-circuit app cookie bound to the sign-in that asked for it (logout revokes it); legacy: Backend.AI's per-user appproxy_permit cookie, set through /setup?token=. Fixed at creation by the integratedFlow flag.",
    }),
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

export const IdlePolicyExplanationSchema = Type.Object(
  {
    policy: Type.Union([Type.Literal('circuit-idle'), Type.Literal('session-idle')]),
    timeoutMs: Type.Integer(),
    source: IdleSourceSchema,
    actsAt: Nullable(DateTime),
    explanation: Type.String(),
  },
  closed,
);

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
    policy: Nullable(IdlePolicyExplanationSchema),
    policies: Type.Array(IdlePolicyExplanationSchema),
  },
  closed,
);

export const LifecycleEventSchema = Type.Object(
  {
    id: Type.Integer(),
    at: DateTime,
    sessionId: Nullable(Type.String()),
    endpointId: Nullable(Type.String()),
    circuitId: Nullable(Type.String()),
    kind: Type.String({
      description:
        'session-created, session-running, session-terminated, session-error, session-idle-terminated, circuit-opened, circuit-access-changed, circuit-closed, circuit-idle-closed.',
    }),
    detail: Type.String(),
  },
  closed,
);
export const LifecycleEventListSchema = Type.Object(
  { items: Type.Array(LifecycleEventSchema, { description: 'Oldest first (the newest 1000).' }) },
  closed,
);

export const TunnelTokenSchema = Type.Object(
  {
    token: Type.String({ description: 'Single use; send it as `Authorization: Bearer <token>`.' }),
    expiresAt: DateTime,
    url: Type.String({ description: 'ws(s)://host:port/_appproxy/tunnel (subprotocol appproxy-tunnel.v1).' }),
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
  { authority: Type.String({ minLength: 1, maxLength: 253, pattern: `^(?:(?!/)${NAME_CHAR})+$` }) },
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
    idle: Type.Optional(
      Type.Object(
        {
          connectionIdleTimeoutMs: Type.Optional(Type.Integer()),
          circuitIdleTimeoutMs: Type.Optional(Nullable(Type.Integer())),
          sessionIdleTimeoutMs: Type.Optional(Nullable(Type.Integer())),
        },
        {
          ...closed,
          description: "The template's idle defaults (ms; null = never; absent = the configuration's).",
        },
      ),
    ),
  },
  closed,
);
export const TemplateListSchema = Type.Object({ items: Type.Array(TemplateInfoSchema) }, closed);

export const HealthSchema = Type.Object({ status: Type.Literal('ok') }, closed);
export const ReadySchema = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('unavailable')], {
      description:
        'unavailable (503): SQL or KV does not answer. degraded (200): only the counters store does not (activity, idle policies and setup links suffer; the rest works).',
    }),
    stores: Type.Object({ sql: Type.Boolean(), kv: Type.Boolean(), counters: Type.Boolean() }, closed),
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
assertSame<Same<Static<typeof LifecycleEventSchema>, LifecycleEvent>>();
assertSame<Same<Static<typeof TunnelTokenSchema>, TunnelToken>>();
assertSame<Same<Static<typeof ReadySchema>, ReadinessReport>>();
