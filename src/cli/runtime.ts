/** What a CLI run talks to: output streams, environment, clock. Injected so tests run in-process. */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiClient } from '../client/api-client.ts';
import { UsageError } from './errors.ts';
import { colorEnabled, type Painter, painter } from './format.ts';

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
  cwd: string;
  fetch: typeof fetch;
  /** Tries to open a URL in a browser; resolves false when no opener is available. Never rejects. */
  openUrl: (url: string) => Promise<boolean>;
  /** How often `--wait` polls the session. */
  pollIntervalMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /**
   * Calls `handler` on Ctrl-C or SIGTERM (long-running commands such as `tunnel` stop cleanly);
   * returns a function that removes it.
   */
  onInterrupt: (handler: () => void) => () => void;
}

export const DEFAULT_URL = 'http://127.0.0.1:7070';
export const DEFAULT_DATA_DIR = './.appproxy';
export const TOKEN_FILE = 'admin-token';

export function defaultIo(overrides: Partial<CliIo> = {}): CliIo {
  const env = overrides.env ?? process.env;
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env,
    cwd: process.cwd(),
    fetch: globalThis.fetch,
    openUrl: (url) => openInBrowser(url, env),
    pollIntervalMs: 1000,
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    onInterrupt: (handler) => {
      const h = () => handler();
      process.on('SIGINT', h);
      process.on('SIGTERM', h);
      return () => {
        process.off('SIGINT', h);
        process.off('SIGTERM', h);
      };
    },
    ...overrides,
  };
}

/** Launches the platform's URL opener (xdg-open on Linux) detached; false when it is absent. */
export function openInBrowser(url: string, env: Record<string, string | undefined>): Promise<boolean> {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '""', url]]
        : ['xdg-open', [url]];
  return new Promise((resolve) => {
    try {
      const child = spawn(cmd, args, { stdio: 'ignore', detached: true, env: env as NodeJS.ProcessEnv });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}

export type TokenSource = 'flag' | 'env' | 'file' | null;

export interface Connection {
  url: string;
  token: string | null;
  tokenSource: TokenSource;
  /** Where the embedded `appproxy up` writes its admin token (read when no token is given). */
  tokenFile: string;
}

/** `--url` > APPPROXY_URL > default; `--token` > APPPROXY_TOKEN > `<data dir>/admin-token`. */
export function resolveConnection(globals: { url?: string; token?: string }, io: CliIo): Connection {
  const url = globals.url || io.env.APPPROXY_URL || DEFAULT_URL;
  const dataDir = path.resolve(io.cwd, io.env.APPPROXY_DATA_DIR || DEFAULT_DATA_DIR);
  const tokenFile = path.join(dataDir, TOKEN_FILE);
  if (globals.token) return { url, token: globals.token, tokenSource: 'flag', tokenFile };
  if (io.env.APPPROXY_TOKEN) return { url, token: io.env.APPPROXY_TOKEN, tokenSource: 'env', tokenFile };
  const fromFile = readTokenFile(tokenFile);
  return { url, token: fromFile, tokenSource: fromFile ? 'file' : null, tokenFile };
}

export function readTokenFile(file: string): string | null {
  try {
    const token = readFileSync(file, 'utf8').trim();
    return token === '' ? null : token;
  } catch {
    return null;
  }
}

/** Per-run state shared by the commands and `main` (which reads `connection` to add hints to errors). */
export class Runtime {
  readonly io: CliIo;
  readonly version: string;
  connection: Connection | null = null;
  constructor(io: CliIo, version: string) {
    this.io = io;
    this.version = version;
  }

  client(globals: { url?: string; token?: string }): ApiClient {
    const conn = resolveConnection(globals, this.io);
    this.connection = conn;
    try {
      return new ApiClient({
        url: conn.url,
        token: conn.token,
        fetch: this.io.fetch,
        userAgent: `appproxy-cli/${this.version}`,
      });
    } catch (err) {
      throw new UsageError(
        `invalid manager URL "${conn.url}" (--url or APPPROXY_URL): ${(err as Error).message}`,
      );
    }
  }

  get stdoutPainter(): Painter {
    return painter(colorEnabled(this.io.stdout, this.io.env));
  }

  get stderrPainter(): Painter {
    return painter(colorEnabled(this.io.stderr, this.io.env));
  }
}
