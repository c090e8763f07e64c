/**
 * Configuration of the embedded all-in-one process (`appproxy up`). One schema, with defaults
 * and no unknown keys; merged defaults < file < environment < flags, validated once, frozen and
 * passed down. `docs/configuration.md` is generated from this schema (a test fails when stale).
 */
import { type Static, Type } from 'typebox';

const Duration = (def: string, description: string) =>
  Type.Union([Type.String(), Type.Integer({ minimum: 0 })], {
    default: def,
    description: `${description} (e.g. "30s", "500ms", or milliseconds)`,
  });

const Port = (description: string, def?: number) =>
  Type.Integer({ minimum: 0, maximum: 65535, description, ...(def === undefined ? {} : { default: def }) });

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
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'Log level (env APPPROXY_LOG_LEVEL).' },
    ),
    manager: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'Address the API binds to.' }),
        port: Port('API port (env APPPROXY_PORT, flag --port).', 7070),
        setupTokenTtl: Duration('30s', 'Lifetime of setup tokens; capped at 60 s'),
        routeReadyTimeout: Duration('10s', 'How long start-service waits for the worker to serve the route'),
        circuitCloseTimeout: Duration('5s', 'How long closing a circuit waits for its worker to confirm'),
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
        cookieTtl: Duration('12h', 'Lifetime of app cookies'),
        leaseTtl: Duration('10s', 'Registration lease TTL'),
        activityFlushInterval: Duration('1s', 'How often activity counters are flushed'),
        upstreamHeadersTimeout: Duration('300s', 'How long an app may take to send response headers'),
        trustedProxies: Type.Array(Type.String(), {
          default: [],
          description: 'Peers (IPs or CIDRs) whose X-Forwarded-*/Forwarded headers are kept and extended.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    agent: Type.Object(
      {
        terminateGrace: Duration('5s', 'Time between SIGTERM and SIGKILL when a session stops'),
        templates: Type.Array(Type.Unknown(), {
          default: [],
          description: 'Admin-defined templates, added to the built-in ones (see docs/templates.md).',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type EmbeddedConfig = Static<typeof EmbeddedConfigSchema>;
