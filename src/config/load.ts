/**
 * Loads the embedded process's configuration: defaults < file (JSON) < environment < flags.
 * Validated once against the schema (unknown keys are errors that name the key), then frozen.
 */
import { readFileSync } from 'node:fs';
import { type TSchema, Type } from 'typebox';
import { Value } from 'typebox/value';
import { parseTemplates } from '../agent/templates.ts';
import { AppProxyError } from '../contracts/errors.ts';
import { parseDurationMs } from '../core/duration.ts';
import type { AuthOptions } from '../manager/index.ts';
import type { TcpPolicy } from '../manager/services/access.ts';
import type { IdlePolicyConfig } from '../manager/services/idle-settings.ts';
import type { LegacyOptions } from '../manager/services/legacy-coordinator.ts';
import { isLoopbackUrl, type OidcOptions } from '../manager/services/oidc.ts';
import {
  type AgentConfig,
  AgentConfigSchema,
  type EmbeddedConfig,
  EmbeddedConfigSchema,
  type ManagerConfig,
  ManagerConfigSchema,
  type WorkerConfig,
  WorkerConfigSchema,
} from './schema.ts';

/** Keys that were renamed; a config using the old name fails with the new name in the message. */
const RENAMED_KEYS: Record<string, string> = {};

export interface ConfigSources {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  flags?: { port?: number | undefined; dataDir?: string | undefined; logLevel?: string | undefined };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k] as Obj, v) : v;
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

type Problem = { field: string; message: string };

/** Schema errors as `{field, message}`; unknown keys are named (and renamed ones point to the new name). */
function schemaProblems(schema: TSchema, value: unknown): Problem[] {
  const problems: Problem[] = [];
  for (const e of Value.Errors(schema, value)) {
    // `additionalProperties: false` reports the unknown key itself as "schema is false".
    if (e.keyword === 'boolean') {
      const key = e.instancePath.split('/').pop() ?? '';
      const renamed = RENAMED_KEYS[e.instancePath];
      problems.push({
        field: e.instancePath,
        message: renamed ? `"${key}" was renamed to "${renamed}"` : `unknown key "${key}"`,
      });
    } else if (e.keyword !== 'additionalProperties' && e.keyword !== 'anyOf') {
      problems.push({ field: e.instancePath || '/', message: e.message });
    }
  }
  return problems;
}

function fail(problems: Problem[]): never {
  const list = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
  throw new AppProxyError('AP_ERR_CONFIG_INVALID', `Invalid configuration: ${list}`, problems);
}

/** The TCP and idle-policy settings (`tcp`, `idlePolicy`) as the config schemas hold them. */
interface PolicySettings {
  endpoints: { allowPublic: boolean };
  tcp: { defaultAccess: 'tunnel' | 'public'; allowPublic: boolean; maxConnectionsPerCircuit: number };
  idlePolicy: {
    defaultConnectionIdleTimeout: string | number;
    defaultCircuitIdleTimeout: string | number | null;
    defaultSessionIdleTimeout: string | number | null;
    minTimeout: string | number;
    maxTimeout: string | number;
    allowNever: boolean;
    checkInterval: string | number;
  };
}

/** The manager's `tcp` and `idlePolicy` options from the configuration (durations in ms). */
export function managerPolicies(c: PolicySettings): {
  tcp: TcpPolicy;
  idlePolicy: IdlePolicyConfig;
  endpoints: { allowPublic: boolean };
} {
  const i = c.idlePolicy;
  const orNull = (d: string | number | null) => (d === null ? null : parseDurationMs(d));
  return {
    endpoints: { ...c.endpoints },
    tcp: { ...c.tcp },
    idlePolicy: {
      defaultConnectionIdleTimeoutMs: parseDurationMs(i.defaultConnectionIdleTimeout),
      defaultCircuitIdleTimeoutMs: orNull(i.defaultCircuitIdleTimeout),
      defaultSessionIdleTimeoutMs: orNull(i.defaultSessionIdleTimeout),
      minTimeoutMs: parseDurationMs(i.minTimeout),
      maxTimeoutMs: parseDurationMs(i.maxTimeout),
      allowNever: i.allowNever,
      checkIntervalMs: parseDurationMs(i.checkInterval),
    },
  };
}

/**
 * The Backend.AI-compatible surface: its shared secret from env APPPROXY_LEGACY_API_SECRET, else
 * `apiSecretFile`, else none.
 */
export function legacyOptions(
  c: Pick<EmbeddedConfig['manager'], 'legacy'>,
  env: NodeJS.ProcessEnv = process.env,
): LegacyOptions {
  const l = c.legacy;
  let apiSecret: string | null = env.APPPROXY_LEGACY_API_SECRET?.trim() || null;
  if (apiSecret === null && l.apiSecretFile !== null) {
    apiSecret = readFileSync(l.apiSecretFile, 'utf8').trim();
    if (apiSecret === '')
      throw new AppProxyError(
        'AP_ERR_CONFIG_INVALID',
        `The legacy API secret file ${l.apiSecretFile} is empty.`,
      );
  }
  return {
    apiSecret,
    allowUnauthenticatedConf: l.allowUnauthenticatedConf,
    confTokenTtlMs: parseDurationMs(l.confTokenTtl),
    sessionIdleMs: l.sessionIdle === null ? null : parseDurationMs(l.sessionIdle),
  };
}

type OidcSettings = NonNullable<EmbeddedConfig['manager']['auth']['oidc']>;

/**
 * The OpenID Connect client secret: env APPPROXY_OIDC_CLIENT_SECRET, else `clientSecretFile`,
 * else none (a public client).
 */
function oidcClientSecret(o: OidcSettings, env: NodeJS.ProcessEnv): string | null {
  if (env.APPPROXY_OIDC_CLIENT_SECRET) return env.APPPROXY_OIDC_CLIENT_SECRET;
  if (o.clientSecretFile === null) return null;
  let secret: string;
  try {
    secret = readFileSync(o.clientSecretFile, 'utf8').trim();
  } catch (err) {
    throw new AppProxyError(
      'AP_ERR_CONFIG_INVALID',
      `Cannot read the OpenID Connect client secret file ${o.clientSecretFile}: ${(err as Error).message}`,
    );
  }
  if (!secret)
    throw new AppProxyError(
      'AP_ERR_CONFIG_INVALID',
      `The OpenID Connect client secret file ${o.clientSecretFile} is empty.`,
    );
  return secret;
}

function oidcOptions(o: OidcSettings | null, env: NodeJS.ProcessEnv): OidcOptions | null {
  if (o === null) return null;
  return {
    issuer: o.issuer,
    clientId: o.clientId,
    clientSecret: oidcClientSecret(o, env),
    scopes: [...o.scopes],
    nameClaim: o.nameClaim,
    groupsClaim: o.groupsClaim,
    adminGroups: [...o.adminGroups],
    label: o.label,
    autoCreateUsers: o.autoCreateUsers,
  };
}

/**
 * The manager's `auth` settings as `createManager` takes them; reads the OpenID Connect client
 * secret (from `env` or its file) when a provider is configured.
 */
export function managerAuthOptions(
  c: { auth: EmbeddedConfig['manager']['auth'] },
  env: NodeJS.ProcessEnv = process.env,
): AuthOptions {
  const a = c.auth;
  return {
    publicUrl: a.publicUrl,
    loginSessionTtlMs: parseDurationMs(a.loginSessionTtl),
    cliSessionTtlMs: parseDurationMs(a.cliSessionTtl),
    appCookieTtlMs: parseDurationMs(a.appCookieTtl),
    secureCookies: a.secureCookies,
    loginLimits: {
      perUser: a.loginAttempts.perUser,
      perAddress: a.loginAttempts.perAddress,
      windowMs: parseDurationMs(a.loginAttempts.window),
    },
    oidc: oidcOptions(a.oidc, env),
  };
}

/** Durations parse, limits are ordered, and the defaults are consistent with what the limits allow. */
function checkAuth(
  prefix: string,
  c: { auth: EmbeddedConfig['manager']['auth'] },
  problems: Problem[],
): void {
  const a = c.auth;
  checkDurations(
    [
      [`${prefix}/auth/loginSessionTtl`, a.loginSessionTtl],
      [`${prefix}/auth/cliSessionTtl`, a.cliSessionTtl],
      [`${prefix}/auth/appCookieTtl`, a.appCookieTtl],
      [`${prefix}/auth/loginAttempts/window`, a.loginAttempts.window],
    ],
    problems,
  );
  if (a.oidc?.issuer.startsWith('http:') && !isLoopbackUrl(a.oidc.issuer))
    problems.push({
      field: `${prefix}/auth/oidc/issuer`,
      message: 'must be https (http only on loopback addresses)',
    });
}

function checkPolicies(prefix: string, c: PolicySettings, problems: Problem[]): void {
  const i = c.idlePolicy;
  const before = problems.length;
  const durations: [string, string | number][] = [
    ['defaultConnectionIdleTimeout', i.defaultConnectionIdleTimeout],
    ['minTimeout', i.minTimeout],
    ['maxTimeout', i.maxTimeout],
    ['checkInterval', i.checkInterval],
  ];
  if (i.defaultCircuitIdleTimeout !== null)
    durations.push(['defaultCircuitIdleTimeout', i.defaultCircuitIdleTimeout]);
  if (i.defaultSessionIdleTimeout !== null)
    durations.push(['defaultSessionIdleTimeout', i.defaultSessionIdleTimeout]);
  checkDurations(
    durations.map(([k, v]) => [`${prefix}/idlePolicy/${k}`, v]),
    problems,
  );
  if (problems.length > before) return;
  const p = managerPolicies(c).idlePolicy;
  const at = (k: string) => `${prefix}/idlePolicy/${k}`;
  if (p.minTimeoutMs < 1) problems.push({ field: at('minTimeout'), message: 'must be at least 1ms' });
  if (p.maxTimeoutMs < p.minTimeoutMs)
    problems.push({ field: at('maxTimeout'), message: 'must not be shorter than minTimeout' });
  if (p.checkIntervalMs < 1) problems.push({ field: at('checkInterval'), message: 'must be at least 1ms' });
  for (const [k, v] of [
    ['defaultConnectionIdleTimeout', p.defaultConnectionIdleTimeoutMs],
    ['defaultCircuitIdleTimeout', p.defaultCircuitIdleTimeoutMs],
    ['defaultSessionIdleTimeout', p.defaultSessionIdleTimeoutMs],
  ] as const) {
    if (v === 0) problems.push({ field: at(k), message: 'must be at least 1ms (use null for never)' });
    if (v === null && !p.allowNever)
      problems.push({
        field: at(k),
        message: 'is null (never) while allowNever is false; give a timeout or allow never',
      });
  }
  if (c.tcp.defaultAccess === 'public' && !c.tcp.allowPublic)
    problems.push({ field: `${prefix}/tcp/defaultAccess`, message: '"public" needs tcp.allowPublic: true' });
}

function checkLegacy(
  prefix: string,
  c: Pick<EmbeddedConfig['manager'], 'legacy'>,
  problems: Problem[],
): void {
  const l = c.legacy;
  const durations: [string, string | number][] = [[`${prefix}/legacy/confTokenTtl`, l.confTokenTtl]];
  if (l.sessionIdle !== null) durations.push([`${prefix}/legacy/sessionIdle`, l.sessionIdle]);
  checkDurations(durations, problems);
}

function checkDurations(durations: [string, string | number][], problems: Problem[]): void {
  for (const [field, d] of durations) {
    try {
      parseDurationMs(d);
    } catch (err) {
      problems.push({ field, message: (err as Error).message });
    }
  }
}

export function validateEmbeddedConfig(raw: unknown): EmbeddedConfig {
  const value = Value.Default(EmbeddedConfigSchema, structuredClone(raw));
  const problems = schemaProblems(EmbeddedConfigSchema, value);
  if (problems.length === 0) {
    // Durations are checked here too, so that a bad "30 seconds" fails at start, not later.
    const c = value as EmbeddedConfig;
    const durations: [string, string | number][] = [
      ['/manager/setupTokenTtl', c.manager.setupTokenTtl],
      ['/manager/routeReadyTimeout', c.manager.routeReadyTimeout],
      ['/manager/circuitCloseTimeout', c.manager.circuitCloseTimeout],
      ['/worker/cookieTtl', c.worker.cookieTtl],
      ['/worker/leaseTtl', c.worker.leaseTtl],
      ['/worker/activityFlushInterval', c.worker.activityFlushInterval],
      ['/worker/upstreamHeadersTimeout', c.worker.upstreamHeadersTimeout],
      ['/worker/revocationStaleAfter', c.worker.revocationStaleAfter],
      ['/worker/revocationConfirmInterval', c.worker.revocationConfirmInterval],
      ['/agent/terminateGrace', c.agent.terminateGrace],
    ];
    checkDurations(durations, problems);
    checkPolicies('/manager', c.manager, problems);
    checkAuth('/manager', c.manager, problems);
    checkLegacy('/manager', c.manager, problems);
    try {
      parseTemplates(c.agent.templates);
    } catch (err) {
      problems.push({ field: '/agent/templates', message: (err as Error).message });
    }
    const authorities = c.workers.map((w) => w.authority);
    if (new Set(authorities).size !== authorities.length)
      problems.push({ field: '/workers', message: 'worker authorities must be unique' });
    for (const [i, w] of c.workers.entries()) {
      if (w.frontendMode === 'port' && w.portRange[0] > w.portRange[1]) {
        problems.push({ field: `/workers/${i}/portRange`, message: 'first port must not exceed the last' });
      }
    }
  }
  if (problems.length > 0) fail(problems);
  return deepFreeze(value as EmbeddedConfig);
}

function readConfigFile(file: string | undefined): Obj {
  let merged: Obj = {};
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new AppProxyError(
        'AP_ERR_CONFIG_INVALID',
        `Cannot read config file ${file}: ${(err as Error).message}`,
      );
    }
    if (!isObj(parsed))
      throw new AppProxyError('AP_ERR_CONFIG_INVALID', `Config file ${file} must hold a JSON object.`);
    merged = deepMerge(merged, parsed);
  }
  return merged;
}

export function loadEmbeddedConfig(src: ConfigSources = {}): EmbeddedConfig {
  const env = src.env ?? process.env;
  let merged = readConfigFile(src.file ?? env.APPPROXY_CONFIG);
  const envPort = env.APPPROXY_PORT ? Number(env.APPPROXY_PORT) : undefined;
  merged = deepMerge(merged, {
    dataDir: env.APPPROXY_DATA_DIR,
    logLevel: env.APPPROXY_LOG_LEVEL,
    manager: { port: envPort },
  });
  const f = src.flags ?? {};
  merged = deepMerge(merged, {
    dataDir: f.dataDir,
    logLevel: f.logLevel,
    manager: f.port !== undefined ? { port: f.port } : undefined,
  });
  return validateEmbeddedConfig(merged);
}

// ------------------------------------------------------------------ split processes

export interface ProcessConfigSources {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  flags?: { port?: number | undefined; logLevel?: string | undefined };
}

/** Store settings from the environment (they override the file): URLs and endpoints, never secrets. */
function storesFromEnv(env: NodeJS.ProcessEnv, roles: ('sql' | 'kv' | 'counters')[]): Obj {
  const out: Obj = {};
  if (roles.includes('sql') && env.APPPROXY_POSTGRES_URL) out.sql = { url: env.APPPROXY_POSTGRES_URL };
  if (roles.includes('kv') && env.APPPROXY_ETCD_ENDPOINTS)
    out.kv = {
      endpoints: env.APPPROXY_ETCD_ENDPOINTS.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    };
  if (roles.includes('counters') && env.APPPROXY_REDIS_URL) out.counters = { url: env.APPPROXY_REDIS_URL };
  return out;
}

function isObjOrUndef(v: unknown): Obj | undefined {
  return isObj(v) ? v : undefined;
}

function durationsOf(
  prefix: string,
  o: Record<string, unknown>,
  keys: string[],
): [string, string | number][] {
  return keys.map((k) => [`${prefix}/${k}`, o[k] as string | number]);
}

function checkTemplates(field: string, templates: unknown[], problems: Problem[]): void {
  try {
    parseTemplates(templates);
  } catch (err) {
    problems.push({ field, message: (err as Error).message });
  }
}

export function validateManagerConfig(raw: unknown): ManagerConfig {
  const value = Value.Default(ManagerConfigSchema, structuredClone(raw)) as Obj;
  // The agent is a union on `kind`: validate against the chosen variant, for errors that make sense.
  const agent = isObjOrUndef(value.agent);
  const variants = ManagerConfigSchema.properties.agent.anyOf;
  const variant = agent?.kind === 'remote' ? variants[0] : agent?.kind === 'local' ? variants[1] : undefined;
  if (!variant) fail([{ field: '/agent/kind', message: 'must be "remote" or "local"' }]);
  const schema = Type.Object(
    { ...ManagerConfigSchema.properties, agent: variant },
    { additionalProperties: false },
  );
  const problems = schemaProblems(schema, value);
  if (problems.length === 0) {
    const c = value as ManagerConfig;
    checkDurations(
      durationsOf('', c, ['setupTokenTtl', 'routeReadyTimeout', 'circuitCloseTimeout', 'leaseTtl']),
      problems,
    );
    checkPolicies('', c, problems);
    checkAuth('', c, problems);
    checkLegacy('', c, problems);
    if (c.agent.kind === 'local') {
      checkDurations([['/agent/terminateGrace', c.agent.terminateGrace]], problems);
      checkTemplates('/agent/templates', c.agent.templates, problems);
    } else checkDurations([['/agent/terminateTimeout', c.agent.terminateTimeout]], problems);
  }
  if (problems.length > 0) fail(problems);
  return deepFreeze(value as ManagerConfig);
}

export function loadManagerConfig(src: ProcessConfigSources = {}): ManagerConfig {
  const env = src.env ?? process.env;
  let merged = readConfigFile(src.file ?? env.APPPROXY_CONFIG);
  const envPort = env.APPPROXY_PORT ? Number(env.APPPROXY_PORT) : undefined;
  merged = deepMerge(merged, {
    logLevel: env.APPPROXY_LOG_LEVEL,
    listen: { port: envPort },
    stores: storesFromEnv(env, ['sql', 'kv', 'counters']),
  });
  const f = src.flags ?? {};
  merged = deepMerge(merged, { logLevel: f.logLevel, listen: { port: f.port } });
  return validateManagerConfig(merged);
}

export function validateWorkerConfig(raw: unknown): WorkerConfig {
  const value = Value.Default(WorkerConfigSchema, structuredClone(raw)) as Obj;
  const mode = value.frontendMode;
  const schema =
    mode === 'port'
      ? WorkerConfigSchema.anyOf[0]
      : mode === 'wildcard'
        ? WorkerConfigSchema.anyOf[1]
        : undefined;
  if (!schema) fail([{ field: '/frontendMode', message: 'must be "port" or "wildcard"' }]);
  const problems = schemaProblems(schema, value);
  if (problems.length === 0) {
    const c = value as WorkerConfig;
    checkDurations(
      durationsOf('', c, [
        'cookieTtl',
        'leaseTtl',
        'activityFlushInterval',
        'upstreamHeadersTimeout',
        'revocationStaleAfter',
        'revocationConfirmInterval',
      ]),
      problems,
    );
    if (c.frontendMode === 'port' && c.portRange[0] > c.portRange[1])
      problems.push({ field: '/portRange', message: 'first port must not exceed the last' });
  }
  if (problems.length > 0) fail(problems);
  return deepFreeze(value as WorkerConfig);
}

export function loadWorkerConfig(src: ProcessConfigSources = {}): WorkerConfig {
  const env = src.env ?? process.env;
  let merged = readConfigFile(src.file ?? env.APPPROXY_CONFIG);
  merged = deepMerge(merged, {
    logLevel: env.APPPROXY_LOG_LEVEL,
    stores: storesFromEnv(env, ['kv', 'counters']),
  });
  const f = src.flags ?? {};
  merged = deepMerge(merged, {
    logLevel: f.logLevel,
    admin: f.port === undefined ? undefined : { port: f.port },
  });
  return validateWorkerConfig(merged);
}

export function validateAgentConfig(raw: unknown): AgentConfig {
  const value = Value.Default(AgentConfigSchema, structuredClone(raw));
  const problems = schemaProblems(AgentConfigSchema, value);
  if (problems.length === 0) {
    const c = value as AgentConfig;
    checkDurations(durationsOf('', c, ['leaseTtl', 'terminateGrace']), problems);
    checkTemplates('/templates', c.templates, problems);
  }
  if (problems.length > 0) fail(problems);
  return deepFreeze(value as AgentConfig);
}

export function loadAgentConfig(src: ProcessConfigSources = {}): AgentConfig {
  const env = src.env ?? process.env;
  let merged = readConfigFile(src.file ?? env.APPPROXY_CONFIG);
  merged = deepMerge(merged, {
    logLevel: env.APPPROXY_LOG_LEVEL,
    dataDir: env.APPPROXY_DATA_DIR,
    stores: storesFromEnv(env, ['kv']),
  });
  const f = src.flags ?? {};
  merged = deepMerge(merged, { logLevel: f.logLevel });
  return validateAgentConfig(merged);
}
