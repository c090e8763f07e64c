/**
 * Loads the embedded process's configuration: defaults < file (JSON) < environment < flags.
 * Validated once against the schema (unknown keys are errors that name the key), then frozen.
 */
import { readFileSync } from 'node:fs';
import { Value } from 'typebox/value';
import { parseTemplates } from '../agent/templates.ts';
import { AppProxyError } from '../contracts/errors.ts';
import { parseDurationMs } from '../core/duration.ts';
import { type EmbeddedConfig, EmbeddedConfigSchema } from './schema.ts';

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

export function validateEmbeddedConfig(raw: unknown): EmbeddedConfig {
  const value = Value.Default(EmbeddedConfigSchema, structuredClone(raw));
  const problems: { field: string; message: string }[] = [];
  for (const e of Value.Errors(EmbeddedConfigSchema, value)) {
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
      ['/agent/terminateGrace', c.agent.terminateGrace],
    ];
    for (const [field, d] of durations) {
      try {
        parseDurationMs(d);
      } catch (err) {
        problems.push({ field, message: (err as Error).message });
      }
    }
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
  if (problems.length > 0) {
    const list = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new AppProxyError('AP_ERR_CONFIG_INVALID', `Invalid configuration: ${list}`, problems);
  }
  return deepFreeze(value as EmbeddedConfig);
}

export function loadEmbeddedConfig(src: ConfigSources = {}): EmbeddedConfig {
  const env = src.env ?? process.env;
  let merged: Obj = {};
  const file = src.file ?? env.APPPROXY_CONFIG;
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
