/**
 * Connection settings of the shared stores, as the split processes (`appproxy manager`, `worker`,
 * `agent`) configure them. Secrets (passwords, TLS keys) come from files or the environment,
 * never from the config file's own text and never from etcd.
 */
import { type Static, Type } from 'typebox';

const File = (description: string) =>
  Type.Union([Type.String(), Type.Null()], { default: null, description });

const TlsFiles = Type.Union(
  [
    Type.Object(
      {
        caFile: File('PEM file of the CA that signed the server certificate (null = system CAs).'),
        certFile: File('PEM client certificate (mutual TLS).'),
        keyFile: File('PEM client key (mutual TLS); keep it 0600.'),
        rejectUnauthorized: Type.Boolean({ default: true, description: 'Verify the server certificate.' }),
      },
      { additionalProperties: false },
    ),
    Type.Null(),
  ],
  { default: null, description: 'TLS settings (null = plain TCP unless the URL asks for TLS).' },
);

export const SqlStoreSchema = Type.Object(
  {
    url: Type.String({
      description:
        'PostgreSQL URL without the password, e.g. postgres://appproxy@db:5432/appproxy (env APPPROXY_POSTGRES_URL).',
    }),
    passwordFile: File('File holding the password (env PGPASSWORD also works).'),
    poolSize: Type.Integer({ minimum: 1, default: 10, description: 'Connections per process.' }),
    tls: TlsFiles,
  },
  { additionalProperties: false },
);

export const KvStoreSchema = Type.Object(
  {
    endpoints: Type.Array(Type.String(), {
      minItems: 1,
      description:
        'etcd client URLs, every member of the cluster, e.g. ["https://etcd-1:2379","https://etcd-2:2379"] (env APPPROXY_ETCD_ENDPOINTS, comma-separated).',
    }),
    username: Type.Union([Type.String(), Type.Null()], { default: null, description: 'etcd RBAC user.' }),
    passwordFile: File('File holding the etcd password (env APPPROXY_ETCD_PASSWORD also works).'),
    tls: TlsFiles,
  },
  { additionalProperties: false },
);

export const CountersStoreSchema = Type.Object(
  {
    url: Type.String({
      description:
        'Redis URL without the password, e.g. redis://cache:6379/0 or rediss://… (env APPPROXY_REDIS_URL).',
    }),
    passwordFile: File('File holding the Redis password (env APPPROXY_REDIS_PASSWORD also works).'),
    tls: TlsFiles,
  },
  { additionalProperties: false },
);

export const StoresConfigSchema = Type.Object(
  { sql: SqlStoreSchema, kv: KvStoreSchema, counters: CountersStoreSchema },
  { additionalProperties: false, description: 'The shared stores: PostgreSQL, etcd and Redis.' },
);

export type StoresConfig = Static<typeof StoresConfigSchema>;
export type SqlStoreConfig = Static<typeof SqlStoreSchema>;
export type KvStoreConfig = Static<typeof KvStoreSchema>;
export type CountersStoreConfig = Static<typeof CountersStoreSchema>;
