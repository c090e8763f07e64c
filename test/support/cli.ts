/** Test helpers: a canned-response stand-in for the manager's API, and an in-process CLI runner. */

import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { CliIo } from '../../src/cli/runtime.ts';
import type { Circuit, Session, StartServiceResult, WorkerInfo } from '../../src/contracts/records.ts';

export interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  body: unknown;
}

export type Handler = (req: Recorded) => { status?: number; body?: unknown; raw?: string } | undefined;

export class FakeManager {
  readonly requests: Recorded[] = [];
  readonly routes = new Map<string, Handler>();
  #server: Server;
  url = '';

  constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }

  /** Route key: `METHOD /path` (query string ignored). */
  on(key: string, handler: Handler | { status?: number; body?: unknown; raw?: string }): this {
    this.routes.set(key, typeof handler === 'function' ? handler : () => handler);
    return this;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const rec: Recorded = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      authorization: req.headers.authorization,
      body: text ? JSON.parse(text) : undefined,
    };
    this.requests.push(rec);
    const pathname = new URL(rec.url, 'http://x').pathname;
    const handler = this.routes.get(`${rec.method} ${pathname}`);
    const answer = handler?.(rec) ?? {
      status: 404,
      body: { code: 'AP_ERR_NOT_FOUND', message: 'No such resource.', requestId: 'req-404' },
    };
    res.statusCode = answer.status ?? 200;
    if (answer.raw !== undefined) {
      res.setHeader('content-type', 'text/html');
      res.end(answer.raw);
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const created: string[] = [];
process.once('exit', () => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

/** A fresh empty directory (removed when the test process exits). */
export function emptyDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'appproxy-cli-test-'));
  created.push(dir);
  return dir;
}

/** Runs `main` in-process with captured streams; the environment is isolated from the real one. */
export async function runCli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; io?: Partial<CliIo>; tty?: boolean } = {},
): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s), isTTY: opts.tty ?? false },
    stderr: { write: (s: string) => (stderr += s), isTTY: opts.tty ?? false },
    env: { APPPROXY_DATA_DIR: emptyDataDir(), ...opts.env },
    pollIntervalMs: 5,
    openUrl: async () => false,
    ...opts.io,
  });
  return { code, stdout, stderr };
}

export const NOW = '2025-01-01T00:00:00.000Z';

export function session(overrides: Partial<Session> = {}): Session {
  return {
    id: 'ses_1a2b',
    name: 'demo-1a2b',
    template: 'demo',
    ownerId: 'admin',
    state: 'RUNNING',
    stateReason: null,
    services: [{ name: 'web', protocol: 'http', backend: { host: '127.0.0.1', port: 41000 } }],
    idleTimeoutMs: null,
    createdAt: NOW,
    updatedAt: NOW,
    ...overrides,
  };
}

export function circuit(overrides: Partial<Circuit> = {}): Circuit {
  return {
    id: 'cir_9z',
    sessionId: 'ses_1a2b',
    endpointId: null,
    flow: 'integrated',
    service: 'web',
    protocol: 'http',
    ownerId: 'admin',
    worker: '127.0.0.1:7080',
    frontendMode: 'port',
    slot: { port: 7101 },
    appUrl: 'http://127.0.0.1:7101/',
    backends: [{ host: '127.0.0.1', port: 41000 }],
    access: null,
    idle: { connectionIdleTimeoutMs: 1_800_000, circuitIdleTimeoutMs: null },
    state: 'ACTIVE',
    stateReason: null,
    createdAt: NOW,
    closedAt: null,
    ...overrides,
  };
}

export function worker(overrides: Partial<WorkerInfo> = {}): WorkerInfo {
  return {
    authority: '127.0.0.1:7080',
    frontendMode: 'port',
    protocols: ['http', 'tcp'],
    portRange: [7100, 7199],
    wildcardDomain: null,
    publicScheme: 'http',
    publicHost: '127.0.0.1',
    publicPort: null,
    healthy: true,
    circuits: 1,
    lastSeenAt: NOW,
    ...overrides,
  };
}

export function startResult(overrides: Partial<StartServiceResult> = {}): StartServiceResult {
  return {
    circuitId: 'cir_9z',
    appUrl: 'http://127.0.0.1:7101/',
    setupUrl: 'http://127.0.0.1:7101/_appproxy/setup?token=abc.def',
    expiresAt: '2099-01-01T00:00:00.000Z',
    reused: false,
    ...overrides,
  };
}

/** A URL on 127.0.0.1 where nothing listens (a port just released). */
export async function closedPortUrl(): Promise<string> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  await once(probe, 'close');
  return `http://127.0.0.1:${port}`;
}
