/**
 * Opens the shared stores a split process needs, from its config (URLs, endpoints, TLS files) and
 * secrets from files or the environment. Each process opens only the roles it uses.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { CountersStoreConfig, KvStoreConfig, SqlStoreConfig } from '../config/stores.ts';
import { AppProxyError } from '../contracts/errors.ts';
import { EtcdKvStore } from '../stores/etcd/kv.ts';
import { openPostgres, type PostgresDatabase } from '../stores/postgres/sql.ts';
import { openRedis, type RedisCounterStore } from '../stores/redis/counters.ts';

type Tls = SqlStoreConfig['tls'];

function readSecret(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new AppProxyError(
      'AP_ERR_CONFIG_INVALID',
      `Cannot read ${what} from ${path}: ${(err as Error).message}`,
    );
  }
}

function tlsOptions(tls: Tls, what: string): ConnectionOptions | undefined {
  if (!tls) return undefined;
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.caFile ? { ca: readSecret(tls.caFile, `the ${what} CA`) } : {}),
    ...(tls.certFile ? { cert: readSecret(tls.certFile, `the ${what} client certificate`) } : {}),
    ...(tls.keyFile ? { key: readSecret(tls.keyFile, `the ${what} client key`) } : {}),
  };
}

export async function openSql(c: SqlStoreConfig, logger: Logger): Promise<PostgresDatabase> {
  let url = c.url;
  if (c.passwordFile) {
    const u = new URL(c.url);
    u.password = encodeURIComponent(readSecret(c.passwordFile, 'the PostgreSQL password'));
    url = u.toString();
  }
  const ssl = tlsOptions(c.tls, 'PostgreSQL');
  return openPostgres({
    url,
    poolSize: c.poolSize,
    ...(ssl ? { ssl } : {}),
    onIdleError: (err) => logger.warn({ err: err.message }, 'PostgreSQL connection lost (idle)'),
  });
}

export function openKv(c: KvStoreConfig): EtcdKvStore {
  const password = c.passwordFile
    ? readSecret(c.passwordFile, 'the etcd password')
    : (process.env.APPPROXY_ETCD_PASSWORD ?? undefined);
  const tls = c.tls
    ? {
        ca: c.tls.caFile ? readSecret(c.tls.caFile, 'the etcd CA') : '',
        ...(c.tls.certFile ? { cert: readSecret(c.tls.certFile, 'the etcd client certificate') } : {}),
        ...(c.tls.keyFile ? { key: readSecret(c.tls.keyFile, 'the etcd client key') } : {}),
      }
    : undefined;
  return new EtcdKvStore({
    endpoints: [...c.endpoints],
    ...(tls ? { tls } : {}),
    ...(c.username !== null ? { username: c.username, ...(password !== undefined ? { password } : {}) } : {}),
  });
}

export async function openCounters(c: CountersStoreConfig, logger: Logger): Promise<RedisCounterStore> {
  const password = c.passwordFile
    ? readSecret(c.passwordFile, 'the Redis password')
    : process.env.APPPROXY_REDIS_PASSWORD;
  const tls = tlsOptions(c.tls, 'Redis');
  let lastLog = 0;
  return openRedis({
    url: c.url,
    ...(password ? { password } : {}),
    ...(tls ? { tls } : {}),
    onError: (err) => {
      // ioredis retries by itself; one line per 5 s is enough.
      if (Date.now() - lastLog > 5_000) {
        lastLog = Date.now();
        logger.warn({ err: err.message }, 'Redis connection error');
      }
    },
  });
}
