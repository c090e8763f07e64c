/**
 * Configuration of the embedded all-in-one process (`appproxy up`). One schema, with defaults
 * and no unknown keys; merged defaults < file < environment < flags, validated once, frozen and
 * passed down. `docs/configuration.md` is generated from this schema (a test fails when stale).
 */
import { type Static, Type } from 'typebox';
import { CountersStoreSchema, KvStoreSchema, StoresConfigSchema } from './stores.ts';

const Duration = (def: string, description: string) =>
  Type.Union([Type.String(), Type.Integer({ minimum: 0 })], {
    default: def,
    description: `${description} (e.g. "30s", "500ms", or milliseconds)`,
  });

const Port = (description: string, def?: number) =>
  Type.Integer({ minimum: 0, maximum: 65535, description, ...(def === undefined ? {} : { default: def }) });

const LogLevel = () =>
  Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'Log level (env APPPROXY_LOG_LEVEL).' },
  );

const managerTimings = () => ({
  setupTokenTtl: Duration('30s', 'Lifetime of setup tokens; capped at 60 s'),
  routeReadyTimeout: Duration('10s', 'How long start-service waits for the worker to serve the route'),
  circuitCloseTimeout: Duration('5s', 'How long closing a circuit waits for its worker to confirm'),
});

const NullableDuration = (description: string) =>
  Type.Union([Type.String(), Type.Integer({ minimum: 0 }), Type.Null()], {
    default: null,
    description: `${description} (e.g. "30m", or milliseconds; null = never)`,
  });

/**
 * What API callers may ask of TCP circuits and idle policies. Shared by `appproxy up` (under
 * `manager`) and `appproxy manager` (top level), next to the manager's timings.
 */
const managerPolicies = () => ({
  legacy: Type.Object(
    {
      apiSecretFile: Type.Union([Type.String(), Type.Null()], {
        default: null,
        description:
          "File holding the shared secret Backend.AI's manager sends as X-BackendAI-Token (its resource group's wsproxy_api_token; env APPPROXY_LEGACY_API_SECRET wins). null: the secret-guarded calls answer 503 AP_ERR_LEGACY_NOT_CONFIGURED.",
      }),
      allowUnauthenticatedConf: Type.Boolean({
        default: false,
        description:
          "Accept POST /v2/conf without the secret (Backend.AI's manager sends none there). Only behind a network rule that lets nothing but that manager reach it; see docs/migration.md.",
      }),
      confTokenTtl: Duration('5m', 'Lifetime of a /v2/conf token'),
      sessionIdle: Type.Union([Type.String(), Type.Integer({ minimum: 0 }), Type.Null()], {
        default: '1h',
        description:
          'Idle reclaim of sessions registered through /v2/conf, as Backend.AI reclaims unused circuits (its manager never says when they end) (e.g. "1h", or milliseconds; null = never)',
      }),
    },
    {
      additionalProperties: false,
      default: {},
      description:
        'The Backend.AI-compatible coordinator surface, served while the legacyCoordinatorApi flag is on (docs/migration.md).',
    },
  ),
  endpoints: Type.Object(
    {
      allowPublic: Type.Boolean({
        default: false,
        description:
          'Whether an inference endpoint may be public (access "public": no key). Refused with AP_ERR_ACCESS_NOT_PERMITTED unless true.',
      }),
    },
    { additionalProperties: false, default: {}, description: 'Inference endpoints.' },
  ),
  tcp: Type.Object(
    {
      defaultAccess: Type.Union([Type.Literal('tunnel'), Type.Literal('public')], {
        default: 'tunnel',
        description:
          'Access mode of a TCP circuit when start-service names none (and lists no allowFrom addresses, which mean "allow-list"): "tunnel" (only authenticated WebSocket tunnels, `appproxy tunnel`) or "public" (needs allowPublic).',
      }),
      allowPublic: Type.Boolean({
        default: false,
        description:
          'Whether a TCP circuit may be opened to anyone (access mode "public"). Refused with AP_ERR_ACCESS_NOT_PERMITTED unless true.',
      }),
      maxConnectionsPerCircuit: Type.Integer({
        minimum: 1,
        default: 256,
        description:
          'Connections one TCP circuit carries at once; more are refused (AP_ERR_CONNECTION_LIMIT).',
      }),
    },
    { additionalProperties: false, default: {}, description: 'TCP circuits.' },
  ),
  idlePolicy: Type.Object(
    {
      defaultConnectionIdleTimeout: Duration(
        '30m',
        'A TCP, tunnel or WebSocket connection with no byte either way for this long is closed, unless the template, session or request says otherwise',
      ),
      defaultCircuitIdleTimeout: NullableDuration(
        'A circuit with no byte moved for this long is closed, unless the template, session or request says otherwise',
      ),
      defaultSessionIdleTimeout: NullableDuration(
        'A running session whose every live circuit moved no byte for this long is terminated, unless the template or session says otherwise',
      ),
      minTimeout: Duration('1s', 'Shortest idle timeout an API request may ask for'),
      maxTimeout: Duration('7d', 'Longest idle timeout an API request may ask for'),
      allowNever: Type.Boolean({
        default: true,
        description: 'Whether an API request may turn the circuit or session idle policy off (null = never).',
      }),
      checkInterval: Duration(
        '5s',
        'How often the leader evaluates idle policies (it also wakes when the earliest policy is due)',
      ),
    },
    {
      additionalProperties: false,
      default: {},
      description:
        'Idle timeouts: defaults and the limits API requests must stay within (AP_ERR_POLICY_OUT_OF_RANGE). Activity is bytes moved; open connections alone do not count.',
    },
  ),
});

/**
 * Sign-in with an OpenID Connect provider (`auth.oidc` of both `appproxy up` and `appproxy
 * manager`); see `manager/services/oidc.ts`.
 */
const managerOidc = () =>
  Type.Union(
    [
      Type.Null(),
      Type.Object(
        {
          issuer: Type.String({
            pattern: '^https?://',
            description:
              'Issuer identifier of the provider (discovery: `<issuer>/.well-known/openid-configuration`). http:// only on loopback addresses.',
          }),
          clientId: Type.String({
            minLength: 1,
            description: 'Client id AppProxy is registered under at the provider.',
          }),
          clientSecretFile: Type.Union([Type.String(), Type.Null()], {
            default: null,
            description:
              'File holding the client secret (env APPPROXY_OIDC_CLIENT_SECRET wins); with neither, AppProxy is a public client (PKCE only).',
          }),
          scopes: Type.Array(Type.String({ minLength: 1 }), {
            default: ['openid', 'profile', 'email'],
            description: 'Scopes asked for ("openid" is always added).',
          }),
          nameClaim: Type.String({
            default: 'preferred_username',
            description:
              'Claim a new user is named from (then the local part of `email`, then `sub`), lowercased and sanitized; a name another user has gets a random suffix (never linked to that user).',
          }),
          groupsClaim: Type.String({ default: 'groups', description: "Claim listing the user's groups." }),
          adminGroups: Type.Array(Type.String(), {
            default: [],
            description:
              'Members of one of these groups get the admin role, others the user role; set at every sign-in.',
          }),
          label: Type.String({
            default: 'Sign in with single sign-on',
            description: "Text of the sign-in page's link to the provider.",
          }),
          autoCreateUsers: Type.Boolean({
            default: true,
            description:
              'Create a user at the first sign-in of an identity; false: only identities linked to a user already.',
          }),
        },
        { additionalProperties: false },
      ),
    ],
    {
      default: null,
      description:
        'Sign-in with an OpenID Connect provider (authorization code flow with PKCE); null = off. Register the redirect URI `<publicUrl>/login/oidc/callback` and the back-channel logout URI `<publicUrl>/v1/auth/oidc/backchannel-logout` (session required) at the provider.',
    },
  );

/** Sign-in, login sessions, cookies and logout (both `appproxy up` and `appproxy manager`). */
const managerAuth = () => ({
  auth: Type.Object(
    {
      publicUrl: Type.Union([Type.String({ pattern: '^https?://' }), Type.Null()], {
        default: null,
        description:
          'Where browsers reach the manager, e.g. "https://appproxy.example.com" (sign-in and logout pages, CLI approval links, the workers\' sign-in links). null = the address the API listens on.',
      }),
      loginSessionTtl: Duration(
        '12h',
        'Lifetime of a browser sign-in (app cookies minted under it end with it)',
      ),
      cliSessionTtl: Duration('30d', 'Lifetime of a CLI sign-in (`appproxy login`)'),
      appCookieTtl: Duration('12h', 'The longest an app cookie lives (never past its sign-in)'),
      secureCookies: Type.Union([Type.Boolean(), Type.Null()], {
        default: null,
        description: 'Secure, __Host- prefixed login cookies; null = when publicUrl is https.',
      }),
      loginAttempts: Type.Object(
        {
          perUser: Type.Integer({
            minimum: 1,
            default: 10,
            description: 'Failed sign-ins per user name within the window.',
          }),
          perAddress: Type.Integer({
            minimum: 1,
            default: 100,
            description: 'Sign-in attempts per client address within the window.',
          }),
          window: Duration('15m', 'Window of the sign-in limits'),
        },
        {
          additionalProperties: false,
          default: {},
          description: 'Password sign-in rate limits (AP_ERR_RATE_LIMITED).',
        },
      ),
      oidc: managerOidc(),
    },
    { additionalProperties: false, default: {}, description: 'Sign-in, login sessions and logout.' },
  ),
});

const workerTunings = () => ({
  cookieTtl: Duration('12h', 'Lifetime of app cookies'),
  leaseTtl: Duration('10s', 'Registration lease TTL'),
  activityFlushInterval: Duration('1s', 'How often activity counters are flushed'),
  upstreamHeadersTimeout: Duration('300s', 'How long an app may take to send response headers'),
  fastPath: Type.Boolean({
    default: true,
    description:
      'Serve proxied HTTP/1.1 on the fast path (a strict parser and pooled backend connections instead of node:http per request); what it does not serve still goes through node:http. false = node:http for everything.',
  }),
  trustedProxies: Type.Array(Type.String(), {
    default: [],
    description: 'Peers (IPs or CIDRs) whose X-Forwarded-*/Forwarded headers are kept and extended.',
  }),
  revocationStaleAfter: Duration(
    '30s',
    'A worker that could not confirm its revocation set for this long refuses app cookies issued before it last could (fail closed) and says so in /readyz',
  ),
  revocationConfirmInterval: Duration(
    '2s',
    'How often a worker confirms its revocation set against the KV store',
  ),
});

const agentSettings = () => ({
  terminateGrace: Duration('5s', 'Time between SIGTERM and SIGKILL when a session stops'),
  templates: Type.Array(Type.Unknown(), {
    default: [],
    description: 'Admin-defined templates, added to the built-in ones (see docs/templates.md).',
  }),
});

export const PortWorkerSchema = Type.Object(
  {
    authority: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Stable worker name.' }),
    frontendMode: Type.Literal('port'),
    portRange: Type.Tuple([Port('First port.'), Port('Last port (inclusive).')], {
      description: 'Ports the worker may open, one per circuit.',
    }),
    bindHost: Type.String({ default: '127.0.0.1', description: 'Address the listeners bind to.' }),
    publicHost: Type.String({
      default: '127.0.0.1',
      description: 'Host name browsers use to reach the worker.',
    }),
    publicScheme: Type.Union([Type.Literal('http'), Type.Literal('https')], {
      default: 'http',
      description: 'Scheme browsers use (https when TLS terminates in front of the worker).',
    }),
  },
  { additionalProperties: false },
);

export const WildcardWorkerSchema = Type.Object(
  {
    authority: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Stable worker name.' }),
    frontendMode: Type.Literal('wildcard'),
    wildcardDomain: Type.String({
      default: 'apps.localhost',
      description:
        'Apps live at <6 hex>.<wildcardDomain>; *.localhost resolves to loopback in browsers and curl.',
    }),
    port: Port('Listening port of the wildcard frontend (0 = any free port).', 7080),
    bindHost: Type.String({ default: '127.0.0.1', description: 'Address the listener binds to.' }),
    publicPort: Type.Union([Port('Port browsers use.'), Type.Null()], {
      default: null,
      description: 'Port browsers use (null = the listening port).',
    }),
    publicScheme: Type.Union([Type.Literal('http'), Type.Literal('https')], {
      default: 'http',
      description: 'Scheme browsers use (https when TLS terminates in front of the worker).',
    }),
  },
  { additionalProperties: false },
);

export const EmbeddedConfigSchema = Type.Object(
  {
    dataDir: Type.String({
      default: '.appproxy',
      description:
        'Folder for the embedded database, keys and session files (env APPPROXY_DATA_DIR, flag --data-dir).',
    }),
    logLevel: LogLevel(),
    manager: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'Address the API binds to.' }),
        port: Port('API port (env APPPROXY_PORT, flag --port).', 7070),
        ...managerTimings(),
        ...managerPolicies(),
        ...managerAuth(),
      },
      { additionalProperties: false, default: {} },
    ),
    workers: Type.Array(Type.Union([PortWorkerSchema, WildcardWorkerSchema]), {
      default: [
        { authority: 'port-1', frontendMode: 'port', portRange: [7100, 7199] },
        { authority: 'wildcard-1', frontendMode: 'wildcard' },
      ],
      description: 'Workers run inside the process.',
    }),
    worker: Type.Object(
      {
        ...workerTunings(),
      },
      { additionalProperties: false, default: {} },
    ),
    agent: Type.Object(
      {
        ...agentSettings(),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type EmbeddedConfig = Static<typeof EmbeddedConfigSchema>;

// ------------------------------------------------------------------ split processes (shared stores)

const SecretFile = (description: string) =>
  Type.Union([Type.String(), Type.Null()], { default: null, description });

const AgentName = (description: string, def?: string) =>
  Type.String({
    pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
    description,
    ...(def === undefined ? {} : { default: def }),
  });

/** `appproxy manager`: the API and the control loops, on PostgreSQL, etcd and Redis. */
export const ManagerConfigSchema = Type.Object(
  {
    logLevel: LogLevel(),
    listen: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'Address the API binds to.' }),
        port: Port('API port (env APPPROXY_PORT, flag --port).', 7070),
      },
      { additionalProperties: false, default: {} },
    ),
    stores: StoresConfigSchema,
    adminTokenFile: SecretFile(
      'File holding the admin API token (env APPPROXY_ADMIN_TOKEN wins). Every manager of a cluster uses the same token.',
    ),
    setupTokenKeyFile: Type.String({
      default: 'setup-token-key.jwk',
      description:
        'Ed25519 private JWK that signs setup tokens (mode 0600). Every manager of a cluster uses the same file; `appproxy manager --init` creates it when missing.',
    }),
    agent: Type.Union(
      [
        Type.Object(
          {
            kind: Type.Literal('remote'),
            name: AgentName('Name of the `appproxy agent` process that runs sessions.', 'agent-1'),
            terminateTimeout: Duration('30s', 'How long stopping a session waits for the agent to confirm'),
          },
          { additionalProperties: false },
        ),
        Type.Object(
          {
            kind: Type.Literal('local'),
            name: AgentName('Agent name stored with sessions.', 'local'),
            dataDir: Type.String({ default: '.appproxy-manager', description: 'Folder for session files.' }),
            ...agentSettings(),
          },
          { additionalProperties: false },
        ),
      ],
      {
        default: { kind: 'remote', name: 'agent-1' },
        description:
          'Who runs sessions: a remote `appproxy agent` (over etcd; every manager names the same one) or a local agent inside this manager (single-manager setups only).',
      },
    ),
    ...managerTimings(),
    ...managerPolicies(),
    ...managerAuth(),
    leaseTtl: Duration('10s', 'Leader-election lease TTL (background loops run on one leader)'),
  },
  { additionalProperties: false },
);

const workerProcessCommon = () => ({
  logLevel: LogLevel(),
  stores: Type.Object(
    { kv: KvStoreSchema, counters: CountersStoreSchema },
    {
      additionalProperties: false,
      description: 'etcd (routes, registration) and Redis (activity, single-use marks).',
    },
  ),
  cookieSecretFile: SecretFile(
    'File holding the app-cookie secret, ≥ 32 bytes (env APPPROXY_COOKIE_SECRET wins). Workers of one authority must share it.',
  ),
  admin: Type.Object(
    {
      host: Type.String({ default: '127.0.0.1', description: 'Address of /healthz, /readyz and /metrics.' }),
      port: Port('Port of /healthz, /readyz and /metrics (0 = any free port).', 9100),
    },
    { additionalProperties: false, default: {} },
  ),
  ...workerTunings(),
});

/** `appproxy worker`: one data-plane process (a port-mode or a wildcard-mode worker). */
export const WorkerConfigSchema = Type.Union(
  [
    Type.Object(
      { ...PortWorkerSchema.properties, ...workerProcessCommon() },
      { additionalProperties: false },
    ),
    Type.Object(
      { ...WildcardWorkerSchema.properties, ...workerProcessCommon() },
      { additionalProperties: false },
    ),
  ],
  { description: 'One worker: `frontendMode` "port" or "wildcard", with the fields of that mode.' },
);

/** `appproxy agent`: runs sessions from templates, driven by managers through etcd. */
export const AgentConfigSchema = Type.Object(
  {
    logLevel: LogLevel(),
    name: AgentName('Agent name; managers refer to it (`agent.name` in their config).', 'agent-1'),
    stores: Type.Object({ kv: KvStoreSchema }, { additionalProperties: false, description: 'etcd.' }),
    dataDir: Type.String({
      default: '.appproxy-agent',
      description: 'Folder for session files and the list of launched sessions (env APPPROXY_DATA_DIR).',
    }),
    leaseTtl: Duration('10s', 'Registration lease TTL'),
    ...agentSettings(),
  },
  { additionalProperties: false },
);

export type ManagerConfig = Static<typeof ManagerConfigSchema>;
export type WorkerConfig = Static<typeof WorkerConfigSchema>;
export type AgentConfig = Static<typeof AgentConfigSchema>;
