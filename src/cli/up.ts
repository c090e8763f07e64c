/**
 * Server commands. `up` runs the embedded all-in-one system (manager + port worker + wildcard
 * worker + local agent on the embedded stores) until Ctrl-C. `manager`, `manager migrate`,
 * `worker` and `agent` run the split processes on the shared stores (PostgreSQL, etcd, Redis);
 * their composition roots are in src/processes/. Client subcommands (`worker list`, …) are added
 * under the same `worker` command by ./commands/worker.ts.
 */
import type { Command } from 'commander';
import {
  loadAgentConfig,
  loadEmbeddedConfig,
  loadManagerConfig,
  loadWorkerConfig,
  type ProcessConfigSources,
} from '../config/load.ts';
import { AppProxyError } from '../contracts/errors.ts';
import { createLogger } from '../core/logger.ts';
import { startAgentProcess } from '../processes/agent.ts';
import { type EmbeddedSystem, startEmbedded } from '../processes/embedded.ts';
import { migrateDatabase, startManagerProcess } from '../processes/manager.ts';
import { startWorkerProcess } from '../processes/worker.ts';
import { portArg } from './args.ts';
import { CliError, UsageError } from './errors.ts';

export interface UpOptions {
  port?: number;
  dataDir?: string;
  config?: string;
  logLevel?: string;
}

export function registerServerCommands(program: Command): void {
  program
    .command('up')
    .description(
      'Run everything in one process on the embedded stores: the API, a port-mode and a wildcard-mode worker, and the local agent',
    )
    .option('-p, --port <port>', 'API port (default 7070; env APPPROXY_PORT)', portArg)
    .option('-d, --data-dir <dir>', 'data folder (default ./.appproxy; env APPPROXY_DATA_DIR)')
    .option('-c, --config <file>', 'JSON config file (env APPPROXY_CONFIG); see docs/configuration.md')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env APPPROXY_LOG_LEVEL)')
    .action((o: UpOptions) => runUp(o));

  const manager = program
    .command('manager')
    .description(
      'Run one manager (API + control loops) on PostgreSQL, etcd and Redis; run as many replicas as you like',
    )
    .option('-c, --config <file>', 'JSON config file (env APPPROXY_CONFIG); see docs/configuration.md')
    .option('-p, --port <port>', 'API port (default 7070; env APPPROXY_PORT)', portArg)
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env APPPROXY_LOG_LEVEL)')
    .option('--migrate', 'apply pending database migrations at start (else an older schema is refused)')
    .option('--init', 'create the setup-token signing key file when it is missing')
    .action((o: ProcessOptions & { migrate?: boolean; init?: boolean }) =>
      runProcess('manager', o, async (logger, say) => {
        const config = parseConfig(() => loadManagerConfig(sources(o)));
        const p = await startManagerProcess(config, {
          logger: logger(config.logLevel),
          migrate: o.migrate ?? false,
          init: o.init ?? false,
        });
        say(
          `appproxy manager: API at ${p.url} (OpenAPI at ${p.url}/openapi.json); agent ${describeAgent(config.agent)}`,
        );
        return p;
      }),
    );
  manager
    .command('migrate')
    .description(
      'apply pending database migrations (safe to run from several places: PostgreSQL advisory lock)',
    )
    .option('-c, --config <file>', 'JSON config file (env APPPROXY_CONFIG); only stores.sql is used')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env APPPROXY_LOG_LEVEL)')
    .action(async (o: ProcessOptions) => {
      const config = parseConfig(() =>
        loadManagerConfig(sources({ ...manager.opts<ProcessOptions>(), ...o })),
      );
      const logger = createLogger({ level: config.logLevel, destination: process.stderr });
      try {
        const r = await migrateDatabase(config, { logger });
        process.stdout.write(
          r.from === r.to
            ? `appproxy: the database schema is up to date (version ${r.to}).\n`
            : `appproxy: migrated the database schema from version ${r.from} to ${r.to}.\n`,
        );
      } catch (err) {
        throw startFailure('migration failed', err);
      }
    });

  program
    .command('worker')
    .description(
      'Run one worker (data plane) on etcd and Redis; `worker list|drain|undrain` are client commands',
    )
    .option('-c, --config <file>', 'JSON config file (env APPPROXY_CONFIG); see docs/configuration.md')
    .option('-p, --port <port>', 'admin port for /healthz, /readyz, /metrics (default 9100)', portArg)
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env APPPROXY_LOG_LEVEL)')
    .action((o: ProcessOptions) =>
      runProcess('worker', o, async (logger, say) => {
        const config = parseConfig(() => loadWorkerConfig(sources(o)));
        const p = await startWorkerProcess(config, { logger: logger(config.logLevel) });
        const r = p.worker.registration;
        say(
          r.frontendMode === 'port'
            ? `appproxy worker ${r.authority}: port mode, ports ${r.portRange?.[0]}-${r.portRange?.[1]} on ${r.publicHost}; admin at ${p.adminUrl}`
            : `appproxy worker ${r.authority}: wildcard mode, apps at ${r.publicScheme}://<id>.${r.wildcardDomain}:${r.publicPort ?? p.worker.wildcardPort}/; admin at ${p.adminUrl}`,
        );
        return p;
      }),
    );

  program
    .command('agent')
    .description(
      'Run the agent: sessions as local processes from templates, driven by the managers through etcd',
    )
    .option('-c, --config <file>', 'JSON config file (env APPPROXY_CONFIG); see docs/configuration.md')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env APPPROXY_LOG_LEVEL)')
    .action((o: ProcessOptions) =>
      runProcess('agent', o, async (logger, say) => {
        const config = parseConfig(() => loadAgentConfig(sources(o)));
        const p = await startAgentProcess(config, { logger: logger(config.logLevel) });
        say(
          `appproxy agent ${config.name}: templates ${p.agent
            .templates()
            .map((t) => (t.available ? t.name : `${t.name} (unavailable)`))
            .join(', ')}`,
        );
        return p;
      }),
    );
}

interface ProcessOptions {
  config?: string;
  port?: number;
  logLevel?: string;
}

function sources(o: ProcessOptions): ProcessConfigSources {
  return { file: o.config, flags: { port: o.port, logLevel: o.logLevel } };
}

function parseConfig<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function describeAgent(a: { kind: 'remote' | 'local'; name: string }): string {
  return a.kind === 'remote' ? `"${a.name}" (remote, over etcd)` : `"${a.name}" (local, in this process)`;
}

function startFailure(what: string, err: unknown): CliError {
  const code = err instanceof AppProxyError ? ` [${err.code}]` : '';
  const e = err as NodeJS.ErrnoException;
  const hint = e.code === 'EADDRINUSE' ? ' (another process holds the port)' : '';
  return new CliError(`${what}: ${e.message}${code}${hint}`);
}

/**
 * Starts a split process and runs it until SIGINT/SIGTERM. Logs are JSON lines on stderr; one
 * status line goes to stdout. A second signal exits at once.
 */
async function runProcess(
  kind: string,
  _o: ProcessOptions,
  start: (
    logger: (level: string) => ReturnType<typeof createLogger>,
    say: (s: string) => void,
  ) => Promise<{ close(): Promise<void> }>,
): Promise<void> {
  const say = (s: string) => process.stdout.write(`${s}\n`);
  let logger: ReturnType<typeof createLogger> | undefined;
  const makeLogger = (level: string) => {
    logger = createLogger({ level, destination: process.stderr, name: `appproxy-${kind}` });
    return logger;
  };
  let p: { close(): Promise<void> };
  try {
    p = await start(makeLogger, say);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw startFailure(`could not start the ${kind}`, err);
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) {
        say(`appproxy ${kind}: ${sig} again; exiting now`);
        process.exit(130);
      }
      stopping = true;
      say(`appproxy ${kind}: ${sig} received; stopping…`);
      p.close().then(resolve, (err) => {
        logger?.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  say(`appproxy ${kind}: stopped.`);
}

function banner(system: EmbeddedSystem): string {
  const tokenNote = system.adminTokenGenerated ? `  (generated; kept in ${system.dataDir}/admin-token)` : '';
  return [
    '',
    'AppProxy is up.',
    `  API:         ${system.managerUrl}  (OpenAPI at ${system.managerUrl}/openapi.json)`,
    `  web console: ${system.managerUrl}/  (to sign in: npx appproxy user create <name> [--role admin] --password-stdin)`,
    `  admin token: ${system.adminToken}${tokenNote}`,
    ...system.workers.map((w) => {
      const r = w.registration;
      return r.frontendMode === 'port'
        ? `  worker ${r.authority}: port mode, one port per app in ${r.portRange?.[0]}-${r.portRange?.[1]} on ${r.publicHost}`
        : `  worker ${r.authority}: wildcard mode, apps at ${r.publicScheme}://<id>.${r.wildcardDomain}:${r.publicPort ?? w.wildcardPort}/`;
    }),
    `  data:        ${system.dataDir}`,
    '',
    'Try, in another terminal:',
    `  export APPPROXY_URL=${system.managerUrl} APPPROXY_TOKEN=${system.adminToken}`,
    '  npx appproxy session create demo --wait',
    '  npx appproxy app open <session name> web',
    '',
    'Press Ctrl-C to stop.',
  ].join('\n');
}

/** Runs until SIGINT/SIGTERM. Bad configuration is a usage error (exit 2); a failed start exits 1. */
export async function runUp(o: UpOptions): Promise<void> {
  let config: ReturnType<typeof loadEmbeddedConfig>;
  try {
    config = loadEmbeddedConfig({
      file: o.config,
      flags: { port: o.port, dataDir: o.dataDir, logLevel: o.logLevel },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // Logs go to stderr as JSON lines; the banner goes to stdout.
  const logger = createLogger({ level: config.logLevel, destination: process.stderr });
  const say = (s: string) => process.stdout.write(`${s}\n`);
  let system: EmbeddedSystem;
  try {
    system = await startEmbedded(config, { logger, onProgress: (step) => say(`appproxy: ${step}…`) });
  } catch (err) {
    const code = err instanceof AppProxyError ? ` [${err.code}]` : '';
    const e = err as NodeJS.ErrnoException;
    const hint =
      e.code === 'EADDRINUSE'
        ? ' (another process holds the port; choose another with --port or the config)'
        : '';
    throw new CliError(`could not start: ${e.message}${code}${hint}`);
  }
  say(banner(system));

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) {
        say(`appproxy: ${sig} again; exiting now`);
        process.exit(130);
      }
      stopping = true;
      say(`appproxy: ${sig} received; stopping (session processes and listeners close with it)…`);
      system.close().then(resolve, (err) => {
        logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  say('appproxy: stopped.');
}
