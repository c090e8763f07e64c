/**
 * What the deployment tests check the artifacts in deploy/ and the Dockerfile against: the real
 * command line (commander definitions), the config loaders, the health endpoints the processes
 * serve and the environment variables the sources read.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { buildProgram } from '../../../src/cli/main.ts';
import { defaultIo, Runtime } from '../../../src/cli/runtime.ts';
import { VERSION } from '../../../src/cli/version.ts';
import { loadAgentConfig, loadManagerConfig, loadWorkerConfig } from '../../../src/config/load.ts';
import type { AgentConfig, ManagerConfig, WorkerConfig } from '../../../src/config/schema.ts';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const readRepo = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

export const packageJson = JSON.parse(readRepo('package.json')) as {
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** The server commands a deployment runs, by their command path. */
export type ProcessKind = 'manager' | 'manager migrate' | 'worker' | 'agent';

export interface CliInvocation {
  /** The command path, e.g. ['manager', 'migrate']. */
  path: string[];
  /** Option values by commander attribute name (`config`, `port`, `logLevel`, …), parsed. */
  options: Record<string, unknown>;
}

/**
 * Resolves `argv` (what follows the `appproxy` executable) against the CLI's own commander
 * definition: every command word must name a command and every flag an option of that command,
 * with a value where the option takes one. Throws with the reason otherwise.
 */
export function resolveCli(argv: readonly string[]): CliInvocation {
  let cmd: Command = buildProgram(new Runtime(defaultIo({}), VERSION));
  const path: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word.startsWith('-')) break;
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) {
      throw new Error(`\`appproxy ${[...path, word].join(' ')}\`: no such command`);
    }
    cmd = sub;
    path.push(word);
  }
  if (path.length === 0) throw new Error(`\`appproxy ${argv.join(' ')}\`: no command`);
  const options: Record<string, unknown> = {};
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-')) {
      throw new Error(`\`appproxy ${path.join(' ')}\` takes no argument "${arg}"`);
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const opt = cmd.options.find((o) => o.long === flag || o.short === flag);
    if (!opt) throw new Error(`\`appproxy ${path.join(' ')}\` has no option ${flag}`);
    if (opt.required || opt.optional) {
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined)
        throw new Error(`option ${flag} of \`appproxy ${path.join(' ')}\` needs a value`);
      options[opt.attributeName()] = opt.parseArg ? opt.parseArg(value, undefined) : value;
    } else {
      options[opt.attributeName()] = true;
    }
  }
  return { path, options };
}

export type ProcessConfig =
  | { kind: 'manager' | 'manager migrate'; config: ManagerConfig }
  | { kind: 'worker'; config: WorkerConfig }
  | { kind: 'agent'; config: AgentConfig };

/**
 * Loads a process's config the way the CLI does for `invocation`: the JSON text (what the file
 * named by --config holds), then the environment, then the flags; validated by the project's
 * own loaders (unknown keys and bad values are errors).
 */
export function loadConfigFor(
  invocation: CliInvocation,
  json: string,
  env: Record<string, string> = {},
): ProcessConfig {
  const dir = mkdtempSync(join(tmpdir(), 'appproxy-deploy-'));
  try {
    const file = join(dir, 'config.json');
    writeFileSync(file, json);
    const o = invocation.options as { port?: number; logLevel?: string };
    const src = { file, env, flags: { port: o.port, logLevel: o.logLevel } };
    const kind = invocation.path.join(' ');
    switch (kind) {
      case 'manager':
      case 'manager migrate':
        return { kind, config: loadManagerConfig(src) };
      case 'worker':
        return { kind, config: loadWorkerConfig(src) };
      case 'agent':
        return { kind, config: loadAgentConfig(src) };
      default:
        throw new Error(`\`appproxy ${kind}\` is not a process a deployment runs`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The HTTP paths each process serves for probes, read from the code that serves them: the
 * manager's health routes and the worker process's admin listener. The agent serves none.
 */
export function servedHealthPaths(): { manager: Set<string>; worker: Set<string> } {
  const manager = new Set(
    [...readRepo('src/manager/http/health.ts').matchAll(/app\.get\(\s*'([^']+)'/g)].map(
      (m) => m[1] as string,
    ),
  );
  const worker = new Set(
    [...readRepo('src/processes/worker.ts').matchAll(/path === '([^']+)'/g)].map((m) => m[1] as string),
  );
  return { manager, worker };
}

/** The port and address the process's probes must reach, from its loaded config. */
export function probeTarget(p: ProcessConfig): { host: string; port: number; paths: Set<string> } | null {
  const served = servedHealthPaths();
  switch (p.kind) {
    case 'manager':
      return { host: p.config.listen.host, port: p.config.listen.port, paths: served.manager };
    case 'worker':
      return { host: p.config.admin.host, port: p.config.admin.port, paths: served.worker };
    default:
      return null;
  }
}

/** Every TCP port the process listens on, per its config. */
export function listeningPorts(p: ProcessConfig): number[] {
  switch (p.kind) {
    case 'manager':
      return [p.config.listen.port];
    case 'worker': {
      const c = p.config;
      const own =
        c.frontendMode === 'port'
          ? Array.from({ length: c.portRange[1] - c.portRange[0] + 1 }, (_, k) => c.portRange[0] + k)
          : [c.port];
      return [c.admin.port, ...own];
    }
    default:
      return [];
  }
}

export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || host.startsWith('127.');

let sourceText: string | undefined;

/** Whether the sources under src/ name this environment variable (so a misspelling fails). */
export function sourcesMention(name: string): boolean {
  if (sourceText === undefined) {
    const parts: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const p = `${dir}/${e.name}`;
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts')) parts.push(readRepo(p));
      }
    };
    walk('src');
    sourceText = parts.join('\n');
  }
  return new RegExp(`\\b${name}\\b`).test(sourceText);
}

/** Environment variables that carry secrets: never a literal value in a manifest or unit. */
export const isSecretEnv = (name: string): boolean =>
  /(TOKEN|SECRET|PASSWORD)$/.test(name) || name === 'PGPASSWORD';
