/**
 * Session templates of the local agent: what processes a session runs and how to tell they are
 * ready. Templates come only from the admin's configuration and the built-ins below, never from an
 * API request: a request names a template, it never carries a command.
 *
 * Placeholders in `command` and `env` values, expanded per session and service:
 *   {port}    the loopback port allocated to this service
 *   {host}    the address the service must bind (the agent's bindHost, 127.0.0.1)
 *   {node}    the Node.js executable running the agent (so bundled apps need no other runtime)
 *   {dataDir} the session's private folder, removed when the session ends
 *   {secret}  a random per-session hex secret (for apps that want one; shared by its services)
 *   {appsDir} the folder of the bundled apps (src/agent/apps), so an admin's variant of a
 *             built-in (say llm-sim with other flags) needs no installation path
 * Any other `{...}` text is left as it is (commands may contain code with braces).
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Type, { type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import type { TemplateInfo } from '../contracts/agent.ts';
import { AppProxyError } from '../contracts/errors.ts';

const NAME = '^[a-z][a-z0-9-]{0,62}$';
const ENV_NAME = '^[A-Za-z_][A-Za-z0-9_]*$';

export const ReadinessSchema = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('http'),
      path: Type.String({ pattern: '^/', description: 'GET path; ready on any status < 500' }),
    },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('tcp') }, { additionalProperties: false }),
]);

export const ServiceSpecSchema = Type.Object(
  {
    name: Type.String({ pattern: NAME }),
    protocol: Type.Union([Type.Literal('http'), Type.Literal('tcp')]),
    command: Type.Array(Type.String(), { minItems: 1, description: 'argv, no shell; placeholders allowed' }),
    env: Type.Optional(
      Type.Record(Type.String({ pattern: ENV_NAME }), Type.String(), {
        additionalProperties: false,
      }),
    ),
    passEnv: Type.Optional(
      Type.Array(Type.String({ pattern: ENV_NAME }), {
        description:
          "names of the agent's own environment variables passed on to the service when set (read at each start)",
      }),
    ),
    readiness: ReadinessSchema,
    startTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
  },
  { additionalProperties: false },
);

const IdleTimeoutMs = Type.Integer({ minimum: 1, description: 'milliseconds' });

/**
 * A template's idle defaults for its sessions (milliseconds; null = never). The manager applies them
 * under the installation's limits; a session or start-service request may override them.
 */
export const TemplateIdleSchema = Type.Object(
  {
    connectionIdleTimeoutMs: Type.Optional({
      ...IdleTimeoutMs,
      description:
        'per connection (TCP, tunnel, WebSocket): closed after this long without a byte either way',
    }),
    circuitIdleTimeoutMs: Type.Optional(
      Type.Union([IdleTimeoutMs, Type.Null()], {
        description: 'a circuit with no byte moved for this long closes (null = never)',
      }),
    ),
    sessionIdleTimeoutMs: Type.Optional(
      Type.Union([IdleTimeoutMs, Type.Null()], {
        description: 'a session whose every circuit was idle this long is terminated (null = never)',
      }),
    ),
  },
  { additionalProperties: false },
);

/** One template as written in the admin configuration (embed this in the config schema). */
export const TemplateSpecSchema = Type.Object(
  {
    name: Type.String({ pattern: NAME }),
    description: Type.String(),
    services: Type.Array(ServiceSpecSchema, { minItems: 1 }),
    requires: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          'executables that must exist (on PATH or as absolute paths) for the template to be available',
      }),
    ),
    idle: Type.Optional(TemplateIdleSchema),
  },
  { additionalProperties: false },
);

export type TemplateSpec = Static<typeof TemplateSpecSchema>;
export type ServiceSpec = Static<typeof ServiceSpecSchema>;

/** Default time a service gets to become ready. */
export const DEFAULT_START_TIMEOUT_MS = 30_000;

/**
 * Validates templates from configuration. Throws AP_ERR_CONFIG_INVALID naming the offending path
 * and key (e.g. `/0/services/1: unknown key "cmd"`), so an admin's typo never passes silently.
 */
export function parseTemplates(input: unknown): TemplateSpec[] {
  const schema = Type.Array(TemplateSpecSchema);
  if (!Value.Check(schema, input)) {
    const problems = describeErrors(schema, input);
    throw new AppProxyError(
      'AP_ERR_CONFIG_INVALID',
      `invalid template configuration: ${problems.join('; ')}`,
      {
        problems,
      },
    );
  }
  const seen = new Set<string>();
  for (const t of input) {
    if (seen.has(t.name)) throw configError(`template "${t.name}" is defined twice`);
    seen.add(t.name);
    const services = new Set<string>();
    for (const s of t.services) {
      if (services.has(s.name)) throw configError(`template "${t.name}" has two services named "${s.name}"`);
      services.add(s.name);
    }
  }
  return input;
}

/** Built-ins first, then configured templates; a configured template replaces a built-in of the same name. */
export function withBuiltins(configured: TemplateSpec[]): TemplateSpec[] {
  const names = new Set(configured.map((t) => t.name));
  return [...builtinTemplates().filter((t) => !names.has(t.name)), ...configured];
}

function configError(message: string): AppProxyError {
  return new AppProxyError('AP_ERR_CONFIG_INVALID', `invalid template configuration: ${message}`);
}

function describeErrors(schema: TSchema, input: unknown): string[] {
  const out: string[] = [];
  for (const e of Value.Errors(schema, input)) {
    // The 'boolean' entries duplicate the additionalProperties ones; the latter name the key.
    if (e.keyword === 'boolean') continue;
    const where = e.instancePath || '/';
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties' && Array.isArray(params.additionalProperties)) {
      for (const key of params.additionalProperties) out.push(`${where}: unknown key "${String(key)}"`);
    } else {
      out.push(`${where}: ${e.message}`);
    }
    if (out.length >= 20) break;
  }
  return [...new Set(out)];
}

/** Placeholder values for one service of one session. */
export interface PlaceholderValues {
  port: number;
  host: string;
  node: string;
  dataDir: string;
  secret: string;
}

/** Where the bundled apps live: the value of `{appsDir}`. */
export const APPS_DIR = fileURLToPath(new URL('./apps', import.meta.url));

/** Replaces the known placeholders only; other braces stay (commands may embed code). */
export function expandPlaceholders(text: string, v: PlaceholderValues): string {
  return text.replace(
    /\{(port|host|node|dataDir|secret|appsDir)\}/g,
    (_m, key: keyof PlaceholderValues | 'appsDir') => (key === 'appsDir' ? APPS_DIR : String(v[key])),
  );
}

/** Absolute path of an executable: itself if absolute, else the first match on PATH; null if none. */
export function findExecutable(name: string, pathEnv: string = process.env.PATH ?? ''): string | null {
  const candidates = isAbsolute(name)
    ? [name]
    : name.includes('/')
      ? []
      : pathEnv
          .split(delimiter)
          .filter(Boolean)
          .map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here; try the next directory
    }
  }
  return null;
}

/** What the manager shows for a template, including whether it can run on this machine now. */
export function templateInfo(spec: TemplateSpec, pathEnv?: string): TemplateInfo {
  const missing = (spec.requires ?? []).filter((exe) => findExecutable(exe, pathEnv) === null);
  return {
    name: spec.name,
    description: spec.description,
    available: missing.length === 0,
    unavailableReason:
      missing.length === 0
        ? null
        : `missing executable${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} (not found on PATH of the agent)`,
    services: spec.services.map((s) => ({ name: s.name, protocol: s.protocol })),
    ...(spec.idle ? { idle: { ...spec.idle } } : {}),
  };
}

const appPath = (file: string) => join(APPS_DIR, file);

/**
 * Where system daemons live. Debian leaves these off non-root users' PATH, yet an agent run by such
 * a user can start sshd from there as well as root can.
 */
export const SYSTEM_SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export interface BuiltinOptions {
  /** The PATH the built-ins' executables are looked up on (default: the agent's). */
  path?: string;
  /** Searched after `path` for daemons such as sshd (default SYSTEM_SBIN_DIRS). */
  sbinDirs?: string[];
}

/** Connection idle default of the ssh template: an interactive shell may sit quiet for a while. */
export const SSH_CONNECTION_IDLE_TIMEOUT_MS = 30 * 60_000;

export function builtinTemplates(opts: BuiltinOptions = {}): TemplateSpec[] {
  const path = opts.path ?? process.env.PATH ?? '';
  const sbin = opts.sbinDirs ?? SYSTEM_SBIN_DIRS;
  // sshd must run from an absolute path (it re-executes itself); resolved once, here. When it is
  // absent, the bare name stays in `requires` so the template reads "missing executable: sshd".
  const sshd = findExecutable('sshd', [path, ...sbin].filter(Boolean).join(delimiter));
  return [
    {
      name: 'demo',
      description: 'Demo app: a web page with WebSocket, SSE, upload and download, plus a TCP echo service.',
      services: [
        {
          name: 'web',
          protocol: 'http',
          // Plain .mjs run by the agent's own Node: the child needs no TypeScript loader.
          command: ['{node}', appPath('web.mjs'), '--host', '{host}', '--port', '{port}'],
          readiness: { kind: 'http', path: '/' },
          startTimeoutMs: 15_000,
        },
        {
          name: 'echo',
          protocol: 'tcp',
          command: ['{node}', appPath('echo.mjs'), '--host', '{host}', '--port', '{port}'],
          readiness: { kind: 'tcp' },
          startTimeoutMs: 15_000,
        },
      ],
    },
    {
      name: 'jupyter',
      description: 'Jupyter Notebook (classic), with Python kernels.',
      requires: ['jupyter-notebook'],
      services: [
        {
          name: 'notebook',
          protocol: 'http',
          command: [
            'jupyter-notebook',
            '--no-browser',
            '--ip={host}',
            '--port={port}',
            // Fail instead of silently moving to another port when ours was taken meanwhile:
            // the agent would otherwise probe (and report) a port nobody of ours listens on.
            '--NotebookApp.port_retries=0',
            // Jupyter's own auth is off: AppProxy authenticates every request before it reaches
            // the notebook (app cookie bound to circuit, user and login session). The notebook
            // binds loopback only, so the proxy is the way in from outside this machine.
            '--NotebookApp.token=',
            '--NotebookApp.password=',
            '--NotebookApp.base_url=/',
            // The proxy preserves the browser's Host (e.g. ab12cd.apps.example.com), which is not
            // a loopback name; without this Jupyter answers 403 to every request. Origin checks
            // (WebSocket kernels, API POSTs) still pass because Origin matches that same Host,
            // so allow_origin stays unset: '*' would let any web page drive kernels.
            '--NotebookApp.allow_remote_access=True',
            // Only the proxy (on loopback) talks to the notebook and it replaces inbound
            // X-Forwarded-* headers: trusting them gives Jupyter the browser's scheme (https
            // under TLS) and client address for its redirects and logs.
            '--NotebookApp.trust_xheaders=True',
            // The session's lifetime belongs to the manager; a Quit button would end the
            // process behind its back (reported as TERMINATED, but surprising).
            '--NotebookApp.quit_button=False',
            '--notebook-dir={dataDir}',
            // The agent may run as root (containers, CI); Jupyter refuses root without this.
            '--allow-root',
          ],
          // HOME and every Jupyter/IPython dir live in the session's folder (hidden, so the
          // notebook tree shows only the user's files) so nothing is written elsewhere.
          env: {
            HOME: '{dataDir}',
            JUPYTER_CONFIG_DIR: '{dataDir}/.jupyter',
            JUPYTER_DATA_DIR: '{dataDir}/.local/share/jupyter',
            JUPYTER_RUNTIME_DIR: '{dataDir}/.local/share/jupyter/runtime',
            IPYTHONDIR: '{dataDir}/.ipython',
            XDG_CACHE_HOME: '{dataDir}/.cache',
            XDG_CONFIG_HOME: '{dataDir}/.config',
            XDG_DATA_HOME: '{dataDir}/.local/share',
            MPLCONFIGDIR: '{dataDir}/.config/matplotlib',
            // Silences debugpy's frozen-modules warning that every kernel start prints on Python 3.11+.
            PYDEVD_DISABLE_FILE_VALIDATION: '1',
          },
          readiness: { kind: 'http', path: '/api' },
          startTimeoutMs: 60_000,
        },
      ],
    },
    {
      name: 'ssh',
      description:
        "OpenSSH server (Debian's openssh-server), key-only, for the agent user's keys; reach it with `appproxy tunnel`.",
      requires: [sshd ?? 'sshd', 'ssh-keygen'],
      // Shells sit quiet while their user reads or thinks; half an hour before a silent
      // connection is cut (the installation's limits still apply).
      idle: { connectionIdleTimeoutMs: SSH_CONNECTION_IDLE_TIMEOUT_MS },
      services: [
        {
          name: 'ssh',
          protocol: 'tcp',
          // The launcher writes host key, sshd_config and authorized_keys into the session folder,
          // then runs sshd in the foreground (-D -e) on {host}:{port}.
          command: [
            '{node}',
            appPath('sshd.mjs'),
            '--host',
            '{host}',
            '--port',
            '{port}',
            '--data-dir',
            '{dataDir}',
            '--sshd',
            sshd ?? 'sshd',
            '--ssh-keygen',
            'ssh-keygen',
          ],
          passEnv: ['APPPROXY_SSH_AUTHORIZED_KEYS'],
          readiness: { kind: 'tcp' },
          startTimeoutMs: 15_000,
        },
      ],
    },
    {
      name: 'llm-sim',
      description:
        'Simulated OpenAI-compatible inference engine (vLLM-like queueing, batching, prefix caching, streaming, metrics, faults; no GPU).',
      services: [
        {
          name: 'api',
          protocol: 'http',
          // One process = one replica with the documented defaults; an admin defines variants
          // (other flags: --time-scale, --max-num-seqs, --fault, ...) in agent.templates with
          // ['{node}', '{appsDir}/llm-sim/server.mjs', ...] (docs/templates.md).
          command: ['{node}', appPath('llm-sim/server.mjs'), '--host', '{host}', '--port', '{port}'],
          // 503 while a --startup-delay-ms "model load" lasts, so the session turns RUNNING after it.
          readiness: { kind: 'http', path: '/health' },
          startTimeoutMs: 15_000,
        },
      ],
    },
  ];
}
