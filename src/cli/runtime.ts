/** What a CLI run talks to: output streams, environment, clock. Injected so tests run in-process. */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiClient } from '../client/api-client.ts';
import { credentialsPath, readCredentials, type StoredCredentials, sameManager } from './credentials.ts';
import { UsageError } from './errors.ts';
import { colorEnabled, type Painter, painter } from './format.ts';
import { terminalPrompt } from './terminal-prompt.ts';

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** Where secrets piped in (`--password-stdin`) are read from. */
export interface InStream extends AsyncIterable<string | Buffer> {
  isTTY?: boolean;
}

export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  stdin: InStream;
  /**
   * Asks one question on the terminal and resolves with the line typed; `echo: false` hides it
   * (passwords). Only called when stdin and stderr are terminals.
   */
  prompt: (question: string, opts?: { echo?: boolean }) => Promise<string>;
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
    stdin: process.stdin,
    prompt: terminalPrompt,
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

export type TokenSource = 'flag' | 'env' | 'credentials' | 'file' | null;
export type UrlSource = 'flag' | 'env' | 'credentials' | 'default';

export interface Connection {
  url: string;
  urlSource: UrlSource;
  token: string | null;
  tokenSource: TokenSource;
  /** Where the embedded `appproxy up` writes its admin token (read when no token is given). */
  tokenFile: string;
  /** Where `appproxy login` stores credentials; null when the environment names no config folder. */
  credentialsFile: string | null;
  /** The stored credentials when they belong to the manager in use (whether or not their token is used). */
  stored: StoredCredentials | null;
  /** Stored credentials of another manager than the one in use (for hints). */
  storedElsewhere: StoredCredentials | null;
}

/**
 * The one place the CLI decides what it talks to, and as whom:
 * URL: `--url` > APPPROXY_URL > the stored credentials' > default;
 * token: `--token` > APPPROXY_TOKEN > the stored credentials (when their URL is the one in use, or
 * no URL was given) > `<data dir>/admin-token` (what `appproxy up` writes).
 */
export function resolveConnection(globals: { url?: string; token?: string }, io: CliIo): Connection {
  const credentialsFile = credentialsPath(io.env);
  const saved = credentialsFile ? readCredentials(credentialsFile) : null;
  const givenUrl = globals.url || io.env.APPPROXY_URL || null;
  const url = givenUrl ?? saved?.url ?? DEFAULT_URL;
  const urlSource: UrlSource = globals.url
    ? 'flag'
    : io.env.APPPROXY_URL
      ? 'env'
      : saved
        ? 'credentials'
        : 'default';
  const stored = saved && (givenUrl === null || sameManager(givenUrl, saved.url)) ? saved : null;
  const dataDir = path.resolve(io.cwd, io.env.APPPROXY_DATA_DIR || DEFAULT_DATA_DIR);
  const tokenFile = path.join(dataDir, TOKEN_FILE);
  const base = { url, urlSource, tokenFile, credentialsFile, stored, storedElsewhere: stored ? null : saved };
  if (globals.token) return { ...base, token: globals.token, tokenSource: 'flag' };
  if (io.env.APPPROXY_TOKEN) return { ...base, token: io.env.APPPROXY_TOKEN, tokenSource: 'env' };
  if (stored) return { ...base, token: stored.token, tokenSource: 'credentials' };
  const fromFile = readTokenFile(tokenFile);
  return { ...base, token: fromFile, tokenSource: fromFile ? 'file' : null };
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
    return this.clientFor(conn.url, conn.token);
  }

  /** A client of the manager at `url` with this token (none: the public routes only). */
  clientFor(url: string, token: string | null): ApiClient {
    try {
      return new ApiClient({
        url,
        token,
        fetch: this.io.fetch,
        userAgent: `appproxy-cli/${this.version}`,
      });
    } catch (err) {
      throw new UsageError(`invalid manager URL "${url}" (--url or APPPROXY_URL): ${(err as Error).message}`);
    }
  }

  get stdoutPainter(): Painter {
    return painter(colorEnabled(this.io.stdout, this.io.env));
  }

  get stderrPainter(): Painter {
    return painter(colorEnabled(this.io.stderr, this.io.env));
  }
}
