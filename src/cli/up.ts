/**
 * Server commands. `up` runs the embedded all-in-one system (manager + port worker + wildcard
 * worker + local agent on the embedded stores) until Ctrl-C. Split `manager`/`worker`/`agent`
 * processes need the shared stores (PostgreSQL, etcd, Redis) and come with those adapters.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { loadEmbeddedConfig } from '../config/load.ts';
import { AppProxyError } from '../contracts/errors.ts';
import { createLogger } from '../core/logger.ts';
import { type EmbeddedSystem, startEmbedded } from '../embedded.ts';
import { CliError, UsageError } from './errors.ts';

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

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
    .option('-p, --port <port>', 'API port (default 7070; env APPPROXY_PORT)', parsePort)
    .option('-d, --data-dir <dir>', 'data folder (default ./.appproxy; env APPPROXY_DATA_DIR)')
    .option('-c, --config <file>', 'JSON config file (env APPPROXY_CONFIG); see docs/configuration.md')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env APPPROXY_LOG_LEVEL)')
    .action((o: UpOptions) => runUp(o));
}

function banner(system: EmbeddedSystem): string {
  const tokenNote = system.adminTokenGenerated ? `  (generated; kept in ${system.dataDir}/admin-token)` : '';
  return [
    '',
    'AppProxy is up.',
    `  API:         ${system.managerUrl}  (OpenAPI at ${system.managerUrl}/openapi.json)`,
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
