/**
 * Composition root of `appproxy manager` (one of any number of replicas): config → secrets →
 * stores (PostgreSQL, etcd, Redis) → schema check → agent driver → manager → listen. Managers are
 * stateless over PostgreSQL; what they share besides the stores is the admin token and the
 * setup-token signing key (the same file on every replica).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { JWK } from 'jose';
import { Registry } from 'prom-client';
import { LocalAgent } from '../agent/local-agent.ts';
import { parseTemplates, withBuiltins } from '../agent/templates.ts';
import { legacyOptions, managerAuthOptions, managerPolicies } from '../config/load.ts';
import type { ManagerConfig } from '../config/schema.ts';
import type { AgentDriver } from '../contracts/agent.ts';
import { AppProxyError } from '../contracts/errors.ts';
import { parseDurationMs } from '../core/duration.ts';
import type { Logger } from '../core/logger.ts';
import { SetupTokenIssuer } from '../core/setup-token.ts';
import { ShutdownSequence } from '../core/shutdown.ts';
import { RemoteAgentDriver } from '../manager/agents/remote-agent.ts';
import { createManager, type Manager, type ManagerOptions } from '../manager/index.ts';
import { LATEST_SCHEMA_VERSION } from '../stores/sql/migrate.ts';
import type { SqlDatabase, Stores } from '../stores/types.ts';
import { openCounters, openKv, openSql } from './stores.ts';

export interface ManagerProcess {
  url: string;
  manager: Manager;
  close(): Promise<void>;
}

export interface StartManagerOptions {
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** Apply pending migrations at start instead of refusing an older schema. */
  migrate?: boolean;
  /** Create the setup-token key file when it is missing. */
  init?: boolean;
}

function configError(message: string): AppProxyError {
  return new AppProxyError('AP_ERR_CONFIG_INVALID', message);
}

/** The admin token: env APPPROXY_ADMIN_TOKEN, else the configured file. Never generated here. */
export function readAdminToken(config: ManagerConfig, env: NodeJS.ProcessEnv): string {
  const fromEnv = env.APPPROXY_ADMIN_TOKEN;
  if (fromEnv) return fromEnv;
  if (config.adminTokenFile) {
    const t = readFileSync(config.adminTokenFile, 'utf8').trim();
    if (!t) throw configError(`The admin token file ${config.adminTokenFile} is empty.`);
    return t;
  }
  throw configError(
    'No admin token: set APPPROXY_ADMIN_TOKEN or adminTokenFile (every manager of a cluster uses the same token).',
  );
}

/** Loads the Ed25519 signing key (0600); with `init`, creates it when missing. */
export async function loadSigningKey(path: string, init: boolean): Promise<SetupTokenIssuer> {
  const file = resolve(path);
  if (!existsSync(file)) {
    if (!init) {
      throw configError(
        `The setup-token key ${file} does not exist. Create it once with \`appproxy manager --init\` and give every manager the same file.`,
      );
    }
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const g = await SetupTokenIssuer.generate();
    writeFileSync(file, JSON.stringify(g.privateJwk), { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    return g.issuer;
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw configError(
      `The setup-token key ${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it.`,
    );
  }
  try {
    return await SetupTokenIssuer.fromPrivateJwk(JSON.parse(readFileSync(file, 'utf8')) as JWK);
  } catch (err) {
    throw configError(`The setup-token key ${file} is not an Ed25519 private JWK: ${(err as Error).message}`);
  }
}

export async function schemaVersion(sql: SqlDatabase): Promise<number> {
  const { rows } = await sql.query<{ v: number | string | null }>(
    `SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0
            ELSE (SELECT coalesce(max(version), 0) FROM schema_migrations) END AS v`,
  );
  return Number(rows[0]?.v ?? 0);
}

/** Fails with a clear message unless the schema is the one this build knows. */
export async function checkSchema(sql: SqlDatabase): Promise<number> {
  const v = await schemaVersion(sql);
  if (v < LATEST_SCHEMA_VERSION) {
    throw configError(
      `The database schema is at version ${v}; this build needs ${LATEST_SCHEMA_VERSION}. Run \`appproxy manager migrate\` (or start with --migrate).`,
    );
  }
  if (v > LATEST_SCHEMA_VERSION) {
    throw configError(
      `The database schema is at version ${v}, newer than this build knows (${LATEST_SCHEMA_VERSION}); run a newer AppProxy.`,
    );
  }
  return v;
}

/** `appproxy manager migrate`: applies pending migrations (under PostgreSQL's advisory lock). */
export async function migrateDatabase(
  config: ManagerConfig,
  opts: { logger: Logger },
): Promise<{ from: number; to: number }> {
  const sql = await openSql(config.stores.sql, opts.logger);
  try {
    const from = await schemaVersion(sql);
    const to = await sql.migrate();
    return { from, to };
  } finally {
    await sql.close();
  }
}

export async function startManagerProcess(
  config: ManagerConfig,
  opts: StartManagerOptions,
): Promise<ManagerProcess> {
  const env = opts.env ?? process.env;
  const log = opts.logger;
  const adminToken = readAdminToken(config, env);
  const issuer = await loadSigningKey(config.setupTokenKeyFile, opts.init ?? false);

  const cleanup = new ShutdownSequence(log);
  const shutdown = () => cleanup.run();
  try {
    const sql = await openSql(config.stores.sql, log);
    cleanup.push(() => sql.close());
    if (opts.migrate) await sql.migrate();
    else await checkSchema(sql);
    const kv = openKv(config.stores.kv);
    cleanup.push(() => kv.close());
    const counters = await openCounters(config.stores.counters, log);
    cleanup.push(() => counters.close());
    const stores: Stores = { sql, kv, counters };

    let agent: AgentDriver;
    if (config.agent.kind === 'remote') {
      const driver = new RemoteAgentDriver({
        kv,
        name: config.agent.name,
        logger: log,
        terminateTimeoutMs: parseDurationMs(config.agent.terminateTimeout),
      });
      cleanup.push(() => driver.close());
      // Before the manager starts: its recovery reads which sessions the agent runs.
      await driver.start();
      agent = driver;
    } else {
      const dataDir = resolve(config.agent.dataDir);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const local = new LocalAgent({
        name: config.agent.name,
        templates: withBuiltins(parseTemplates(config.agent.templates)),
        dataDir,
        terminateGraceMs: parseDurationMs(config.agent.terminateGrace),
        logger: log,
      });
      cleanup.push(() => local.close());
      agent = local;
    }

    const managerOptions: ManagerOptions = {
      stores,
      agent,
      setupTokenIssuer: issuer,
      adminToken,
      logger: log,
      metrics: new Registry(),
      setupTokenTtlMs: parseDurationMs(config.setupTokenTtl),
      routeReadyTimeoutMs: parseDurationMs(config.routeReadyTimeout),
      circuitCloseTimeoutMs: parseDurationMs(config.circuitCloseTimeout),
      ...managerPolicies(config),
      auth: managerAuthOptions(config, env),
      legacy: legacyOptions(config, env),
      // Background loops (worker health, reconciler) run on the leader elected through etcd.
      leaderTtlMs: parseDurationMs(config.leaseTtl),
      managerId: `${hostname()}-${config.listen.port}-${process.pid}-${randomBytes(2).toString('hex')}`,
    };
    const manager = await createManager(managerOptions);
    cleanup.push(() => manager.close());
    await manager.start();
    await manager.app.listen({ host: config.listen.host, port: config.listen.port });
    const addr = manager.app.server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    manager.setPublicUrl(`http://${host}:${addr.port}`);
    let closing: Promise<void> | undefined;
    return {
      url: `http://${host}:${addr.port}`,
      manager,
      close() {
        closing ??= shutdown();
        return closing;
      },
    };
  } catch (err) {
    await shutdown();
    throw err;
  }
}
